"""``threadwatch report``'s library half: paths → per-source and total verdicts.

The total is judged on the summed counts of all sources, not as the worst source (BRIEF §4).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from threadwatch.config import Config
from threadwatch.errors import NothingReadError
from threadwatch.health.metrics import COUNT_KEYS, add_counts
from threadwatch.health.scope import TOTAL, ScopeReport, judge_scope
from threadwatch.scan import scan_paths
from threadwatch.sources.files import expand_paths

JSON_SCHEMA_VERSION = 1


@dataclass(frozen=True)
class Report:
    """A one-shot verdict over some paths."""

    total: ScopeReport
    sources: tuple[ScopeReport, ...]
    problems: tuple[str, ...]

    def as_json(self) -> dict[str, Any]:
        """The documented JSON object (README, "JSON output")."""
        return {
            "schema": JSON_SCHEMA_VERSION,
            "level": self.total.verdict.level.label,
            "reasons": [reason.as_dict() for reason in self.total.verdict.reasons],
            "counts": self.total.counts,
            "rates": self.total.rates,
            "sources": [source.as_dict() for source in self.sources],
            "problems": list(self.problems),
        }


def build_report(paths: Sequence[str], config: Config, workers: int | None = None) -> Report:
    """Scan ``paths`` (files, folders, globs, ``-``) and judge each source and the total.

    Raises:
        NothingReadError: none of the paths gave anything readable.
    """
    expansion = expand_paths(paths, config.sources.include, config.sources.exclude)
    problems = list(expansion.problems)
    scans = scan_paths(expansion.files, config, workers)
    total = dict.fromkeys(COUNT_KEYS, 0)
    sources = []
    for scan in scans:
        problems += scan.problems
        if not scan.read_ok:
            continue
        add_counts(total, scan.tally.counts)
        sources.append(judge_scope(scan.path, scan.tally.counts, config.rules))
    if not sources:
        detail = "; ".join(problems) if problems else "no paths given"
        raise NothingReadError(f"nothing could be read: {detail}")
    return Report(judge_scope(TOTAL, total, config.rules), tuple(sources), tuple(problems))
