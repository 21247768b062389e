"""Guarded execution of one batch: the executor chain, per-item outcomes, and its events.

The chain (numbers from :class:`GuardPolicy`): the decision picks sequential, a thread pool or a
process pool (see ``policy.py``); a pool that fails to start or breaks (``OSError``,
``MemoryError``, ``RuntimeError``, ``BrokenExecutor`` -- and, for process pools, a callable or
an item that cannot be pickled) is followed by ``gc.collect()`` and a thread pool of one worker;
if that fails too, the rest runs sequentially in the caller's thread.

Pickling is checked before a process pool is made: the callable, then every item (with plain
``pickle``, so each item is pickled once more than the pool itself does). Otherwise an item that
cannot be pickled would fail in the pool's feeder thread and be recorded as *that item*
failing, although a thread could run it; instead the whole batch falls back to the thread pool
and the ``fallback`` event says which item could not be pickled
(``error=PicklingError message="item 3 cannot be sent to a worker process: TypeError: ..."``).

Completion is tracked per item, so a fallback re-runs only the items that did not finish: an
item counts as finished when its value or its exception has reached the caller's process. Items
in threads and in the caller's thread therefore run exactly once; an item whose worker *process*
died, or was killed because another worker died, while it ran is run again. (Both pools queue an
item before they start the worker that fails; the guard keeps track of such items too.)
"""

from __future__ import annotations

import gc
import itertools
import logging
import os
import pickle
import time
from concurrent.futures import BrokenExecutor, Executor, Future
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from threadwatch.guard.eventlog import emit
from threadwatch.guard.policy import Decision, ExecutorKind, GuardPolicy, Reason, decide

if TYPE_CHECKING:  # 3.10+ syntax in aliases; the guard stays importable on 3.9
    from collections.abc import Callable, Iterable

    PoolFactory = Callable[[ExecutorKind, int, str | None], Executor]

__all__ = [
    "POOL_ERRORS",
    "BatchResult",
    "Fallback",
    "ItemOutcome",
    "default_pool_factory",
    "run_batch",
]

T = TypeVar("T")
R = TypeVar("R")

POOL_ERRORS = (OSError, MemoryError, RuntimeError, BrokenExecutor)
"""Errors that mean "this pool cannot run the batch" when raised by the pool itself."""

# What pickle raises for a callable or item a process pool cannot ship (lambdas, local
# functions, locks, open files, generators).
_PICKLE_ERRORS = (pickle.PicklingError, AttributeError, TypeError)

_DEFAULT_POLICY = GuardPolicy()
_batch_numbers = itertools.count(1)
_log = logging.getLogger("threadwatch.guard")


@dataclass(frozen=True)
class ItemOutcome(Generic[R]):
    """What one item gave: its ``value``, or the ``error`` it raised (then ``value`` is None)."""

    index: int
    value: R | None = None
    error: Exception | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class Fallback:
    """One step down the chain: the pool that failed, the executor that took over, and why."""

    from_executor: ExecutorKind
    to_executor: ExecutorKind
    error: BaseException
    remaining: int


@dataclass(frozen=True)
class BatchResult(Generic[R]):
    """The outcome of :func:`run_batch`: one :class:`ItemOutcome` per item, in input order.

    Item errors never abort the batch; read them from ``outcomes`` / ``failures``, or call
    :meth:`values`, which raises them together as an ``ExceptionGroup``.
    """

    batch_id: str
    decision: Decision
    executor: ExecutorKind  # where the last items ran, after any fallback
    outcomes: tuple[ItemOutcome[R], ...]
    fallbacks: tuple[Fallback, ...]
    seconds: float

    @property
    def failures(self) -> tuple[ItemOutcome[R], ...]:
        return tuple(outcome for outcome in self.outcomes if not outcome.ok)

    @property
    def ok_count(self) -> int:
        return len(self.outcomes) - len(self.failures)

    def values(self) -> list[R]:
        """Return every item's value in input order.

        Raises:
            ExceptionGroup: if any item raised; it holds those exceptions in input order and
                its message names their indices.
        """
        failures = self.failures
        if failures:
            indices = ", ".join(str(outcome.index) for outcome in failures)
            raise ExceptionGroup(
                f"{len(failures)} of {len(self.outcomes)} items failed in batch "
                f"{self.batch_id} (indices {indices})",
                [outcome.error for outcome in failures if outcome.error is not None],
            )
        return [outcome.value for outcome in self.outcomes]  # type: ignore[misc]  # all ok


class _Batch(Generic[T, R]):
    """Per-item completion state of one batch; each slot is written once, by one thread."""

    def __init__(self, batch_id: str, fn: Callable[[T], R], items: list[T]) -> None:
        self.batch_id = batch_id
        self.fn = fn
        self.items = items
        self.values: list[R | None] = [None] * len(items)
        self.errors: list[Exception | None] = [None] * len(items)
        self.done = [False] * len(items)

    def pending(self) -> list[int]:
        return [index for index, done in enumerate(self.done) if not done]

    def record_value(self, index: int, value: R) -> None:
        self.values[index] = value
        self.done[index] = True

    def record_error(self, index: int, error: Exception) -> None:
        self.errors[index] = error
        self.done[index] = True
        emit(
            logging.WARNING,
            "item_failed",
            ("batch", self.batch_id),
            ("index", index),
            ("error", type(error).__name__),
            ("message", str(error)),
        )

    def run_item(self, index: int) -> None:
        """Run one item here (caller's thread or a pool thread) and record what it gave."""
        try:
            value = self.fn(self.items[index])
        except Exception as error:
            self.record_error(index, error)
        else:
            self.record_value(index, value)

    def outcomes(self) -> tuple[ItemOutcome[R], ...]:
        return tuple(
            ItemOutcome(index, self.values[index], self.errors[index])
            for index in range(len(self.items))
        )


def default_pool_factory(kind: ExecutorKind, workers: int, context: str | None) -> Executor:
    """Create the pool the chain asks for: a process pool in ``context``, else a thread pool."""
    if kind is ExecutorKind.PROCESS:
        # deferred imports keep `import threadwatch.guard` light for cleanup-guard-only users
        import multiprocessing  # noqa: PLC0415
        from concurrent.futures import ProcessPoolExecutor  # noqa: PLC0415

        return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context(context))
    from concurrent.futures import ThreadPoolExecutor  # noqa: PLC0415

    return ThreadPoolExecutor(workers, thread_name_prefix="threadwatch-guard")


def _submit_pending(
    batch: _Batch[Any, Any],
    pool: Executor,
    in_process: bool,
    submitted: list[tuple[int, Future[Any]]],
) -> BaseException | None:
    for index in batch.pending():
        work_id = getattr(pool, "_queue_count", None)
        try:
            if in_process:
                future = pool.submit(batch.fn, batch.items[index])
            else:
                future = pool.submit(batch.run_item, index)
        except POOL_ERRORS as error:
            _adopt_orphan(pool, work_id, index, submitted)
            return error
        submitted.append((index, future))
    return None


def _adopt_orphan(
    pool: Executor, work_id: object, index: int, submitted: list[tuple[int, Future[Any]]]
) -> None:
    # ProcessPoolExecutor.submit queues the item *before* starting a worker, so a submit that
    # raises may still have its item run by an existing worker. Keep that item's future so its
    # result counts and it is not run again. (Thread items record themselves: see run_item.)
    orphan = getattr(pool, "_pending_work_items", {}).get(work_id)
    future = getattr(orphan, "future", None)
    if isinstance(future, Future):
        submitted.append((index, future))


def _collect(
    batch: _Batch[Any, Any],
    submitted: list[tuple[int, Future[Any]]],
    in_process: bool,
    settled_only: bool,
) -> BaseException | None:
    """Record what the futures gave (threads record their own items); return a pool break."""
    broken: BaseException | None = None
    for index, future in submitted:
        if batch.done[index] or (settled_only and (not future.done() or future.cancelled())):
            continue
        try:
            value = future.result()
        except BrokenExecutor as error:
            broken = broken or error
            continue
        except Exception as error:
            if in_process:
                batch.record_error(index, error)
            continue
        if in_process:
            batch.record_value(index, value)
    return broken


def _shutdown(pool: Executor, cancel: bool) -> None:
    _reap_unmanaged_workers(pool)  # before shutdown(), which forgets the worker list
    try:
        pool.shutdown(wait=True, cancel_futures=cancel)
    except POOL_ERRORS as error:  # the results are in hand; a failing shutdown must not lose them
        _log.warning("threadwatch.guard: pool shutdown failed: %r", error)


def _reap_unmanaged_workers(pool: Executor) -> None:
    # A process pool whose start failed half-way may leave workers that no manager thread will
    # ever stop; multiprocessing would wait for them at interpreter exit.
    processes = getattr(pool, "_processes", None)
    if processes and getattr(pool, "_executor_manager_thread", True) is None:
        for process in list(processes.values()):
            process.terminate()


def _pickling_failure(batch: _Batch[Any, Any]) -> BaseException | None:
    """Why the process pool could not ship the callable or a pending item, or None."""
    try:
        pickle.dumps(batch.fn)  # a lambda would otherwise fail every item, one by one
    except _PICKLE_ERRORS as error:
        return error
    for index in batch.pending():
        try:
            pickle.dumps(batch.items[index])
        except _PICKLE_ERRORS as error:
            failure = pickle.PicklingError(
                f"item {index} cannot be sent to a worker process: "
                f"{type(error).__name__}: {error}"
            )
            failure.__cause__ = error
            return failure
    return None


def _run_pool(
    batch: _Batch[Any, Any],
    kind: ExecutorKind,
    workers: int,
    context: str | None,
    pool_factory: PoolFactory,
) -> BaseException | None:
    """Run the pending items on one pool; return the error that made the pool fail, if any."""
    in_process = kind is ExecutorKind.PROCESS
    if in_process:
        unpicklable = _pickling_failure(batch)
        if unpicklable is not None:
            return unpicklable
    try:
        pool = pool_factory(kind, workers, context)
    except POOL_ERRORS as error:
        return error
    submitted: list[tuple[int, Future[Any]]] = []
    failure: BaseException | None = None
    cancel = True
    try:
        failure = _submit_pending(batch, pool, in_process, submitted)
        if failure is None:
            failure = _collect(batch, submitted, in_process, settled_only=False)
            cancel = failure is not None
    finally:
        _shutdown(pool, cancel)
    if failure is not None:  # keep whatever finished while the pool was going down
        _collect(batch, submitted, in_process, settled_only=True)
    return failure


def _fall_back(
    batch: _Batch[Any, Any], source: ExecutorKind, target: ExecutorKind, error: BaseException
) -> Fallback:
    step = Fallback(source, target, error, len(batch.pending()))
    emit(
        logging.WARNING,
        "fallback",
        ("batch", batch.batch_id),
        ("from", source.value),
        ("to", target.value),
        ("error", type(error).__name__),
        ("message", str(error)),
        ("remaining", step.remaining),
    )
    return step


def _emit_decision(batch_id: str, decision: Decision) -> None:
    emit(
        logging.WARNING if decision.reason is Reason.OVERLOAD else logging.INFO,
        "decision",
        ("batch", batch_id),
        ("items", decision.items),
        ("threads", decision.threads),
        ("executor", decision.executor.value),
        ("workers", decision.workers),
        ("reason", decision.reason.value),
        ("context", decision.context or "-"),
    )


def run_batch(
    fn: Callable[[T], R],
    items: Iterable[T],
    policy: GuardPolicy | None = None,
    *,
    pool_factory: PoolFactory | None = None,
) -> BatchResult[R]:
    """Run ``fn`` over ``items`` through the guarded chain; return every outcome in input order.

    Args:
        fn: called once per item. For a process pool ``fn`` and the items must be picklable
            and ``fn`` importable by the worker processes (a module-level function); if one of
            them cannot be pickled the whole batch falls back to a thread pool (a ``fallback``
            event names the cause).
        items: the batch; it is materialised into a list first.
        policy: the chain's numbers; ``GuardPolicy()`` (run_batt's values) by default.
        pool_factory: ``(kind, workers, start_method) -> Executor``; replaces
            :func:`default_pool_factory`, e.g. to inject a failing pool in tests.

    An item that raises an ``Exception`` is recorded (and logged as ``item_failed``); the other
    items go on. ``BaseException``\\ s other than ``Exception`` (KeyboardInterrupt, SystemExit)
    propagate after the pool is shut down. Every decision, fallback and the batch's end are
    logged on the ``threadwatch.guard`` logger in the format of ``eventlog.py``.
    """
    active_policy = policy or _DEFAULT_POLICY
    factory: PoolFactory = pool_factory or default_pool_factory
    started = time.perf_counter()
    work = list(items)
    decision = decide(len(work), active_policy)
    batch: _Batch[T, R] = _Batch(f"{os.getpid()}-{next(_batch_numbers)}", fn, work)
    _emit_decision(batch.batch_id, decision)

    executor = decision.executor
    fallbacks: list[Fallback] = []
    failure = None
    if executor is not ExecutorKind.SEQUENTIAL:
        failure = _run_pool(batch, executor, decision.workers, decision.context, factory)
    if failure is not None and batch.pending():
        fallbacks.append(_fall_back(batch, executor, ExecutorKind.THREAD, failure))
        executor = ExecutorKind.THREAD
        gc.collect()  # the failure may be memory: give the retry what can be freed
        failure = _run_pool(batch, executor, 1, None, factory)
        if failure is not None and batch.pending():
            fallbacks.append(_fall_back(batch, executor, ExecutorKind.SEQUENTIAL, failure))
            executor = ExecutorKind.SEQUENTIAL
    if executor is ExecutorKind.SEQUENTIAL:
        for index in batch.pending():
            batch.run_item(index)

    outcomes = batch.outcomes()
    failed = sum(1 for outcome in outcomes if not outcome.ok)
    seconds = time.perf_counter() - started
    emit(
        logging.INFO,
        "batch_done",
        ("batch", batch.batch_id),
        ("executor", executor.value),
        ("items", len(work)),
        ("ok", len(work) - failed),
        ("failed", failed),
        ("seconds", f"{seconds:.3f}"),
    )
    return BatchResult(batch.batch_id, decision, executor, outcomes, tuple(fallbacks), seconds)
