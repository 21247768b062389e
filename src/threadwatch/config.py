"""Configuration: pydantic models, loaded from TOML and validated at the boundary.

The defaults live in ``default_config.toml`` (shipped in the package; ``config/threadwatch.toml``
in the repository is the same file). A user's file is read *over* the defaults: tables are
merged key by key, and a ``rules`` list, when given, replaces the default rules.

Every value is checked before anything runs: numbers are finite (no ``inf``, no ``nan``) and
within the range documented next to each key in ``default_config.toml`` (durations more than 0
where 0 means nothing, and at most a day or a week), rate thresholds are fractions from 0 to 1,
count thresholds whole numbers. Every problem of a file is reported at once, one line each.
"""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from threadwatch.alerts.settings import SINK_TYPES, AlertsConfig
from threadwatch.errors import ConfigError
from threadwatch.health.metrics import COUNT_KEYS, RATE_KEYS
from threadwatch.parse.patterns import DEFAULT_PROGRAM_FILES

Level = Literal["yellow", "red"]
_OPERATORS = {"above": ">", "at_least": ">=", "at_most": "<=", "below": "<"}

HOUR = 3600.0
DAY = 86400.0
# A scope's window counts are summed over its buckets at every evaluation: more than this many
# buckets per window costs time and memory for no visible gain.
MAX_BUCKETS_PER_WINDOW = 1000


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class InferenceConfig(_Model):
    process_min_batch: int = Field(4, ge=1, le=1_000_000)


class ParseConfig(_Model):
    program_files: tuple[str, ...] = DEFAULT_PROGRAM_FILES
    max_line_bytes: int = Field(1 << 20, ge=1024, le=1 << 30)


class SourcesConfig(_Model):
    include: tuple[str, ...] = (
        "*.log", "*.log.[0-9]*", "*.log-[0-9]*", "*.err", "*.err.[0-9]*", "*.err-[0-9]*",
    )
    exclude: tuple[str, ...] = ()


class RunsConfig(_Model):
    """How runs of the program are judged over time."""

    stall_seconds: float = Field(120.0, gt=0, le=DAY)


class TailConfig(_Model):
    """``threadwatch tail`` settings (owned by the tail feature)."""

    window_seconds: float = Field(900.0, gt=0, le=DAY)
    bucket_seconds: float = Field(10.0, ge=0.1)  # and at most window_seconds (below)
    flush_seconds: float = Field(2.0, gt=0, le=HOUR)
    # the loop's timers: too short a period would keep a CPU busy for nothing
    poll_seconds: float = Field(1.0, ge=0.01, le=60)
    refresh_seconds: float = Field(0.5, ge=0.05, le=60)
    sweep_seconds: float = Field(10.0, ge=0.1, le=HOUR)
    release_seconds: float = Field(30.0, ge=0, le=DAY)
    close_idle_seconds: float = Field(60.0, ge=0, le=DAY)
    max_open_files: int = Field(256, ge=1, le=65536)

    @model_validator(mode="after")
    def _bucket_fits_the_window(self) -> TailConfig:
        # a bucket longer than the window expires whole at once: tail would see nothing
        if self.bucket_seconds > self.window_seconds:
            raise ValueError(
                f"bucket_seconds ({self.bucket_seconds:g}) must not exceed "
                f"window_seconds ({self.window_seconds:g})"
            )
        if self.window_seconds / self.bucket_seconds > MAX_BUCKETS_PER_WINDOW:
            raise ValueError(
                f"window_seconds / bucket_seconds ({self.window_seconds:g} / "
                f"{self.bucket_seconds:g}) must be at most {MAX_BUCKETS_PER_WINDOW}: "
                f"make bucket_seconds at least {self.window_seconds / MAX_BUCKETS_PER_WINDOW:g}"
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

    @field_validator(*_OPERATORS)
    @classmethod
    def _threshold_in_range(cls, threshold: float | None, info: ValidationInfo) -> float | None:
        # ``rate`` and ``count`` come first in the model: validated already when given
        is_rate = info.data.get("rate") is not None
        if threshold is None or is_rate == (info.data.get("count") is not None):
            return threshold  # not one metric: the model's check says so
        problem = _rate_problem(threshold) if is_rate else _count_problem(threshold)
        if problem:
            raise ValueError(problem)
        return threshold

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


def _rate_problem(threshold: float) -> str | None:
    if 0 <= threshold <= 1:
        return None
    if 1 < threshold <= 100:
        return f"{threshold:g} looks like a percentage: write {threshold / 100:g}"
    return "a rate is a fraction from 0 to 1"


def _count_problem(threshold: float) -> str | None:
    if threshold >= 0 and threshold.is_integer():
        return None
    return "a count threshold is a whole number, 0 or more"


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
        problems = [(_key(error["loc"]), _problem(error["msg"])) for error in exc.errors()]
        raise ConfigError(path, *problems[0], more=problems[1:]) from exc


def _key(loc: tuple[int | str, ...]) -> str | None:
    parts = [str(part) for part in loc]
    # a sink's type is pydantic's union tag in the location (alerts.sinks.NAME.TYPE.key):
    # the user wrote alerts.sinks.NAME.key
    if parts[:2] == ["alerts", "sinks"] and len(parts) > 4 and parts[3] in SINK_TYPES:
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
