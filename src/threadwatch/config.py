"""Configuration: each stage's settings assembled into one, loaded from TOML and validated at
the boundary.

Each stage declares its own settings beside its code (``parse/settings.py``,
``health/settings.py``, ``sources/settings.py``, ``alerts/settings.py``) and takes only those;
this module, above every stage, puts them together (``Config``) and reads the file.

The defaults live in ``default_config.toml`` (shipped in the package; ``config/threadwatch.toml``
in the repository is the same file). A user's file is read *over* the defaults: tables are
merged key by key, and ``[[rules]]`` entries change, disable or add rules by name
(``health/ruleset.py``), or replace the default rules with ``replace_default_rules = true``.

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
from pydantic import ValidationError, field_validator

from threadwatch.alerts.settings import AlertsConfig
from threadwatch.alerts.sinks.registry import sink_types
from threadwatch.errors import ConfigError
from threadwatch.health.ruleset import merge_rules
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
    # the file's [[rules]] are the whole rule set (as before rules had names)
    replace_default_rules: bool = False
    rules: tuple[Rule, ...] = ()

    @field_validator("rules")
    @classmethod
    def _names_differ(cls, rules: tuple[Rule, ...]) -> tuple[Rule, ...]:
        seen: set[str] = set()
        for rule in rules:
            if rule.name in seen:
                raise ValueError(f"two rules named {rule.name!r}: give each a name of its own")
            seen.add(rule.name)
        return rules


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


def _validate(path: str, data: dict[str, Any], rule_origin: list[int | None] | None = None,
              more: list[tuple[str, str]] | None = None) -> Config:
    """The configuration of ``data``; ``rule_origin`` maps a rule's place to the file's entry
    it came from (problems name that one), ``more`` are problems found before."""
    problems: list[tuple[str | None, str]] = list(more or ())
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        problems[:0] = [(_key(error["loc"], rule_origin), _problem(error["msg"]))
                        for error in exc.errors()]
        problems.sort(key=_in_file_order)
        raise ConfigError(path, *problems[0], more=problems[1:]) from exc
    if problems:
        raise ConfigError(path, *problems[0], more=problems[1:])
    return config


def _in_file_order(problem: tuple[str | None, str]) -> tuple[int, int]:
    # the rules' problems last (as the rules come last), by the file's [[rules]] entry
    parts = (problem[0] or "").split(".")
    if parts[0] != "rules":
        return (0, 0)
    return (1, int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else -1)


def _key(loc: tuple[int | str, ...], rule_origin: list[int | None] | None = None) -> str | None:
    parts = [str(part) for part in loc]
    if (rule_origin is not None and len(loc) > 1 and loc[0] == "rules"
            and isinstance(loc[1], int) and loc[1] < len(rule_origin)):
        parts[1] = str(rule_origin[loc[1]] if rule_origin[loc[1]] is not None else loc[1])
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
    given = _read_toml(name, text)
    data = _merge(defaults, given)
    rules = given.get("rules", [] if given.get("replace_default_rules") is True else None)
    if not isinstance(rules, list):
        return _validate(name, data)  # no [[rules]]: the defaults; not a list: the model says
    merged = merge_rules(defaults["rules"], rules,
                         replace=given.get("replace_default_rules") is True)
    data["rules"] = merged.entries
    return _validate(name, data, merged.origin, merged.problems)


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
