"""Configuration: pydantic models, loaded from TOML and validated at the boundary.

The defaults live in ``default_config.toml`` (shipped in the package; ``config/threadwatch.toml``
in the repository is the same file). A user's file is read *over* the defaults: tables are
merged key by key, and a ``rules`` list, when given, replaces the default rules.
"""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from threadwatch.alerts.settings import AlertsConfig
from threadwatch.errors import ConfigError
from threadwatch.health.metrics import COUNT_KEYS, RATE_KEYS
from threadwatch.parse.patterns import DEFAULT_PROGRAM_FILES

Level = Literal["yellow", "red"]
_OPERATORS = {"above": ">", "at_least": ">=", "at_most": "<=", "below": "<"}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class InferenceConfig(_Model):
    process_min_batch: int = Field(4, ge=1)


class ParseConfig(_Model):
    program_files: tuple[str, ...] = DEFAULT_PROGRAM_FILES
    max_line_bytes: int = Field(1 << 20, ge=1024)


class SourcesConfig(_Model):
    include: tuple[str, ...] = (
        "*.log", "*.log.[0-9]*", "*.log-[0-9]*", "*.err", "*.err.[0-9]*", "*.err-[0-9]*",
    )
    exclude: tuple[str, ...] = ()


class RunsConfig(_Model):
    """How runs of the program are judged over time."""

    stall_seconds: float = Field(120.0, gt=0)


class TailConfig(_Model):
    """``threadwatch tail`` settings (owned by the tail feature)."""

    window_seconds: float = Field(900.0, gt=0)
    bucket_seconds: float = Field(10.0, gt=0)
    flush_seconds: float = Field(2.0, gt=0)
    poll_seconds: float = Field(1.0, gt=0)
    refresh_seconds: float = Field(0.5, gt=0)
    sweep_seconds: float = Field(10.0, gt=0)
    release_seconds: float = Field(30.0, ge=0)
    close_idle_seconds: float = Field(60.0, ge=0)
    max_open_files: int = Field(256, ge=1)

    @model_validator(mode="after")
    def _bucket_fits_the_window(self) -> TailConfig:
        # a bucket longer than the window expires whole at once: tail would see nothing
        if self.bucket_seconds > self.window_seconds:
            raise ValueError(
                f"bucket_seconds ({self.bucket_seconds:g}) must not exceed "
                f"window_seconds ({self.window_seconds:g})"
            )
        return self


class Rule(_Model):
    """One threshold: a rate or a count, one comparison, the level it raises."""

    level: Level
    rate: str | None = None
    count: str | None = None
    above: float | None = None
    at_least: float | None = None
    at_most: float | None = None
    below: float | None = None
    why: str = ""

    @model_validator(mode="after")
    def _one_metric_one_comparison(self) -> Rule:
        if (self.rate is None) == (self.count is None):
            raise ValueError("give exactly one of 'rate' or 'count'")
        if self.rate is not None and self.rate not in RATE_KEYS:
            raise ValueError(f"unknown rate {self.rate!r}; known: {', '.join(RATE_KEYS)}")
        if self.count is not None and self.count not in COUNT_KEYS:
            raise ValueError(f"unknown count {self.count!r}; known: {', '.join(COUNT_KEYS)}")
        given = [name for name in _OPERATORS if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of {', '.join(_OPERATORS)}")
        return self

    @property
    def metric(self) -> str:
        return self.rate if self.rate is not None else self.count  # type: ignore[return-value]

    @property
    def is_rate(self) -> bool:
        return self.rate is not None

    @property
    def comparison(self) -> tuple[str, float]:
        """The operator (``>``, ``>=``, ``<=``, ``<``) and the threshold."""
        for name, operator in _OPERATORS.items():
            value = getattr(self, name)
            if value is not None:
                return operator, float(value)
        raise AssertionError("validated to have one comparison")


class Config(_Model):
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
        error = exc.errors()[0]
        key = ".".join(str(part) for part in error["loc"]) or None
        raise ConfigError(path, key, error["msg"]) from exc


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
