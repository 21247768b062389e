"""``threadwatch report``'s library half: paths → per-source and total verdicts.

The total is judged on the summed counts of all sources, not as the worst source: ten
sources each just under a threshold are over it together. With ``last_run``, each source is
judged on its last run only (``runs.py``), and the total on the sum of those.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from threadwatch.config import Config
from threadwatch.errors import NothingReadError
from threadwatch.health.metrics import COUNT_KEYS, add_counts
from threadwatch.health.scope import TOTAL, ScopeReport, judge_scope
from threadwatch.report.engine import SourceScan, scan_paths
from threadwatch.report.streams import join_run_streams
from threadwatch.sources.files import expand_paths

if TYPE_CHECKING:  # runs.py is imported only when runs are asked for (start-up time)
    from threadwatch.report.runs import RunReport

# what a source with lines but no progress line most likely is, in the words a reader needs
NO_PROGRESS = (
    "{lines} but no run_batt progress line (task start, batch, sample or run summary):"
    " a stderr capture, or a run on a host where run_batt prints no progress (it prints only"
    " on hosts it knows by name: the host-name switch DO_PRINT in its utils.py)"
)

# --last-run on a file whose last run has printed nothing counted (a round just begun)
LAST_RUN_EMPTY = ("the last run has printed no progress line yet (a round that has just begun,"
                  " or a host where run_batt prints none); {runs} earlier run(s) not judged:"
                  " --by-run shows them")

JSON_SCHEMA_VERSION = 1


@dataclass(frozen=True)
class Report:
    """A one-shot verdict over some paths."""

    total: ScopeReport
    sources: tuple[ScopeReport, ...]
    problems: tuple[str, ...]
    # each source's runs, in the order of ``sources`` (None: runs were not asked for)
    runs: tuple[tuple[RunReport, ...], ...] | None = None
    # each source was judged on its last run only
    last_run: bool = False

    def as_json(self) -> dict[str, Any]:
        """The documented JSON object (README, "JSON output")."""
        sources = [source.as_dict() for source in self.sources]
        if self.runs is not None:
            for source, runs in zip(sources, self.runs, strict=True):
                source["runs"] = [run.as_dict() for run in runs]
        return {
            "schema": JSON_SCHEMA_VERSION,
            "level": self.total.verdict.level.label,
            "reasons": [reason.as_dict() for reason in self.total.verdict.reasons],
            "counts": self.total.counts,
            "rates": self.total.rates,
            "sources": sources,
            "problems": list(self.problems),
            "last_run": self.last_run,
        }


def build_report(
    paths: Sequence[str],
    config: Config,
    workers: int | None = None,
    *,
    now: float | None = None,
    verbose: bool = False,
    by_run: bool = False,
    last_run: bool = False,
) -> Report:
    """Scan ``paths`` (files, folders, globs, ``-``) and judge each source and the total.

    Args:
        by_run: also judge each run of each source on its own (``Report.runs``).
        last_run: judge each source on its last run only (the total: on their sum); the
            runs are judged too.
        now: the time files' ages are judged at (default: the clock); a run with no summary
            in a file unchanged for ``[runs] stall_seconds`` was cut off, not running.
        verbose: also list, as problems, the files a folder scan or a glob skipped (for
            their names, or for not being regular files: FIFOs, devices, sockets).

    Raises:
        NothingReadError: none of the paths gave anything readable.
    """
    now = time.time() if now is None else now
    expansion = expand_paths(paths, config.sources.include, config.sources.exclude)
    problems = list(expansion.problems)
    if verbose:
        problems += [f"{path}: skipped (its name matches no [sources] include pattern)"
                     for path in expansion.skipped]
        problems += [f"{path}: skipped (not a regular file)" for path in expansion.irregular]
    # a run's stdout and stderr with guard lines named after its tasks are one source
    runs = by_run or last_run
    scans = join_run_streams(scan_paths(expansion.files, config, workers, runs=runs), config)
    total = dict.fromkeys(COUNT_KEYS, 0)
    sources = []
    source_runs = []
    for scan in scans:
        problems += scan.problems
        if not scan.read_ok:
            continue
        running, last_notes = _finish_last_run(scan, now, config.runs.stall_seconds)
        joined = [f"read with the same run's guard lines in {path}" for path in scan.joined]
        counts = scan.tally.counts
        notes = last_notes + joined
        if scan.tally.runs is not None:
            from threadwatch.report.runs import judge_runs  # noqa: PLC0415 - see above

            judged_runs = judge_runs(scan.path, scan.tally.runs, config.rules, last_notes,
                                     last_running=running)
            source_runs.append(judged_runs)
            if last_run:
                last = judged_runs[-1]
                counts = scan.tally.runs[-1].counts
                notes = [_last_run_note(last), *last_notes, *joined]
        add_counts(total, counts)
        judged = judge_scope(scan.path, counts, config.rules, notes)
        if judged.verdict.level.label == "unknown":
            runs_read = scan.tally.runs or ()
            why = (_why_unknown(scan) if not last_run or len(runs_read) < 2
                   else LAST_RUN_EMPTY.format(runs=len(runs_read) - 1))
            judged = judge_scope(scan.path, counts, config.rules, [*notes, why])
        sources.append(judged)
    if not sources:
        detail = "; ".join(problems) if problems else "no paths given"
        raise NothingReadError(f"nothing could be read: {detail}")
    return Report(judge_scope(TOTAL, total, config.rules), tuple(sources), tuple(problems),
                  tuple(source_runs) if runs else None, last_run)


def _last_run_note(run: RunReport) -> str:
    began = f", began {run.label}" if run.started is not None else ""
    return f"last run only: run {run.number} of {run.of}{began} ({run.state.value})"


def _finish_last_run(scan: SourceScan, now: float, stall_seconds: float) -> tuple[bool, list[str]]:
    """Judge a source's last run if it printed no summary: cut off when its file can no
    longer grow (standard input that ended, a rotated or compressed file) or has not changed
    for ``stall_seconds``; otherwise still running. Returns whether it is still running and
    what to say about it."""
    tally = scan.tally
    if not tally.run_open:
        return False, []
    task_id, index = tally.last_start or (None, None)
    task = f"task {task_id} (#{index})" if task_id is not None else "a task"
    quiet = None if scan.modified_at is None else max(0.0, now - scan.modified_at)
    if quiet is not None and quiet < stall_seconds and not scan.compressed:
        return True, [f"run in progress: {task} started, last change {quiet:.0f} s ago"]
    tally.cut_off_last_run()
    since = "" if quiet is None else f", no line for {_duration(quiet)}"
    return False, [f"run cut off: {task} started, no run summary{since} (killed, hung or crashed)"]


def _why_unknown(scan: SourceScan) -> str:
    if scan.lines == 0:
        return "empty: nothing to judge"
    lines = "1 line" if scan.lines == 1 else f"{scan.lines} lines"
    return NO_PROGRESS.format(lines=lines)


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.0f} h"
    return f"{seconds / 86400:.0f} days"
