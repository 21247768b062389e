"""Read sources into tallies: one file, a byte range of one, or many in parallel.

A large plain file is cut into as many parts as there are CPUs, at the start of a program line
(so a part never begins inside a traceback block), scanned in worker processes, and the parts'
tallies merged in order: the later part's tally is *detached* and hands what belongs to an
earlier batch back to the part before (see ``Tally.merge``; with ``runs``, a run that spans
parts is joined there too). Every worker reads in fixed-size
chunks, so memory stays bounded whatever the input size.
"""

from __future__ import annotations

import bisect
import contextlib
import functools
import gc
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from threadwatch.config import Config
from threadwatch.events import Event, Kind
from threadwatch.health.metrics import COUNTED_KINDS, RUN_KINDS, Tally, named_guard_batch
from threadwatch.parse.grammar import Grammar
from threadwatch.parse.scanner import Scanner
from threadwatch.sources.files import STDIN, is_compressed, open_binary

if TYPE_CHECKING:
    import multiprocessing.context

CHUNK_BYTES = 4 << 20
PARALLEL_MIN_BYTES = 48 << 20  # below this, starting workers costs more than it saves
_BOUNDARY_WINDOW = 256 << 10
_LOOKBACK = 64 << 10  # text scanned before a boundary to be sure no traceback is open there
_LOOKAHEAD = 32 << 10  # text scanned after it for lines its part could not count alone


@dataclass
class SourceScan:
    """What scanning one source gave: its tally and what was skipped or went wrong."""

    path: str
    tally: Tally
    problems: list[str] = field(default_factory=list)
    read_ok: bool = True
    bytes_read: int = 0
    lines: int = 0
    # when the file last changed (None: standard input, which has ended when the scan does)
    modified_at: float | None = None
    compressed: bool = False
    # other streams of the same run read into this source (streams.py)
    joined: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Job:
    path: str
    start: int
    end: int | None  # None: to the end
    detached: bool
    runs: bool = False  # count each run apart (and look for `date` lines)


def counting_grammar(config: Config, *, runs: bool = False) -> Grammar:
    """The grammar that finds just what the counts need (compiled once per process: ~10 ms,
    which a report of a thousand small files would otherwise pay a thousand times); ``runs``
    also finds the `date` lines that begin runs (one more pass over the text: only when the
    runs are asked for)."""
    return _counting_grammar(config.parse.program_files, runs)


@functools.lru_cache(maxsize=8)
def _counting_grammar(program_files: tuple[str, ...], runs: bool) -> Grammar:
    return Grammar(program_files, RUN_KINDS if runs else COUNTED_KINDS, keep_text=False,
                   fold_samples=True)



def _scan_job(job: _Job, config: Config) -> SourceScan:
    # A scan makes millions of short-lived tuples and no reference cycles: the cyclic
    # collector would only re-walk them (measured 8 % of the scan), so it is paused.
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _scan(job, config)
    finally:
        if enabled:
            gc.enable()


def _scan(
    job: _Job,
    config: Config,
    tally: Tally | None = None,
    consume: Callable[[list[Event]], None] | None = None,
) -> SourceScan:
    """Scan one job into ``tally`` (a new one by default); ``consume`` takes each batch of
    events instead of ``tally.add_all`` (to hold them back, or to add others between)."""
    grammar = counting_grammar(config, runs=job.runs)
    if tally is None:
        tally = Tally(config.inference, detached=job.detached, runs=job.runs)
    if consume is None:
        consume = tally.add_all
    scanner = Scanner(
        job.path,
        grammar,
        start_offset=job.start,
        max_line_bytes=config.parse.max_line_bytes,
    )
    result = SourceScan(job.path, tally, compressed=is_compressed(job.path))
    try:
        if job.path != STDIN:
            result.modified_at = os.stat(job.path).st_mtime
        with open_binary(job.path) as stream:
            if job.start:
                stream.seek(job.start)
            remaining = None if job.end is None else job.end - job.start
            while remaining is None or remaining > 0:
                size = CHUNK_BYTES if remaining is None else min(CHUNK_BYTES, remaining)
                chunk = stream.read(size)
                if not chunk:
                    break
                result.bytes_read += len(chunk)
                result.lines += chunk.count(b"\n")
                if remaining is not None:
                    remaining -= len(chunk)
                consume(scanner.feed(chunk))
    except (OSError, EOFError) as exc:  # vanished, unreadable, corrupt .gz
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        result.problems.append(f"{job.path}: cannot read ({reason})")
        result.read_ok = result.bytes_read > 0
    consume(scanner.close())
    result.problems += [
        f"{job.path}: at byte {notice.offset}: {notice.message}" for notice in scanner.notices
    ]
    return result


def scan_one(
    path: str,
    config: Config,
    tally: Tally,
    consume: Callable[[list[Event]], None] | None = None,
) -> SourceScan:
    """Scan one whole source in this process into ``tally`` (see ``_scan`` for ``consume``);
    `date` lines are looked for when ``tally`` counts runs."""
    job = _Job(path, 0, None, detached=False, runs=tally.runs is not None)
    return _scan(job, config, tally, consume)


def _boundary(path: str, near: int, config: Config) -> int | None:
    """A part boundary at or after ``near``: the start of a line with a program prefix where
    no traceback block is open (checked by scanning the text just before it) and where a
    later part's tally needs nothing it cannot learn from the part before (``_CutCheck``),
    or None. Never before a bare batch line: it may join the batch its task's start line,
    just before, opened (a later part could not tell, and would count the batch twice)."""
    grammar = counting_grammar(config)
    before = min(near, _LOOKBACK)
    with open_binary(path) as stream:  # a plain file: not compressed (see _jobs_for)
        stream.seek(near - before)
        window = stream.read(before + _BOUNDARY_WINDOW)
    at_end = len(window) < before + _BOUNDARY_WINDOW  # the window holds the rest of the file
    lookback_start = window.find(b"\n") + 1 if near - before > 0 else 0
    max_line = config.parse.max_line_bytes
    probe = Scanner(path, grammar, max_line_bytes=max_line)  # offsets: from the window's start
    fed = lookback_start  # the probe reads each line once, however many lines are refused
    check = _CutCheck()
    ahead: list[Event] = []  # the events from a line start to ``scanned``
    scanned = 0
    match = grammar.program_prefix.search(window, before)
    while match is not None:
        at = match.start()
        if at > 0 and window[at - 1] == 0x0A:
            if not at_end and at + _LOOKAHEAD > len(window):
                return None  # too little text left after it to check it
            check.take(probe.feed(window[fed:at]))
            fed = at
            if not probe.pending and not _opens_with_a_batch(window, at, grammar):
                if scanned < min(at + _LOOKAHEAD, len(window)):
                    scanned = min(at + 2 * _LOOKAHEAD, len(window))
                    scanner = Scanner(path, grammar, start_offset=at, max_line_bytes=max_line)
                    ahead = scanner.feed(window[at:scanned])
                first = bisect.bisect_left(ahead, at, key=_offset)
                if not check.splits(ahead, first):
                    return near - before + at
        match = grammar.program_prefix.search(window, match.end())
    return None


def _opens_with_a_batch(window: bytes, at: int, grammar: Grammar) -> bool:
    line_end = window.find(b"\n", at)
    if line_end < 0:
        return False
    return any(event.kind is Kind.BATCH for event in grammar.events(window, at, line_end, "", 0))


_OPENERS = frozenset({Kind.TASK_START, Kind.BATCH, Kind.GUARD_DECISION})
_RUN_LINES = frozenset({Kind.TASK_START, Kind.BATCH, Kind.RUN_SUMMARY})


class _CutCheck:
    """Whether a part beginning at a cut would miss what a detached tally cannot hand back to
    the part before (``Tally.merge``), so that the parts would count other than the whole;
    ``take`` the events before each cut in order, then ask with the events after it:

    - a task's start line before it and the line that joins its batch after it (its bare
      batch line, not always the very next line, or the guard's decision for ``<id>-<i>``):
      the later part would count a second batch;
    - a run summary before it and no batch opened since, unless the first line counted after
      it is a task start: with the older program's bare batch lines, the later part could
      not tell that the batch after it begins a new run, and would count it in the run that
      ended;
    - a guard batch open across it: the guard's ``batch_done`` sets the executor of its own
      batch, and for one named ``<id>-<i>`` the guard's item lines and the program's lines
      about one sample count once, which a later part cannot do (lines naming the batch or
      its task after the cut, or lines naming no task while it is the latest);
    - a `timeout` KILL line after it, before a TERM line that follows a line of the run:
      whether the KILL is a second timeout depends on the TERM line before it and on whether
      a run began between them, which the later part may not know until then.
    """

    def __init__(self) -> None:
        self._joinable: set[str] = set()  # tasks whose start line's batch is not joined yet
        self._guarded: set[str] = set()  # open guard batches (a named one: its task)
        self._latest: str | None = None  # the task of the latest batch
        self._after_summary = False

    def take(self, events: list[Event]) -> None:
        """Read the events before the next cut."""
        for event in events:
            self._take(event)

    def splits(self, events: list[Event], first: int) -> bool:
        """Whether a cut before ``events[first]`` (the events after it from there) would make
        the parts count otherwise."""
        joinable, guarded = self._joinable, self._guarded
        restarted: set[str] = set()  # tasks that began another batch after the cut
        run_known = timeouts_known = False
        for position in range(first, len(events)):
            event = events[position]
            kind, key = event.kind, _key(event)
            if kind is Kind.SCRIPT_TIMEOUT and not timeouts_known:
                if event.error_type == "KILL":
                    return True
                timeouts_known = run_known  # a TERM once both parts know whether a run is open
            run_known = run_known or kind in _RUN_LINES
            if position == first and kind is not Kind.TASK_START and (
                self._after_summary or self._latest in guarded
            ):
                return True
            if key is None or key in restarted or (key not in joinable and key not in guarded):
                continue
            if kind is Kind.TASK_START:
                restarted.add(key)
            elif key in guarded or kind in _OPENERS:
                return True
        return self._after_summary and first == len(events)

    def _take(self, event: Event) -> None:
        kind, key = event.kind, _key(event)
        if kind is Kind.RUN_SUMMARY:
            self._after_summary = True
        if key is None or (kind not in _OPENERS and kind is not Kind.GUARD_BATCH_DONE):
            return
        if kind is Kind.GUARD_BATCH_DONE:
            if key == event.task_id:  # the guard's own batch ends (a named one stays open)
                self._guarded.discard(key)
            return
        if kind is Kind.TASK_START or (key not in self._joinable and (
            kind is Kind.BATCH or key != event.task_id
        )):
            self._after_summary = False  # a task's batch opens: a run goes on or begins
        self._latest = key
        if kind is Kind.TASK_START:
            self._joinable.add(key)
            self._guarded.discard(key)
            return
        self._joinable.discard(key)
        if kind is Kind.GUARD_DECISION:
            self._guarded.add(key)
        else:
            self._guarded.discard(key)


def _offset(event: Event) -> int:
    return event.offset


def _key(event: Event) -> str | None:
    """The task an event is about (a guard batch named ``<id>-<i>`` is its task's)."""
    named = named_guard_batch(event.task_id) if event.task_id and "-" in event.task_id else None
    return named[0] if named is not None else event.task_id


def _jobs_for(path: str, parts: int, config: Config, runs: bool) -> list[_Job]:
    whole = [_Job(path, 0, None, detached=False, runs=runs)]
    if parts < 2 or path == STDIN or is_compressed(path):
        return whole
    try:
        size = os.path.getsize(path)
    except OSError:
        return whole
    if size < PARALLEL_MIN_BYTES:
        return whole
    cuts = [0]
    for i in range(1, parts):
        cut = _boundary(path, size * i // parts, config)
        if cut is not None and cut > cuts[-1]:
            cuts.append(cut)
    ends: list[int | None] = [*cuts[1:], None]
    return [
        _Job(path, start, end, detached=start > 0, runs=runs)
        for start, end in zip(cuts, ends, strict=True)
    ]


def _merge_parts(parts: list[SourceScan]) -> SourceScan:
    """Merge the parts of one source from the right: each part takes what the merged rest
    could not place (it may go further left still)."""
    merged = parts[-1]
    for earlier in reversed(parts[:-1]):
        earlier.tally.merge(merged.tally)
        earlier.problems += merged.problems
        earlier.bytes_read += merged.bytes_read
        earlier.lines += merged.lines
        earlier.read_ok = earlier.read_ok or merged.read_ok
        merged = earlier
    return merged


def scan_paths(
    files: Sequence[str], config: Config, workers: int | None = None, *, runs: bool = False
) -> list[SourceScan]:
    """Scan every file (parallel where it pays) and return one finished scan per file;
    ``runs``: count each run of a file apart too (``Tally.runs``)."""
    workers = workers or os.cpu_count() or 1
    jobs = [job for path in files for job in _jobs_for(path, workers, config, runs)]
    big = any(job.detached for job in jobs) or _total_size(files) >= PARALLEL_MIN_BYTES
    results: dict[_Job, SourceScan] = {}
    if workers > 1 and len(jobs) > 1 and big:
        remote = [job for job in jobs if job.path != STDIN]  # stdin stays with this process
        # imported here: a report of small files (most cron and Nagios runs) needs no pool
        from concurrent.futures import ProcessPoolExecutor  # noqa: PLC0415 - see above

        with ProcessPoolExecutor(workers, mp_context=_context()) as pool:
            results.update(
                zip(remote, pool.map(_scan_job, remote, [config] * len(remote)), strict=True)
            )
    for job in jobs:
        if job not in results:
            results[job] = _scan_job(job, config)
    parts: list[list[SourceScan]] = []
    for job in jobs:
        if job.detached:
            parts[-1].append(results[job])
        else:
            parts.append([results[job]])
    scans = [_merge_parts(source_parts) for source_parts in parts]
    for scan in scans:
        scan.tally.finish()
    return scans


def _context() -> multiprocessing.context.BaseContext:
    """``fork`` (fast: nothing re-imported) when this process runs no other thread; otherwise
    ``forkserver`` — forking a process with threads can deadlock the child (docs/guard.md)."""
    import multiprocessing  # noqa: PLC0415 - only for a parallel scan

    methods = multiprocessing.get_all_start_methods()
    if "fork" in methods and threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")


def _total_size(files: Sequence[str]) -> int:
    total = 0
    for path in files:
        with contextlib.suppress(OSError):
            total += os.path.getsize(path) if path != STDIN else 0
    return total
