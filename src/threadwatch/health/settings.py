"""What health is judged by: the rules (thresholds), the program's process-pool rule, runs.

``HealthConfig`` is what a health window reads; the assembled configuration satisfies it, and
health code never sees any other setting.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any, Protocol

from pydantic import (
    BeforeValidator,
    Field,
    PlainSerializer,
    ValidationInfo,
    field_validator,
    model_validator,
)

from threadwatch.health.levels import Level
from threadwatch.health.metrics import COUNT_KEYS, RATE_KEYS, CountKey, RateKey
from threadwatch.settings import DAY, Settings


def _raised(value: Any) -> Any:
    if isinstance(value, Level) and value in (Level.YELLOW, Level.RED):
        return value
    if value in ("yellow", "red"):
        return Level[str(value).upper()]
    raise ValueError("a level is 'yellow' or 'red'")


# A level a rule raises: "yellow" or "red" in TOML, ``Level.YELLOW``/``Level.RED`` in code.
RaisedLevel = Annotated[Level, BeforeValidator(_raised), PlainSerializer(lambda level: level.label)]

_OPERATORS = {"above": ">", "at_least": ">=", "at_most": "<=", "below": "<"}


class InferenceConfig(Settings):
    """The program's rules the counts follow (``[inference]``)."""

    process_min_batch: int = Field(4, ge=1, le=1_000_000)
    overload_split_threads: int = Field(60, ge=40, le=100_000)


class RunsConfig(Settings):
    """How runs of the program are judged over time."""

    stall_seconds: float = Field(120.0, gt=0, le=DAY)


_NAME = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")


def derived_name(data: Mapping[str, Any]) -> str | None:
    """The name of a rule given without one: its metric and level in kebab-case
    (``overload-red``), or None when it has no metric or level to name it by."""
    metric, level = data.get("rate") or data.get("count"), data.get("level")
    label = level.label if isinstance(level, Level) else level
    if not isinstance(metric, str) or not isinstance(label, str):
        return None
    return f"{metric}-{label}".replace("_", "-").lower()


class Rule(Settings):
    """One threshold: a rate or a count, one comparison, the level it raises.

    ``name`` (kebab-case) is how a configuration changes or disables the rule and how its
    reasons are shown; a rule built without one is named after its metric and level.
    ``hold_seconds`` is how long its reason must hold before the scope's alert fires (None:
    ``[alerts] hold_seconds``). A rule with ``enabled = false`` never fires.
    """

    name: str = ""
    enabled: bool = True
    level: RaisedLevel
    rate: RateKey | None = None
    count: CountKey | None = None
    above: float | None = None
    at_least: float | None = None
    at_most: float | None = None
    below: float | None = None
    why: str = ""
    hold_seconds: float | None = Field(None, ge=0, le=DAY)

    @model_validator(mode="before")
    @classmethod
    def _known_metric(cls, data: Any) -> Any:
        # one line naming the keys, for the rule (not pydantic's list of every literal)
        if isinstance(data, dict):
            rate, count = data.get("rate"), data.get("count")
            if isinstance(rate, str) and rate not in RATE_KEYS:
                raise ValueError(f"unknown rate {rate!r}; known: {', '.join(RATE_KEYS)}")
            if isinstance(count, str) and count not in COUNT_KEYS:
                raise ValueError(f"unknown count {count!r}; known: {', '.join(COUNT_KEYS)}")
            if not data.get("name"):
                data = {**data, "name": derived_name(data) or ""}
        return data

    @field_validator("name")
    @classmethod
    def _kebab_case(cls, name: str) -> str:
        if name and not _NAME.fullmatch(name):
            raise ValueError(
                f"{name!r}: a rule name is kebab-case, lower-case letters and digits joined by"
                " '-' (e.g. overload-red)")
        return name

    @model_validator(mode="after")
    def _one_metric_one_comparison(self) -> Rule:
        if (self.rate is None) == (self.count is None):
            raise ValueError("give exactly one of 'rate' or 'count'")
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


class HealthConfig(Protocol):
    """The settings a health window reads."""

    @property
    def rules(self) -> tuple[Rule, ...]: ...

    @property
    def inference(self) -> InferenceConfig: ...

    @property
    def runs(self) -> RunsConfig: ...
