"""Configuration: each stage's settings assembled into one, loaded from TOML and validated at
the boundary.

Each stage declares its own settings beside its code (``parse/settings.py``,
``health/settings.py``, ``sources/settings.py``, ``alerts/settings.py``) and takes only those;
this module, above every stage, puts them together (``Config``) and reads the file.

The defaults live in ``default_config.toml`` (shipped in the package; ``config/threadwatch.toml``
in the repository is the same file). A user's file is read *over* the defaults: tables are
merged key by key, and a ``rules`` list, when given, replaces the default rules.

Every value is checked before anything runs: numbers are finite (no ``inf``, no ``nan``) and
within the range documented next to each key in ``default_config.toml`` (durations more than 0
where 0 means nothing, and at most a day or a week), rate thresholds are fractions from 0 to 1,
count thresholds whole numbers. Every problem of a file is reported at once, one line each.
"""

from __future__ import annotations

import re
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

import tomli_w
from pydantic import ValidationError

from threadwatch.alerts.settings import AlertsConfig
from threadwatch.alerts.sinks.registry import sink_types
from threadwatch.errors import ConfigError
from threadwatch.health.settings import InferenceConfig, Rule, RunsConfig
from threadwatch.parse.settings import ParseConfig
from threadwatch.settings import Settings
from threadwatch.sources.settings import SourcesConfig, TailConfig

__all__ = ["Config", "default_config_text", "load_config", "show_config"]


class Config(Settings):
    """The whole configuration."""

    inference: InferenceConfig = InferenceConfig()
    parse: ParseConfig = ParseConfig()
    sources: SourcesConfig = SourcesConfig()
    runs: RunsConfig = RunsConfig()
    tail: TailConfig = TailConfig()
    alerts: AlertsConfig = AlertsConfig()
    rules: tuple[Rule, ...] = ()


def _read_toml(path: str, text: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(path, None, f"not valid TOML ({exc})") from exc


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _validate(path: str, data: dict[str, Any]) -> Config:
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        problems = [(_key(error["loc"]), _problem(error["msg"])) for error in exc.errors()]
        raise ConfigError(path, *problems[0], more=problems[1:]) from exc


def _key(loc: tuple[int | str, ...]) -> str | None:
    parts = [str(part) for part in loc]
    # a sink's type is pydantic's union tag in the location (alerts.sinks.NAME.TYPE.key):
    # the user wrote alerts.sinks.NAME.key
    if parts[:2] == ["alerts", "sinks"] and len(parts) > 4 and parts[3] in sink_types():
        del parts[3]
    return ".".join(parts) or None


def _problem(message: str) -> str:
    return message.removeprefix("Value error, ")


def default_config_text() -> str:
    """The bundled default configuration, as TOML text."""
    return resources.files("threadwatch").joinpath("default_config.toml").read_text("utf-8")


def load_config(path: str | Path | None = None) -> Config:
    """Load the defaults, then ``path`` (if given) over them.

    Raises:
        ConfigError: the file is missing, unreadable, not TOML, or has a wrong key or value.
    """
    defaults = _read_toml("<default config>", default_config_text())
    if path is None:
        return _validate("<default config>", defaults)
    name = str(path)
    try:
        text = Path(path).read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(name, None, f"cannot read it ({exc})") from exc
    return _validate(name, _merge(defaults, _read_toml(name, text)))


_SECRET_KEYS = frozenset({"url", "secret"})
_REFERENCE = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*\}")


def show_config(config: Config) -> str:
    """The effective configuration as TOML, defaults included, that ``load_config`` reads back
    as the same configuration. A sink's ``url`` or ``secret`` written as a ``${VARIABLE}``
    reference is shown as written; one written out is shown as ``<hidden>``."""
    data = config.model_dump(mode="json", exclude_none=True)
    for sink in data.get("alerts", {}).get("sinks", {}).values():
        for key in _SECRET_KEYS & sink.keys():
            if not _REFERENCE.fullmatch(str(sink[key])):
                sink[key] = "<hidden>"
    return tomli_w.dumps(data)
