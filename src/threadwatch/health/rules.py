"""Counts and rates → a level with its reasons (the rules of ``default_config.toml``).

Rate rules apply only where there are batches. A scope with no batches is judged by its count
rules alone, and is *unknown* when none of them fires: nothing was seen to judge.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from threadwatch.health.levels import Level
from threadwatch.health.metrics import CountKey, RateKey
from threadwatch.health.settings import Rule


@dataclass(frozen=True)
class Reason:
    """Why a level was raised: which metric, its value, the rule's comparison, the rule's name
    and its own hold time (None: the alerts' ``hold_seconds``)."""

    level: Level
    metric: str
    is_rate: bool
    value: float
    operator: str
    threshold: float
    why: str
    rule: str = ""
    hold_seconds: float | None = None

    def describe(self) -> str:
        """One human line, e.g. ``overload rate 62.0 % > 50.0 %``."""
        if self.is_rate:
            return f"{self.metric} rate {self.value:.1%} {self.operator} {self.threshold:.1%}"
        return f"{self.metric} {self.value:g} {self.operator} {self.threshold:g}"

    def as_dict(self) -> dict[str, object]:
        return {
            "level": self.level.label,
            "metric": self.metric,
            "kind": "rate" if self.is_rate else "count",
            "value": self.value,
            "operator": self.operator,
            "threshold": self.threshold,
            "why": self.why,
            "rule": self.rule,
        }


@dataclass(frozen=True)
class Verdict:
    """A level and the reasons for it (worst first)."""

    level: Level
    reasons: tuple[Reason, ...]


_COMPARE: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<=": operator.le,
    "<": operator.lt,
}


def judge(
    counts: Mapping[CountKey, int], rates: Mapping[RateKey, float | None], rules: Sequence[Rule]
) -> Verdict:
    """Apply every enabled rule; the level is the worst fired, green if none, unknown if
    nothing seen."""
    reasons: list[Reason] = []
    has_batches = counts.get("batches", 0) > 0
    for rule in rules:
        if not rule.enabled:
            continue
        if rule.rate is not None:
            rate = rates.get(rule.rate)
            if not has_batches or rate is None:
                continue
            value: float = rate
        elif rule.count is not None:
            value = counts[rule.count]
        else:
            raise AssertionError("validated to have a rate or a count")
        op, threshold = rule.comparison
        if _COMPARE[op](value, threshold):
            reasons.append(
                Reason(rule.level, rule.metric, rule.is_rate, value, op, threshold, rule.why,
                       rule.name, rule.hold_seconds)
            )
    reasons.sort(key=lambda reason: -reason.level)
    if reasons:
        return Verdict(reasons[0].level, tuple(reasons))
    return Verdict(Level.GREEN if has_batches else Level.UNKNOWN, ())
