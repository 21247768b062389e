"""Events → the counts and rates of BRIEF §4, for one scope (a file, a window, everything).

The executor a batch ended on is rarely printed; it follows the program's fixed rule (BRIEF §2):
overload → sequential; fewer than ``process_min_batch`` distinct samples → thread pool;
otherwise process pool; a fallback or failure line for the batch overrides that. A batch with
no sample seen and no such line (a run killed mid-batch) has no known executor and counts in
neither ``process_pool_used`` nor ``thread_pool_used``.

Lines without a task id (overload, pool failures) belong to the latest batch of their source;
samples belong to the latest batch of their task id. A batch closes (its executor is counted)
when its task is scored or done, when the task starts another batch, or when too many batches
are open (the oldest first, so memory does not grow with the input); ``provisional`` counts
the open ones for a live view.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from threadwatch.events import Event, Executor, Kind

COUNT_KEYS: tuple[str, ...] = (
    "batches",
    "overload",
    "threads_over_60",
    "threads_40_60",
    "pool_fallback",
    "process_pool_fallback",
    "thread_pool_fallback",
    "parallel_failed",
    "sequential",
    "process_pool_used",
    "thread_pool_used",
    "sample_timeouts",
    "sample_failures",
    "thread_keyerror",
    "thread_errors",
    "memory_errors",
    "script_timeouts",
    "runs_completed",
)
RATE_KEYS: tuple[str, ...] = (
    "overload",
    "sequential",
    "process_pool_used",
    "threads_over_60",
    "threads_40_60",
)
# Kinds the counts depend on: a scan for counting looks for nothing else.
COUNTED_KINDS: frozenset[Kind] = frozenset(
    {
        Kind.BATCH,
        Kind.OVERLOAD,
        Kind.POOL_FALLBACK,
        Kind.THREAD_POOL_FALLBACK,
        Kind.PARALLEL_FAILED,
        Kind.EXECUTOR_CREATION_FAILED,
        Kind.SAMPLE_DONE,
        Kind.SAMPLE_TIMEOUT,
        Kind.SAMPLE_FAILED,
        Kind.RUN_SUMMARY,
        Kind.MEMORY_ERROR,
        Kind.SCRIPT_TIMEOUT,
        Kind.GUARD_DECISION,
        Kind.GUARD_BATCH_DONE,
        Kind.THREAD_CLEANUP_KEYERROR,
        Kind.THREAD_ERROR,
    }
)
# A live tail also reads the end of each task, which closes its batch at once (a one-shot
# report closes batches at the end instead and saves the work).
LIVE_KINDS: frozenset[Kind] = COUNTED_KINDS | {Kind.TASK_SCORED, Kind.TASK_DONE}
OVER_60 = 60  # an overload line with more threads than this counts in threads_over_60
_MAX_OPEN_BATCHES = 64
_MAX_SEEN_TASKS = 4096


def rates_of(counts: dict[str, int]) -> dict[str, float | None]:
    """Rates per batch; None when there are no batches."""
    batches = counts["batches"]
    return {key: (counts[key] / batches if batches else None) for key in RATE_KEYS}


def add_counts(total: dict[str, int], more: Mapping[str, int]) -> None:
    """Add ``more`` into ``total`` key by key."""
    for key, value in more.items():
        total[key] += value


Sample = tuple[str | None, int | None] | None


@dataclass(slots=True)
class _Batch:
    counts: dict[str, int]  # where the batch was counted: its executor is counted there too
    samples: set[Sample] = field(default_factory=set)
    executor: Executor | None = None


class Tally:
    """Running counts of one scope; ``add`` events in order, then ``finish``.

    ``counts`` may be swapped for a fresh dict at any time (a sliding window does, per time
    bucket): later events count into the new one, and a batch's executor is counted in the
    dict its batch was counted in. Such a dict may be sparse (a ``defaultdict(int)``).

    Args:
        process_min_batch: the program's rule: this many samples or more → process pool.
        detached: the tally starts in the middle of a source (a parallel scan's later part):
            events that belong to a batch begun before it are kept in ``unresolved`` for
            ``merge`` to hand to the tally of the part before.
    """

    def __init__(self, process_min_batch: int = 4, *, detached: bool = False) -> None:
        self.counts: dict[str, int] = dict.fromkeys(COUNT_KEYS, 0)
        # (task id, executor override, sample) that belong to a batch before a detached part
        self.unresolved: list[tuple[str | None, Executor | None, Sample]] = []
        self._min_process = process_min_batch
        self._detached = detached
        # OrderedDict: evicting the oldest is O(1) (a dict's first key after many deletions
        # is found by scanning past the holes: measured 7 µs per batch)
        self._open: OrderedDict[str, _Batch] = OrderedDict()
        self._last: _Batch | None = None
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._handlers = self._make_handlers()

    def __getstate__(self) -> dict[str, object]:
        # handlers are bound closures: rebuilt after unpickling (tallies cross processes)
        return {k: v for k, v in self.__dict__.items() if k != "_handlers"}

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)
        self._handlers = self._make_handlers()

    def _make_handlers(self) -> dict[Kind, Callable[[Event], None]]:
        return {
            Kind.BATCH: self._batch,
            Kind.GUARD_DECISION: self._guard_decision,
            Kind.GUARD_BATCH_DONE: self._guard_done,
            Kind.OVERLOAD: self._overload,
            Kind.POOL_FALLBACK: self._pool_fallback,
            Kind.THREAD_POOL_FALLBACK: self._to_sequential("thread_pool_fallback"),
            Kind.PARALLEL_FAILED: self._to_sequential("parallel_failed"),
            Kind.EXECUTOR_CREATION_FAILED: self._to_sequential(None),
            Kind.SAMPLE_DONE: self._sample_done,
            Kind.SAMPLE_TIMEOUT: self._sample("sample_timeouts"),
            Kind.SAMPLE_FAILED: self._sample("sample_failures"),
            Kind.THREAD_CLEANUP_KEYERROR: self._count("thread_keyerror"),
            Kind.THREAD_ERROR: self._count("thread_errors"),
            Kind.MEMORY_ERROR: self._count("memory_errors"),
            Kind.SCRIPT_TIMEOUT: self._count("script_timeouts"),
            Kind.RUN_SUMMARY: self._count("runs_completed"),
            Kind.TASK_SCORED: self._task_finished,
            Kind.TASK_DONE: self._task_finished,
        }

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

    def finish(self) -> dict[str, int]:
        """Close every open batch and return the counts."""
        for batch in self._open.values():
            self._close(batch)
        self._open.clear()
        return self.counts

    def provisional(self, within: Iterable[dict[str, int]]) -> dict[str, int]:
        """Executor counts of the batches still open, as the rule reads them now, for those
        counted in one of the ``within`` dicts (a live window counts them before they close)."""
        live = {id(counts) for counts in within}
        counts = {"process_pool_used": 0, "thread_pool_used": 0}
        for batch in self._open.values():
            if id(batch.counts) not in live:
                continue
            executor = self._executor_of(batch)
            if executor is Executor.PROCESS:
                counts["process_pool_used"] += 1
            elif executor is Executor.THREAD:
                counts["thread_pool_used"] += 1
        return counts

    def merge(self, later: Tally) -> None:
        """Append a detached tally of the part of the source that follows this one."""
        for task_id, executor, sample in later.unresolved:
            self._attribute(task_id, executor, sample)
        for batch in self._open.values():
            self._close(batch)
        add_counts(self.counts, later.counts)
        for batch in later._open.values():
            batch.counts = self.counts
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

    def _executor_of(self, batch: _Batch) -> Executor | None:
        if batch.executor is None and batch.samples:
            many = len(batch.samples) >= self._min_process
            return Executor.PROCESS if many else Executor.THREAD
        return batch.executor

    def _close(self, batch: _Batch) -> None:
        executor = self._executor_of(batch)
        if executor is Executor.PROCESS:
            batch.counts["process_pool_used"] += 1
        elif executor is Executor.THREAD:
            batch.counts["thread_pool_used"] += 1

    def _attribute(self, task_id: str | None, executor: Executor | None, sample: Sample) -> None:
        """Apply an executor override or a sample to the batch it belongs to: the task's
        latest batch, or for a line without a task id the source's latest batch."""
        batch = self._open.get(task_id) if task_id is not None else self._last
        if batch is None:
            if self._detached and (task_id is None or task_id not in self._seen):
                self.unresolved.append((task_id, executor, sample))
            return
        if executor is not None:
            batch.executor = executor
        if sample is not None:
            batch.samples.add(sample)

    # -- handlers ---------------------------------------------------------------------------

    def _batch(self, event: Event) -> None:
        self._open_batch(event.task_id)

    def _guard_decision(self, event: Event) -> None:
        batch = self._open_batch(event.task_id)
        batch.executor = _executor(event.executor)
        if event.message == "overload":
            self._count_overload(event.number)

    def _task_finished(self, event: Event) -> None:
        # scored/done come after the task's samples: its batch is complete
        if event.task_id is not None and event.task_id in self._open:
            self._close(self._open.pop(event.task_id))

    def _guard_done(self, event: Event) -> None:
        if event.task_id is None or event.task_id not in self._open:
            return
        batch = self._open.pop(event.task_id)
        batch.executor = _executor(event.executor) or batch.executor
        self._close(batch)

    def _overload(self, event: Event) -> None:
        self._count_overload(event.number)
        self._attribute(event.task_id, Executor.SEQUENTIAL, None)

    def _count_overload(self, threads: int | None) -> None:
        self.counts["overload"] += 1
        self.counts["sequential"] += 1
        if threads is not None and threads > OVER_60:
            self.counts["threads_over_60"] += 1
        else:
            self.counts["threads_40_60"] += 1

    def _pool_fallback(self, event: Event) -> None:
        self.counts["pool_fallback"] += 1
        if event.executor == "ProcessPoolExecutor":
            self.counts["process_pool_fallback"] += 1
        self._attribute(event.task_id, Executor.THREAD, None)

    def _to_sequential(self, key: str | None) -> Callable[[Event], None]:
        def handle(event: Event) -> None:
            if key is not None:
                self.counts[key] += 1
            self.counts["sequential"] += 1
            self._attribute(event.task_id, Executor.SEQUENTIAL, None)

        return handle

    def _sample_done(self, event: Event) -> None:
        # the most frequent event: the common case without a detour through _attribute
        batch = self._open.get(event.task_id)  # type: ignore[arg-type]
        if batch is not None:
            batch.samples.add((event.sample_type, event.sample_index))
        elif event.task_id is not None:
            self._attribute(event.task_id, None, (event.sample_type, event.sample_index))

    def _sample(self, key: str | None) -> Callable[[Event], None]:
        def handle(event: Event) -> None:
            if key is not None:
                self.counts[key] += 1
            if event.task_id is not None:
                self._attribute(event.task_id, None, (event.sample_type, event.sample_index))

        return handle

    def _count(self, key: str) -> Callable[[Event], None]:
        def handle(event: Event) -> None:
            self.counts[key] += 1

        return handle


def _executor(name: str | None) -> Executor | None:
    try:
        return Executor(name) if name is not None else None
    except ValueError:
        return None
