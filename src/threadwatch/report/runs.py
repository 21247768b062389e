"""A source's runs, judged one by one (``report --by-run``, ``--last-run``).

The operators' loop (``run_card.sh``) prints a ``date`` line before each round, the only
timestamps the logs have; a round's log is rewritten each round, so a ``.log`` holds one run,
while a capture of the loop's own output (or of ``tee -a``) holds many. Where there is no
``date`` line, a run is told by its task indexes starting again, or by a summary followed by
more tasks (``health/metrics.py``), and is named by its number (``run 2``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from threadwatch.health.metrics import Run
from threadwatch.health.scope import ScopeReport, judge_scope
from threadwatch.health.settings import Rule

__all__ = ["RunReport", "RunState", "date_time", "judge_runs"]

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
# `date`'s default output in the C locale (the table's `run_date` row finds only these)
_DATE = re.compile(
    r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) (?P<month>[A-Z][a-z]{2}) +(?P<day>\d{1,2})"
    r" (?P<hour>\d\d):(?P<minute>\d\d):(?P<second>\d\d) (?P<zone>[A-Z]{1,5}) (?P<year>\d{4})"
)
_UTC_NAMES = frozenset({"UTC", "GMT", "Z", "UT"})


class RunState(StrEnum):
    """How a run ended, as far as the log and its file's age tell."""

    COMPLETED = "completed"  # it printed its summary
    CUT_OFF = "cut off"  # it started a task and stopped without a summary
    RUNNING = "running"  # the last run, no summary yet, its file still changing
    # batches but no task start and no summary: a guard's own batches, which print neither
    NO_RUN_LINES = "no run lines"
    NO_PROGRESS = "no progress"  # no task start and no summary (a stderr capture, a quiet host)


@dataclass(frozen=True)
class RunReport:
    """One run of a source: its number (from 1), its `date` line and its judged counts."""

    number: int
    of: int
    date: str | None
    state: RunState
    judged: ScopeReport

    @property
    def started(self) -> datetime | None:
        """When the run began, from its `date` line (None: no date line, or not `date`'s
        output); aware (UTC) when the line says UTC or GMT, else naive (the host's time)."""
        return None if self.date is None else date_time(self.date)

    @property
    def label(self) -> str:
        """``2026-11-27 17:41:33 UTC`` from the `date` line, else ``run 2``."""
        when = self.started
        if when is None or self.date is None:
            return f"run {self.number}"
        zone = _DATE.search(self.date)
        suffix = f" {zone['zone']}" if zone is not None else ""
        return when.strftime("%Y-%m-%d %H:%M:%S") + suffix

    def as_dict(self) -> dict[str, Any]:
        """The JSON form (README, "JSON output"): the source's keys, the run's own first."""
        when = self.started
        judged = self.judged.as_dict()
        del judged["path"]
        return {
            "run": self.number,
            "date": self.date,
            "started": None if when is None else when.isoformat().replace("+00:00", "Z"),
            "state": self.state.value,
            **judged,
        }


def date_time(text: str) -> datetime | None:
    """The time a `date` line says (``Fri Nov 27 17:41:33 UTC 2026``), or None."""
    found = _DATE.fullmatch(text.strip())
    if found is None or found["month"] not in _MONTHS:
        return None
    try:
        when = datetime(
            int(found["year"]), _MONTHS.index(found["month"]) + 1, int(found["day"]),
            int(found["hour"]), int(found["minute"]), int(found["second"]),
        )
    except ValueError:  # Feb 30, 25:00:00
        return None
    return when.replace(tzinfo=UTC) if found["zone"] in _UTC_NAMES else when


def judge_runs(
    path: str, runs: Sequence[Run], rules: Sequence[Rule], last_note: Sequence[str] = (),
    *, last_running: bool = False,
) -> tuple[RunReport, ...]:
    """Each run of ``path`` judged on its own counts.

    Args:
        last_note: what the report says of the last run (cut off, in progress).
        last_running: the last run has no summary and its file is still changing.
    """
    reports = []
    for number, run in enumerate(runs, start=1):
        last = number == len(runs)
        state = _state(run, running=last and last_running)
        notes = list(last_note) if last else _notes(run, state)
        judged = judge_scope(f"{path} [run {number}]", run.counts, rules, notes)
        reports.append(RunReport(number, len(runs), run.date, state, judged))
    return tuple(reports)


def _state(run: Run, *, running: bool) -> RunState:
    if run.ended:
        return RunState.COMPLETED
    if run.cut_off:
        return RunState.CUT_OFF
    if running:
        return RunState.RUNNING
    if run.started:
        return RunState.CUT_OFF
    return RunState.NO_RUN_LINES if run.counts["batches"] else RunState.NO_PROGRESS


def _notes(run: Run, state: RunState) -> list[str]:
    if state is not RunState.CUT_OFF:
        return []
    task_id, index = run.last_start or (None, None)
    task = f"task {task_id} (#{index})" if task_id is not None else "a task"
    return [f"run cut off: {task} started, no run summary before the next run began"]
