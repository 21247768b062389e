"""A scope's judged health: its counts, rates and verdict (a source, or the total)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from threadwatch.health.metrics import Counts, Rates, rates_of
from threadwatch.health.rules import Verdict, judge
from threadwatch.health.settings import Rule

TOTAL = "total"


@dataclass(frozen=True)
class ScopeReport:
    """The counts, rates and verdict of one scope: a source path, or ``total``."""

    scope: str
    counts: Counts
    rates: Rates
    verdict: Verdict
    # plain words a reader needs beside the numbers (why unknown, which run was cut off)
    notes: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """The JSON form (README, "JSON output")."""
        return {
            "path": self.scope,
            "level": self.verdict.level.label,
            "reasons": [reason.as_dict() for reason in self.verdict.reasons],
            "counts": self.counts,
            "rates": self.rates,
            "notes": list(self.notes),
        }


def judge_scope(
    scope: str, counts: Counts, rules: Sequence[Rule], notes: Sequence[str] = ()
) -> ScopeReport:
    """Rates and verdict for one scope's counts."""
    rates = rates_of(counts)
    return ScopeReport(scope, counts, rates, judge(counts, rates, rules), tuple(notes))
