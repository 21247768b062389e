"""One run's standard output and standard error, read as one source.

run_batt's operators run ``python -u run_batt.py … 2> NAME.err | tee NAME.log``: the program's
own lines land in ``NAME.log``, and the guard's lines -- logged to standard error unless the
program sends them to standard output -- in ``NAME.err``. Counted apart, every batch of that run
would count twice (once per file) and the guard's fallbacks would belong to no batch.

The rule: files in one folder whose names differ only in their last suffix (``NAME.log``,
``NAME.err``; a compression suffix is ignored) are streams of one run. When one of them holds
guard batches named after tasks (``run_batch(..., batch="<task id>-<i>")``) and no program
batch line, and another holds the program's batch lines, the report reads them as one source
(named after the program's file): each named guard batch's lines -- from its ``decision`` up to
the next named ``decision`` -- are read right after the program's start line of that task and
index, which is where they were written; guard lines before the first named batch are read
first, and lines of a batch the program never started are read at the end. Then one batch is
one batch, and each failure is counted once (``health/metrics.py``).

Guard batches that are not named (``<pid>-<n>``) cannot be matched to a task: such files are
read as separate sources, as before. ``tail`` follows each file on its own; a program that
wants ``tail`` to join its lines writes the guard's lines to standard output (the worked port
does: ``docs/porting-run_batt.md``).
"""

from __future__ import annotations

from collections import Counter, defaultdict, deque
from collections.abc import Sequence

from threadwatch.config import Config
from threadwatch.events import Event, Kind
from threadwatch.health.metrics import Tally, named_guard_batch
from threadwatch.report.engine import SourceScan, scan_one
from threadwatch.sources.files import STDIN, run_stem

__all__ = ["join_run_streams", "run_stem"]

_STARTS = (Kind.TASK_START, Kind.BATCH)

Key = tuple[str, int]
Segment = tuple[Key | None, list[Event]]


def join_run_streams(scans: Sequence[SourceScan], config: Config) -> list[SourceScan]:
    """Replace each run's program and guard files by one source read from both (see above)."""
    groups: defaultdict[str, list[SourceScan]] = defaultdict(list)
    for scan in scans:
        if scan.path != STDIN and scan.read_ok:
            groups[run_stem(scan.path)].append(scan)
    replaced: dict[str, SourceScan | None] = {}
    for group in groups.values():
        guard_side = [
            scan
            for scan in group
            if scan.tally.named_guard_batches and not scan.tally.program_batches
        ]
        program_side = [scan for scan in group if scan.tally.program_batches]
        if not guard_side or not program_side:
            continue
        primary = max(program_side, key=lambda scan: scan.tally.program_batches)
        replaced[primary.path] = _read_joined(primary, guard_side, config)
        for scan in guard_side:
            replaced[scan.path] = None
    joined = []
    for scan in scans:
        instead = replaced.get(scan.path, scan)
        if instead is not None:
            joined.append(instead)
    return joined


def _segments(events: list[Event]) -> deque[Segment]:
    """Cut a guard file's events at each named ``decision``."""
    segments: deque[Segment] = deque([(None, [])])
    for event in events:
        if event.kind is Kind.GUARD_DECISION:
            key = named_guard_batch(event.task_id)
            if key is not None:
                segments.append((key, []))
        segments[-1][1].append(event)
    return segments


class _Joiner:
    """Feeds the program's events to the tally, and each guard segment after its start line."""

    def __init__(self, tally: Tally, queues: list[deque[Segment]]) -> None:
        self.tally = tally
        self.queues = queues
        self.waiting = Counter(key for queue in queues for key, _ in queue if key is not None)
        for queue in queues:  # what the guard wrote before its first named batch
            while queue and queue[0][0] is None:
                tally.add_all(queue.popleft()[1])

    def feed(self, events: list[Event]) -> None:
        for event in events:
            self.tally.add(event)
            if event.kind in _STARTS and event.task_id is not None:
                key = (event.task_id, event.batch_index or 0)
                if self.waiting[key]:
                    for queue in self.queues:
                        self._inject_through(queue, key)

    def _inject_through(self, queue: deque[Segment], key: Key) -> None:
        if not any(segment_key == key for segment_key, _ in queue):
            return
        while queue:  # segments before it belong to batches the program did not start here
            segment_key, events = queue.popleft()
            if segment_key is not None:
                self.waiting[segment_key] -= 1
            self.tally.add_all(events)
            if segment_key == key:
                return

    def finish(self) -> None:
        for queue in self.queues:
            while queue:
                self.tally.add_all(queue.popleft()[1])


def _read_joined(
    primary: SourceScan, guard_side: list[SourceScan], config: Config
) -> SourceScan:
    queues = []
    problems: list[str] = []
    lines = bytes_read = 0
    modified = [primary.modified_at]
    for scan in guard_side:
        events: list[Event] = []
        read = scan_one(scan.path, config, Tally(config.inference), consume=events.extend)
        queues.append(_segments(events))
        problems += read.problems
        lines += read.lines
        bytes_read += read.bytes_read
        modified.append(read.modified_at)
    tally = Tally(config.inference, runs=primary.tally.runs is not None)
    joiner = _Joiner(tally, queues)
    result = scan_one(primary.path, config, tally, consume=joiner.feed)
    joiner.finish()
    tally.finish()
    result.problems = problems + result.problems
    result.lines += lines
    result.bytes_read += bytes_read
    known = [when for when in modified if when is not None]
    result.modified_at = max(known) if known else None
    result.joined = tuple(scan.path for scan in guard_side)
    return result
