"""Events → the counts and rates, for one scope (a file, a window, everything); the README's
``threadwatch report`` section defines each JSON key.

The executor a batch ended on is rarely printed; it follows run_batt's fixed rule:
overload → sequential; fewer than ``process_min_batch`` distinct samples → thread pool;
otherwise process pool; a fallback or failure line for the batch overrides that. A batch with
no sample seen and no such line (a run killed mid-batch) has no known executor and counts in
neither ``process_pool_used`` nor ``thread_pool_used``.

The process-pool share is measured over the batches the rule sends to a process pool: those
with ``process_min_batch`` samples or more (a named guard batch's item count included), or
that ran on one, counted in ``large_batches``. A small batch rightly runs on threads and does
not lower the share; a scope without a large batch has no share (None).

Which line opens a batch depends on the program's version: versions that print the bare
``-- {id} - {i} --`` line count it, newer ones print only ``-- {id} - {i} start --``. A task start
opens the batch and a bare batch line (or a guard ``decision`` line naming the same task) that
follows it *joins* that batch instead of opening a second one, so a task run counts once whatever
the version printed for it.

A guard batch named ``<task id>-<i>`` (``run_batch(..., batch=...)``) is the program's batch of
that task: its ``decision`` joins the batch (its item count is the least number of samples the
batch had), its other lines count into it, and ``batch_done`` sets the batch's executor without
closing it (the program prints its own lines about the samples after the batch is done). One
failure, timeout or memory error is counted once whichever lines say it: per batch and per
count, the guard's item lines (which name no sample type) and the program's own lines are
counted apart, and the batch counts the larger of the two.

Lines without a task id (overload, pool failures) belong to the latest batch of their source;
samples belong to the latest batch of their task id. A batch closes (its executor is counted)
when its task is scored or done, when the task starts another batch, or when too many batches
are open (the oldest first, so memory does not grow with the input); ``provisional`` counts
the open ones for a live view.

Runs: a run begins with its first task and ends with its summary line. A run that is followed by
another (a new ``date`` line, or a task index that goes back) without its summary was cut off
(killed, or crashed). Whether the *last* run of a source is cut off or still running depends
on time, which the tally does not know: ``run_open`` tells the caller.

Per run (``Tally(runs=True)``, for ``report --by-run`` and ``--last-run``): each run has its own
counts dict in ``runs`` (``counts`` is swapped at each new run, as a window swaps it per bucket,
so the default path pays nothing). A new run begins at a ``date`` line (unless nothing has
happened yet: the date then names the first run), or at a task start after a run summary, or at
a task index that goes back. Lines before the first boundary belong to the first run; lines
after a summary to the run it ended, until the next one begins.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MethodType
from typing import Any, Literal, Protocol, get_args

from threadwatch.events import Event, Executor, Kind
from threadwatch.parse.patterns import COUNT_KEYS, PLAIN_COUNTS, CountKey

__all__ = ["COUNTED_KINDS", "COUNT_KEYS", "LIVE_KINDS", "RATES", "RATE_KEYS", "RUN_KINDS",
           "CountKey", "Counts", "Inference", "RateKey", "Rates", "Run", "Tally", "add_counts",
           "named_guard_batch", "rates_of"]

# A scope's counts; a window's buckets may be sparse (a ``defaultdict(int)``).
Counts = dict[CountKey, int]
RateKey = Literal[
    "overload",
    "sequential",
    "process_pool_used",
    "threads_over_60",
    "threads_40_60",
    "sample_failures",
    "sample_timeouts",
]
RATE_KEYS: tuple[RateKey, ...] = get_args(RateKey)
Rates = dict[RateKey, float | None]
# rate name -> (numerator count, denominator count); a rate is None where its denominator is 0
RATES: Mapping[RateKey, tuple[CountKey, CountKey]] = {
    "overload": ("overload", "batches"),
    "sequential": ("sequential", "batches"),
    "process_pool_used": ("process_pool_used", "large_batches"),
    "threads_over_60": ("threads_over_60", "batches"),
    "threads_40_60": ("threads_40_60", "batches"),
    "sample_failures": ("sample_failures", "samples"),
    "sample_timeouts": ("sample_timeouts", "samples"),
}
_MAX_OPEN_BATCHES = 64
_MAX_SEEN_TASKS = 4096


class Inference(Protocol):
    """The program's rules a tally follows (``[inference]``; ``InferenceConfig`` is one)."""

    @property
    def process_min_batch(self) -> int: ...

    @property
    def overload_split_threads(self) -> int: ...


def rates_of(counts: Mapping[CountKey, int]) -> Rates:
    """Every rate; None where its denominator is 0. A share of samples is capped at 1: one
    sample can print more than one failure (a thread-exhaustion line, then ``failed:``)."""
    rates: Rates = {}
    for key, (numerator, denominator) in RATES.items():
        whole = counts[denominator]
        rates[key] = min(counts[numerator] / whole, 1.0) if whole else None
    return rates


def add_counts(total: Counts, more: Mapping[CountKey, int]) -> None:
    """Add ``more`` into ``total`` key by key."""
    for key, value in more.items():
        total[key] += value


Sample = tuple[str | None, int | None] | None
TaskStart = tuple[str | None, int | None]  # task id, index


@dataclass(slots=True)
class Run:
    """One round of a source (``Tally(runs=True)``): its counts and what bounds it."""

    counts: Counts
    date: str | None = None  # the text of the `date` line that began it
    started: bool = False  # a task started in it
    ended: bool = False  # it printed its summary
    cut_off: bool = False  # another run began before its summary (or its file stopped)
    last_start: TaskStart | None = None

    def blank(self) -> bool:
        """Nothing has happened in it yet (a `date` line names it rather than begin another)."""
        return (self.date is None and not self.started and not self.ended
                and not any(self.counts.values()))

    def absorb(self, later: Run) -> None:
        """Take in the rest of this run, counted by a tally of the part of a source after."""
        add_counts(self.counts, later.counts)
        self.date = self.date or later.date
        self.started = self.started or later.started
        self.ended = self.ended or later.ended
        self.cut_off = self.cut_off or later.cut_off
        self.last_start = later.last_start or self.last_start


def _begins_run(run: Run, kind: Kind, index: int | None, run_index: int | None) -> bool:
    """Whether a boundary line (``kind``) begins a new run after ``run`` (module docstring)."""
    if kind is Kind.RUN_DATE:
        return not run.blank()
    if kind is Kind.TASK_START:
        return run.ended or (run.started and _goes_back(index, run_index))
    return False


@dataclass(slots=True)
class _Batch:
    counts: Counts  # where the batch was counted: its executor is counted there too
    samples: set[Sample] = field(default_factory=set)
    executor: Executor | None = None
    # opened by a task start line and not yet joined by the bare batch line or a guard decision
    joinable: bool = False
    # a named guard decision's item count: the batch had at least this many samples
    floor: int = 0
    # (count key, said by the guard) -> how many lines said it; made when first needed
    said: dict[tuple[CountKey, bool], int] | None = None


_GUARD_TASK_BATCH = re.compile(r"([0-9a-f]{8})-(\d+)")


def named_guard_batch(batch_id: str | None) -> tuple[str, int] | None:
    """The task id and index of a guard batch named ``<task id>-<i>``, else None."""
    named = _GUARD_TASK_BATCH.fullmatch(batch_id or "")
    return (named[1], int(named[2])) if named is not None else None


class Tally:
    """Running counts of one scope; ``add`` events in order, then ``finish``.

    ``counts`` may be swapped for a fresh dict at any time (a sliding window does, per time
    bucket): later events count into the new one, and a batch's executor is counted in the
    dict its batch was counted in. Such a dict may be sparse (a ``defaultdict(int)``).

    Args:
        inference: the program's rules: ``process_min_batch`` samples or more → process pool;
            an overload line with more than ``overload_split_threads`` threads counts in
            ``threads_over_60``, else in ``threads_40_60``.
        detached: the tally starts in the middle of a source (a parallel scan's later part):
            events that belong to a batch begun before it are kept in ``unresolved`` for
            ``merge`` to hand to the tally of the part before.
        runs: also count each run apart, in ``runs`` (feed it ``RUN_KINDS`` too, for the
            `date` lines); after ``finish``, ``counts`` holds the sum of the runs.
    """

    def __init__(
        self, inference: Inference, *, detached: bool = False, runs: bool = False
    ) -> None:
        self.counts: Counts = dict.fromkeys(COUNT_KEYS, 0)
        self.runs: list[Run] | None = [Run(self.counts)] if runs else None
        # detached: the run begun at this part's first boundary may be the one before's
        self._run_tentative = False
        # (task id, executor override, sample) that belong to a batch before a detached part
        self.unresolved: list[tuple[str | None, Executor | None, Sample]] = []
        self._min_process = inference.process_min_batch
        self._overload_split = inference.overload_split_threads
        self._detached = detached
        # OrderedDict: evicting the oldest is O(1) (a dict's first key after many deletions
        # is found by scanning past the holes: measured 7 µs per batch)
        self._open: OrderedDict[str, _Batch] = OrderedDict()
        self._last: _Batch | None = None
        self._seen: OrderedDict[str, None] = OrderedDict()
        # runs: see the module docstring; a detached tally does not know whether a run was
        # open where it starts, and keeps its first run boundary in ``run_head`` for ``merge``
        self.run_open = False
        self.last_start: tuple[str | None, int | None] | None = None  # task id, index
        self.run_head: tuple[Kind, int | None] | None = None
        self._run_known = not detached
        self._run_index: int | None = None
        self._term_seen = False
        # which lines the source holds: the program's batch lines, guard batches named after
        # a task (a report reads a run's stdout and stderr together when they split these)
        self.program_batches = 0
        self.named_guard_batches = 0
        self._handlers = self._make_handlers()

    def __getstate__(self) -> dict[str, object]:
        # handlers are bound closures: rebuilt after unpickling (tallies cross processes)
        return {k: v for k, v in self.__dict__.items() if k != "_handlers"}

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)
        self._handlers = self._make_handlers()

    def _make_handlers(self) -> dict[Kind, Callable[[Event], None]]:
        handlers = {kind: self._count(key) for kind, key in PLAIN_COUNTS.items()}
        handlers.update((kind, MethodType(handle, self)) for kind, handle in _SPECIAL.items())
        return handlers

    def add(self, event: Event) -> None:
        """Count one event."""
        handler = self._handlers.get(event.kind)
        if handler is not None:
            handler(event)

    def add_all(self, events: Iterable[Event]) -> None:
        """Count events in order."""
        handlers = self._handlers
        for event in events:
            handler = handlers.get(event.kind)
            if handler is not None:
                handler(event)

    def finish(self) -> Counts:
        """Close every open batch and return the counts (of every run: their sum)."""
        for batch in self._open.values():
            self._close(batch)
        self._open.clear()
        if self.runs is not None and len(self.runs) > 1:
            total = dict.fromkeys(COUNT_KEYS, 0)
            for run in self.runs:
                add_counts(total, run.counts)
            self.counts = total
        elif self.runs is not None:
            self.counts = dict(self.runs[0].counts)
        return self.counts

    def cut_off_last_run(self) -> None:
        """Count the last run as cut off (the caller knows its file stopped: see ``run_open``)."""
        self.counts["cut_off_runs"] += 1
        if self.runs is not None:
            self.runs[-1].counts["cut_off_runs"] += 1
            self.runs[-1].cut_off = True

    def provisional(self, within: Iterable[Counts]) -> Counts:
        """Executor counts of the batches still open, as the rule reads them now, for those
        counted in one of the ``within`` dicts (a live window counts them before they close)."""
        live = {id(counts) for counts in within}
        counts: Counts = {"process_pool_used": 0, "thread_pool_used": 0, "large_batches": 0}
        for batch in self._open.values():
            if id(batch.counts) in live:
                self._close(batch, counts)  # counted as if it closed now, into ``counts``
        return counts

    def live_state(self, bucket_of: Mapping[int, int]) -> dict[str, Any]:
        """What a live tally knows beyond its counts, as plain JSON data: its open batches
        (each with the bucket its counts went to, from ``bucket_of``: ``id(counts dict)`` →
        bucket number, None for a dict no longer kept) and where its run stands.

        Raises:
            ValueError: the tally is detached (a part of a parallel scan is never saved).
        """
        if self._detached:
            raise ValueError("a detached tally has no live state")
        # the latest batch matters only while open: a line without a task id changes nothing
        # of a closed batch's counts
        last = next((i for i, b in enumerate(self._open.values()) if b is self._last), None)
        return {
            "open": [[key, *_batch_state(batch, bucket_of)] for key, batch in self._open.items()],
            "last": last,
            "run_open": self.run_open,
            "last_start": self.last_start,
            "run_index": self._run_index,
            "term_seen": self._term_seen,
        }

    @classmethod
    def from_live_state(cls, state: Mapping[str, Any], inference: Inference,
                        counts_of: Callable[[int | None], Counts]) -> Tally:
        """A live tally as ``live_state`` saved it; ``counts_of(bucket)`` gives the dict a
        batch's counts go to (a throwaway one for a bucket no longer kept).

        Raises:
            ValueError, TypeError, KeyError: ``state`` is not what ``live_state`` makes.
        """
        tally = cls(inference)
        for key, *batch in state["open"]:
            tally._open[str(key)] = _batch_from(batch, counts_of)
        if state["last"] is not None:
            tally._last = list(tally._open.values())[int(state["last"])]
        tally.run_open = bool(state["run_open"])
        start = state["last_start"]
        tally.last_start = None if start is None else (start[0], start[1])
        tally._run_index = state["run_index"]
        tally._term_seen = bool(state["term_seen"])
        return tally

    def merge(self, later: Tally) -> None:
        """Append a detached tally of the part of the source that follows this one."""
        for task_id, executor, sample in later.unresolved:
            self._attribute(task_id, executor, sample)
        self._merge_runs(later)
        for batch in self._open.values():
            self._close(batch)
        if self.runs is None or later.runs is None:
            add_counts(self.counts, later.counts)
            for batch in later._open.values():
                batch.counts = self.counts
        self.program_batches += later.program_batches
        self.named_guard_batches += later.named_guard_batches
        self._open = later._open
        if later._last is not None:
            self._last = later._last

    # -- batches ----------------------------------------------------------------------------

    def _open_batch(self, key: str | None) -> _Batch:
        self.counts["batches"] += 1
        batch = _Batch(self.counts)
        if key is not None:
            previous = self._open.pop(key, None)
            if previous is not None:
                self._close(previous)
            self._open[key] = batch
            if len(self._open) > _MAX_OPEN_BATCHES:
                self._close(self._open.popitem(last=False)[1])
            if self._detached:
                self._seen[key] = None
                if len(self._seen) > _MAX_SEEN_TASKS:
                    self._seen.popitem(last=False)
        self._last = batch
        return batch

    def _join_or_open(self, task_id: str | None, index: int | None) -> _Batch:
        """The task's batch opened by its start line, if nothing has joined it yet; else a
        new batch (a version that prints no start line, or a second batch of the task)."""
        batch = self._open.get(task_id) if task_id is not None else None
        if batch is not None and batch.joinable:
            batch.joinable = False
            return batch
        # a version without start lines: the run goes on (indexes of such lines need not
        # grow, so they never say a new run began)
        if not self.run_open:
            self._term_seen = False
            if self.runs is not None:
                if self.runs[-1].ended and self._run_known:
                    self._new_run()
                self.runs[-1].started = True
        self.run_open = True
        self.last_start = (task_id, index)
        if self.runs is not None:
            self.runs[-1].last_start = self.last_start
        return self._open_batch(task_id)

    def _executor_of(self, batch: _Batch) -> Executor | None:
        if batch.executor is None and batch.samples:
            many = len(batch.samples) >= self._min_process
            return Executor.PROCESS if many else Executor.THREAD
        return batch.executor

    def _close(self, batch: _Batch, counts: Counts | None = None) -> None:
        """Count the batch's executor, and whether it was large enough for a process pool
        (by the program's rule, or it ran on one: the share's part is always in its whole),
        in ``counts`` (by default where the batch was counted)."""
        if counts is None:
            counts = batch.counts
        executor = self._executor_of(batch)
        if executor is Executor.PROCESS:
            counts["process_pool_used"] += 1
            counts["large_batches"] += 1
            return
        if executor is Executor.THREAD:
            counts["thread_pool_used"] += 1
        minimum = self._min_process
        if len(batch.samples) >= minimum or batch.floor >= minimum:
            counts["large_batches"] += 1

    def _attribute(self, task_id: str | None, executor: Executor | None, sample: Sample) -> None:
        """Apply an executor override or a sample to the batch it belongs to: the task's
        latest batch, or for a line without a task id the source's latest batch."""
        task_id = _batch_key(task_id)
        batch = self._open.get(task_id) if task_id is not None else self._last
        if batch is None:
            if self._detached and (task_id is None or task_id not in self._seen):
                self.unresolved.append((task_id, executor, sample))
            elif sample is not None:
                self.counts["samples"] += 1  # a sample of a batch never seen still counts
            return
        if executor is not None:
            batch.executor = executor
        if sample is not None and sample not in batch.samples:
            batch.samples.add(sample)
            if len(batch.samples) > batch.floor:
                self.counts["samples"] += 1

    def _count_once(self, batch: _Batch | None, key: CountKey, from_guard: bool) -> None:
        """Count one line about a batch's sample; the guard's and the program's lines about
        the same batch are counted apart and the larger number counts (see the docstring)."""
        if batch is None:
            self.counts[key] += 1
            return
        said = batch.said
        if said is None:
            said = batch.said = {}
        mine = said.get((key, from_guard), 0) + 1
        said[key, from_guard] = mine
        if mine > said.get((key, not from_guard), 0):
            self.counts[key] += 1

    # -- handlers ---------------------------------------------------------------------------

    def _task_start(self, event: Event) -> None:
        self.program_batches += 1
        index = event.batch_index
        if (self.run_open and self.runs is None and self._run_known
                and not _goes_back(index, self._run_index)):
            # the common case, one task after another in a run: what ``_run_boundary`` does
            # then, without its other cases (a start line per task of a large log)
            self._run_index = index
            self.last_start = (event.task_id, index)
        else:
            self._run_boundary(Kind.TASK_START, index, event.task_id)
        self._open_batch(event.task_id).joinable = True

    def _batch(self, event: Event) -> None:
        self.program_batches += 1
        self._join_or_open(event.task_id, event.batch_index)

    def _guard_decision(self, event: Event) -> None:
        named = _GUARD_TASK_BATCH.fullmatch(event.task_id or "")
        if named is not None:  # run_batch(..., batch="<task id>-<i>"): the program's task
            self.named_guard_batches += 1
            batch = self._join_or_open(named[1], int(named[2]))
            items = event.items or 0
            more = items - max(len(batch.samples), batch.floor)
            if more > 0:
                self.counts["samples"] += more
            batch.floor = max(batch.floor, items)
        else:  # the guard's own batch: its items are the samples
            batch = self._open_batch(event.task_id)
            batch.samples.update((None, index) for index in range(event.items or 0))
            self.counts["samples"] += len(batch.samples)
        batch.executor = _executor(event.executor)
        if event.message == "overload":
            self._count_overload(event.number)

    def _task_finished(self, event: Event) -> None:
        # scored/done come after the task's samples: its batch is complete
        if event.task_id is not None and event.task_id in self._open:
            self._close(self._open.pop(event.task_id))

    def _guard_done(self, event: Event) -> None:
        named = _GUARD_TASK_BATCH.fullmatch(event.task_id or "")
        key = named[1] if named is not None else event.task_id
        if key is None or key not in self._open:
            return
        # a named batch stays open for the program's lines about its samples
        batch = self._open[key] if named is not None else self._open.pop(key)
        batch.executor = _executor(event.executor) or batch.executor
        if named is None:
            self._close(batch)

    def _overload(self, event: Event) -> None:
        self._count_overload(event.number)
        self._attribute(event.task_id, Executor.SEQUENTIAL, None)

    def _count_overload(self, threads: int | None) -> None:
        self.counts["overload"] += 1
        self.counts["sequential"] += 1
        if threads is not None and threads > self._overload_split:
            self.counts["threads_over_60"] += 1
        else:
            self.counts["threads_40_60"] += 1

    def _pool_fallback(self, event: Event) -> None:
        self.counts["pool_fallback"] += 1
        if event.executor == "ProcessPoolExecutor":
            self.counts["process_pool_fallback"] += 1
        self._attribute(event.task_id, Executor.THREAD, None)

    def _thread_pool_fallback(self, event: Event) -> None:
        self.counts["thread_pool_fallback"] += 1
        self._to_sequential(event)

    def _parallel_failed(self, event: Event) -> None:
        self.counts["parallel_failed"] += 1
        self._to_sequential(event)

    def _to_sequential(self, event: Event) -> None:
        self.counts["sequential"] += 1
        self._attribute(event.task_id, Executor.SEQUENTIAL, None)

    def _sample_done(self, event: Event) -> None:
        # the most frequent event: the common case without a detour through _attribute; a
        # counting scan folds the task's sample lines that follow it into it (``samples``)
        batch = self._open.get(event.task_id)  # type: ignore[arg-type]
        first: Sample = (event.sample_type, event.sample_index)
        samples = (first,) if event.samples is None else (first, *event.samples)
        if batch is not None:
            seen = batch.samples
            for sample in samples:
                if sample not in seen:
                    seen.add(sample)
                    if len(seen) > batch.floor:
                        self.counts["samples"] += 1
        elif event.task_id is not None:
            for sample in samples:
                self._attribute(event.task_id, None, sample)

    def _sample_outcome(self, event: Event, key: CountKey) -> None:
        task_id = _batch_key(event.task_id)
        batch = self._open.get(task_id) if task_id is not None else None
        # the guard's item lines name no sample type; the program's always do
        from_guard = event.sample_type is None
        self._count_once(batch, key, from_guard)
        if task_id is not None and not from_guard:
            self._attribute(task_id, None, (event.sample_type, event.sample_index))

    def _memory_error(self, event: Event) -> None:
        if event.sample_index is not None:  # the guard's line: one item ran out of memory
            task_id = _batch_key(event.task_id)
            batch = self._open.get(task_id) if task_id is not None else None
            self._count_once(batch, "memory_errors", True)
            self._count_once(batch, "sample_failures", True)
        else:  # the program's `CRITICAL: MemoryError` line, about its latest batch
            self._count_once(self._last, "memory_errors", False)

    def _timed_out_sample(self, event: Event) -> None:
        self._sample_outcome(event, "sample_timeouts")

    def _failed_sample(self, event: Event) -> None:
        self._sample_outcome(event, "sample_failures")

    def _nested_exhaustion(self, event: Event) -> None:
        self.counts["nested_thread_exhaustion"] += 1
        if event.sample_type is not None:  # a task's sample (not an inline_differ item)
            self._failed_sample(event)

    def _given_up(self, event: Event) -> None:
        self.counts["thread_creation_failures"] += 1
        if event.sample_type is not None:  # a task's sample was given up: it failed
            self._failed_sample(event)

    def _script_timeout(self, event: Event) -> None:
        # `timeout -k` sends KILL after the TERM it already announced: one timeout, not two
        if event.error_type == "KILL" and self._term_seen:
            return
        self._term_seen = True
        self.counts["script_timeouts"] += 1

    # -- runs -------------------------------------------------------------------------------

    def _run_boundary(self, kind: Kind, index: int | None, task_id: str | None = None,
                      date: str | None = None) -> None:
        """A task starts (TASK_START), a run ends (RUN_SUMMARY) or a round begins (RUN_DATE)."""
        runs = self.runs
        if not self._run_known:
            self._run_known = True
            self.run_head = (kind, index)
            if runs is not None and kind is not Kind.RUN_SUMMARY:  # ``merge`` decides
                self._new_run()
                self._run_tentative = True
        else:
            if self.run_open and (
                kind is Kind.RUN_DATE
                or (kind is Kind.TASK_START and _goes_back(index, self._run_index))
            ):
                self.counts["cut_off_runs"] += 1
                if runs is not None:
                    runs[-1].cut_off = True
            if runs is not None and _begins_run(runs[-1], kind, index, self._run_index):
                self._new_run()
        if runs is not None:
            run = runs[-1]
            if kind is Kind.TASK_START:
                run.started = True
                run.last_start = (task_id, index)
            elif kind is Kind.RUN_SUMMARY:
                run.ended = True
            else:
                run.date = run.date or date
        if kind is Kind.TASK_START:
            if not self.run_open:
                self._term_seen = False
            self.run_open = True
            self._run_index = index
            self.last_start = (task_id, index)
        else:
            self.run_open = False
            self._run_index = None

    def _run_summary(self, event: Event) -> None:
        self.counts["runs_completed"] += 1
        self._run_boundary(Kind.RUN_SUMMARY, None)

    def _run_date(self, event: Event) -> None:
        self._run_boundary(Kind.RUN_DATE, None, date=event.message)

    def _new_run(self) -> None:
        assert self.runs is not None
        self.counts = dict.fromkeys(COUNT_KEYS, 0)
        self.runs.append(Run(self.counts))

    def _merge_runs(self, later: Tally) -> None:
        head = later.run_head
        if not self._run_known:  # a detached part without a boundary: the later part's
            # first boundary is still to be judged, by the tally of the part before
            self._run_known, self.run_head = later._run_known, head
            if self.runs is not None and later.runs is not None:
                self._append_run_records(later, list(later.runs))
                self._run_tentative = later._run_tentative
            head = None
        else:
            if head is not None and self.run_open and (
                head[0] is Kind.RUN_DATE
                or (head[0] is Kind.TASK_START and _goes_back(head[1], self._run_index))
            ):
                self.counts["cut_off_runs"] += 1
                if self.runs is not None:
                    self.runs[-1].cut_off = True
            if self.runs is not None and later.runs is not None:
                self._merge_run_records(later)
        if head is None:  # no run boundary in the later part: the run state carries on
            later.run_open = later.run_open or self.run_open
            later._run_index = self._run_index
            later.last_start = later.last_start or self.last_start
        self.run_open, self._run_index = later.run_open, later._run_index
        # a later part whose first boundary is a summary or a `date` line started no task yet
        self.last_start = later.last_start or self.last_start

    def _merge_run_records(self, later: Tally) -> None:
        """Append the later part's runs: its first (the lines before its first boundary) is
        the rest of this part's last run, and so is its second when that boundary did not
        begin a run after all (the later tally could not know: see ``_run_boundary``)."""
        assert self.runs is not None and later.runs is not None
        records = list(later.runs)
        mine = Run(dict(self.runs[-1].counts), self.runs[-1].date, self.runs[-1].started,
                   self.runs[-1].ended)
        mine.absorb(records[0])  # this run as it stands at the later part's first boundary
        head = later.run_head
        if later._run_tentative and head is not None and not _begins_run(
            mine, head[0], head[1], self._run_index
        ):
            records[0].absorb(records.pop(1))
        self._append_run_records(later, records)

    def _append_run_records(self, later: Tally, records: list[Run]) -> None:
        """Append ``records`` (the later part's runs), the first being the rest of this
        part's last run; the later part's open batches count where their runs went."""
        assert self.runs is not None
        mine = self.runs[-1]
        kept = {id(run) for run in records[1:]}
        moved = {id(run.counts): mine.counts for run in later.runs or () if id(run) not in kept}
        mine.absorb(records[0])
        self.runs += records[1:]
        for batch in later._open.values():
            batch.counts = moved.get(id(batch.counts), batch.counts)
        self.counts = self.runs[-1].counts

    def _count(self, key: CountKey) -> Callable[[Event], None]:
        def handle(event: Event) -> None:
            self.counts[key] += 1

        return handle


# Kinds with counting logic of their own; every other counted kind is a plain count, one a
# line, that its row of the message table names (``MessagePattern.counts``).
_SPECIAL: Mapping[Kind, Callable[[Tally, Event], None]] = {
    Kind.TASK_START: Tally._task_start,
    Kind.BATCH: Tally._batch,
    Kind.GUARD_DECISION: Tally._guard_decision,
    Kind.GUARD_BATCH_DONE: Tally._guard_done,
    Kind.OVERLOAD: Tally._overload,
    Kind.POOL_FALLBACK: Tally._pool_fallback,
    Kind.THREAD_POOL_FALLBACK: Tally._thread_pool_fallback,
    Kind.PARALLEL_FAILED: Tally._parallel_failed,
    Kind.EXECUTOR_CREATION_FAILED: Tally._to_sequential,
    Kind.SAMPLE_DONE: Tally._sample_done,
    Kind.SAMPLE_TIMEOUT: Tally._timed_out_sample,
    Kind.SAMPLE_FAILED: Tally._failed_sample,
    # the CRITICAL line that always follows is the memory error counted
    Kind.SAMPLE_MEMORY_ERROR: Tally._failed_sample,
    Kind.NESTED_THREAD_EXHAUSTION: Tally._nested_exhaustion,
    Kind.MEMORY_ERROR: Tally._memory_error,
    Kind.SCRIPT_TIMEOUT: Tally._script_timeout,
    Kind.RUN_SUMMARY: Tally._run_summary,
    Kind.RUN_DATE: Tally._run_date,
    Kind.THREAD_CREATION_FAILED: Tally._given_up,
    Kind.TASK_SCORED: Tally._task_finished,
    Kind.TASK_DONE: Tally._task_finished,
}
if _twice := sorted(kind.value for kind in PLAIN_COUNTS.keys() & _SPECIAL.keys()):
    raise ValueError(f"counted by a handler and by their table row: {', '.join(_twice)}")
# A live tail also reads the end of each task, which closes its batch at once (a one-shot
# report closes batches at the end instead and saves the work).
# A `date` line (the loop's round) also ends a run; finding it is one more pass over the text
# (its regex has no literal to skip to but the newline before it), and the loop prints it to its
# own output, not into the run's log (each round rewrites the log): a report finds run
# boundaries by task indexes alone, unless it counts each run apart (``RUN_KINDS``).
_LIVE_ONLY = frozenset({Kind.TASK_SCORED, Kind.TASK_DONE, Kind.RUN_DATE})
# Kinds the counts depend on: a scan for counting looks for nothing else.
COUNTED_KINDS: frozenset[Kind] = frozenset(PLAIN_COUNTS.keys() | _SPECIAL.keys()) - _LIVE_ONLY
LIVE_KINDS: frozenset[Kind] = COUNTED_KINDS | _LIVE_ONLY
# What a count of each run apart also looks for (``Tally(runs=True)``): the loop's `date` lines.
RUN_KINDS: frozenset[Kind] = COUNTED_KINDS | {Kind.RUN_DATE}


def count_key(name: object) -> CountKey:
    """``name`` as a count key (read back from saved state).

    Raises:
        ValueError: it is not one.
    """
    for key in COUNT_KEYS:
        if key == name:
            return key
    raise ValueError(f"not a count: {name!r}")


def _batch_state(batch: _Batch, bucket_of: Mapping[int, int]) -> list[Any]:
    said = [[key, from_guard, n] for (key, from_guard), n in (batch.said or {}).items()]
    return [bucket_of.get(id(batch.counts)), list(batch.samples),
            None if batch.executor is None else batch.executor.value, batch.joinable,
            batch.floor, said]


def _batch_from(state: Sequence[Any], counts_of: Callable[[int | None], Counts]) -> _Batch:
    bucket, samples, executor, joinable, *guarded = state  # states saved before the guard's
    batch = _Batch(counts_of(bucket), {(kind, index) for kind, index in samples},
                   None if executor is None else Executor(executor), bool(joinable))
    if guarded:  # a named guard batch's floor and its lines counted per side
        floor, said = guarded
        batch.floor = int(floor)
        batch.said = {(count_key(key), bool(from_guard)): int(n)
                      for key, from_guard, n in said} or None
    return batch


def _batch_key(task_id: str | None) -> str | None:
    """The key of a line's batch: a guard batch named ``<task id>-<i>`` is its task's."""
    if task_id is None or "-" not in task_id:
        return task_id
    named = _GUARD_TASK_BATCH.fullmatch(task_id)
    return named[1] if named is not None else task_id


def _goes_back(index: int | None, previous: int | None) -> bool:
    """A task index at or below the run's latest: a new run has begun."""
    return index is not None and previous is not None and index <= previous


def _executor(name: str | None) -> Executor | None:
    try:
        return Executor(name) if name is not None else None
    except ValueError:
        return None
