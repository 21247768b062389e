"""Guarded execution of one batch: the executor chain, per-item outcomes, and its events.

The chain (numbers from :class:`GuardPolicy`): the decision picks sequential, a thread pool or a
process pool (see ``policy.py``). Creating a pool and handing it an item are retried with
backoff (``pool_creation_attempts``, ``submit_attempts``); a pool that still fails, or breaks
(``OSError``, ``MemoryError``, ``RuntimeError``, ``BrokenExecutor`` -- and, for process pools,
a callable or an item its pickler cannot ship), is followed by ``gc.collect()`` and a thread
pool of one worker; if that fails too, the rest runs sequentially in the caller's thread.

Pickling is checked before the first item is handed to a process pool, with that pool's own
pickler (``pickle`` for the standard library's pool, cloudpickle for loky's): the callable,
then every item. Otherwise an item that cannot be pickled would fail in the pool's feeder
thread and be recorded as *that item* failing, although a thread could run it; instead the
whole batch falls back to the thread pool and the ``fallback`` event says which item could not
be pickled (``error=PicklingError message="item 3 cannot be sent to a worker process: ..."``).

Completion is tracked per item, so a fallback re-runs only the items that did not finish: an
item counts as finished when its value or its exception has reached the caller's process. Items
in threads and in the caller's thread therefore run exactly once; an item whose worker *process*
died, or was killed (because another worker died, or another item timed out), while it ran is
run again. Timeouts, memory errors and cancellation: see ``poolrun.py`` and ``batch.py``.
"""

from __future__ import annotations

import gc
import itertools
import logging
import os
import time
from concurrent.futures import Executor
from typing import TYPE_CHECKING, TypeVar

from threadwatch.guard.batch import Batch
from threadwatch.guard.eventlog import emit
from threadwatch.guard.outcome import BatchResult, Fallback, ItemStatus
from threadwatch.guard.policy import (
    Decision,
    DecisionReason,
    ExecutorKind,
    GuardPolicy,
    decide,
    pool_name,
)
from threadwatch.guard.poolrun import POOL_ERRORS, Deadline, run_on_pool, run_sequentially
from threadwatch.guard.pools import PoolAdapter, adapt, make_pool

if TYPE_CHECKING:  # 3.10+ syntax in aliases; the guard stays importable on 3.9
    from collections.abc import Callable, Iterable

    PoolFactory = Callable[[ExecutorKind, int, str | None], Executor]

__all__ = ["POOL_ERRORS", "default_pool_factory", "run_batch"]

T = TypeVar("T")
R = TypeVar("R")

_DEFAULT_POLICY = GuardPolicy()
_batch_numbers = itertools.count(1)


def default_pool_factory(kind: ExecutorKind, workers: int, context: str | None) -> Executor:
    """Create the standard library's pool: a process pool in ``context``, else a thread pool."""
    return make_pool("stdlib", kind, workers, context).executor


def _pool_maker(
    decision: Decision, policy: GuardPolicy, factory: PoolFactory | None
) -> Callable[[ExecutorKind, int], PoolAdapter]:
    chosen = factory or (policy.pool if callable(policy.pool) else None)
    name = pool_name(policy)

    def make(kind: ExecutorKind, workers: int) -> PoolAdapter:
        context = decision.context if kind is ExecutorKind.PROCESS else None
        if chosen is not None:
            return adapt(chosen(kind, workers, context), name, kind)
        return make_pool(name, kind, workers, context)

    return make


def _fall_back(
    batch: Batch[object, object],
    source: ExecutorKind,
    target: ExecutorKind,
    error: BaseException,
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
        logging.WARNING if decision.reason is DecisionReason.OVERLOAD else logging.INFO,
        "decision",
        ("batch", batch_id),
        ("items", decision.items),
        ("threads", decision.threads),
        ("executor", decision.executor.value),
        ("workers", decision.workers),
        ("reason", decision.reason.value),
        ("pool", decision.pool or "-"),
        ("context", decision.context or "-"),
    )


def _emit_done(batch: Batch[object, object], executor: ExecutorKind, seconds: float) -> None:
    statuses = batch.statuses
    emit(
        logging.INFO,
        "batch_done",
        ("batch", batch.batch_id),
        ("executor", executor.value),
        ("items", len(statuses)),
        ("ok", statuses.count(ItemStatus.OK)),
        ("failed", statuses.count(ItemStatus.FAILED)),
        ("seconds", f"{seconds:.3f}"),
        ("timed_out", statuses.count(ItemStatus.TIMED_OUT)),
        ("cancelled", statuses.count(ItemStatus.CANCELLED)),
        ("memory_errors", statuses.count(ItemStatus.MEMORY_ERROR)),
        ("stopped", batch.stop_reason or "-"),
    )


def _run_chain(
    batch: Batch[object, object],
    decision: Decision,
    make: Callable[[ExecutorKind, int], PoolAdapter],
    deadline: Deadline,
    fallbacks: list[Fallback],
) -> ExecutorKind:
    """Run the batch down the chain; return the executor the last items ran on."""
    executor = decision.executor
    failure = None
    if executor is not ExecutorKind.SEQUENTIAL:
        failure = run_on_pool(batch, executor, decision.workers, make, deadline)
    if failure is not None and batch.pending() and batch.stop_reason is None:
        fallbacks.append(_fall_back(batch, executor, ExecutorKind.THREAD, failure))
        executor = ExecutorKind.THREAD
        gc.collect()  # the failure may be memory: give the retry what can be freed
        failure = run_on_pool(batch, executor, 1, make, deadline)
        if failure is not None and batch.pending() and batch.stop_reason is None:
            fallbacks.append(_fall_back(batch, executor, ExecutorKind.SEQUENTIAL, failure))
            executor = ExecutorKind.SEQUENTIAL
    if executor is ExecutorKind.SEQUENTIAL and batch.stop_reason is None:
        run_sequentially(batch, deadline)
    return executor


def run_batch(
    fn: Callable[[T], R],
    items: Iterable[T],
    policy: GuardPolicy | None = None,
    *,
    batch: str | None = None,
    pool_factory: PoolFactory | None = None,
) -> BatchResult[R]:
    """Run ``fn`` over ``items`` through the guarded chain; return every outcome in input order.

    Args:
        fn: called once per item. For a process pool ``fn`` and the items must be picklable
            by that pool (``stdlib``: ``fn`` importable by the workers, a module-level
            function; ``loky``: cloudpickle ships ``__main__`` and exec'd functions too); if
            one of them cannot be pickled the whole batch falls back to a thread pool (a
            ``fallback`` event names the cause).
        items: the batch; it is materialised into a list first.
        policy: the chain's numbers; ``GuardPolicy()`` (run_batt's values) by default.
        batch: the batch's name in every line it logs; a program that names its batches
            ``"<task id>-<i>"`` (8 hex digits, the task's index) has the monitor count its
            lines and the guard's for that task as one batch. Default ``<pid>-<n>``.
        pool_factory: ``(kind, workers, start_method) -> Executor``; replaces the policy's
            pool for process and thread pools, e.g. to inject a failing pool in tests.

    An item that raises an ``Exception`` is recorded (``failed``, logged as ``item_failed``;
    ``MemoryError``: ``memory_error``, which stops the batch under the default
    ``on_memory_error="stop"``) and the other items go on. A ``BaseException`` that is not an
    ``Exception`` (``KeyboardInterrupt``, ``SystemExit`` from a signal handler) ends the batch:
    its worker processes are killed, its open items are ``cancelled``, ``batch_done`` is logged,
    and the exception propagates. Every decision, retry, fallback, item event and the batch's
    end are logged on the ``threadwatch.guard`` logger in the format of ``eventlog.py``.
    """
    active_policy = policy or _DEFAULT_POLICY
    started = time.perf_counter()
    deadline = Deadline(active_policy.batch_timeout_seconds)
    work = list(items)
    decision = decide(len(work), active_policy)
    batch_id = batch or f"{os.getpid()}-{next(_batch_numbers)}"
    state: Batch[object, object] = Batch(batch_id, fn, work, active_policy)  # type: ignore[arg-type]
    _emit_decision(batch_id, decision)

    make = _pool_maker(decision, active_policy, pool_factory)
    fallbacks: list[Fallback] = []
    executor = decision.executor
    try:
        with state:
            executor = _run_chain(state, decision, make, deadline, fallbacks)
    except BaseException:
        state.stop("interrupted")
        raise
    finally:
        if state.stop_reason == "batch_timeout":
            emit(
                logging.WARNING,
                "batch_timeout",
                ("batch", batch_id),
                ("seconds", f"{active_policy.batch_timeout_seconds}"),
                ("unfinished", len(state.pending())),
            )
        state.close_open_items(active_policy.batch_timeout_seconds or 0.0)
        seconds = time.perf_counter() - started
        _emit_done(state, executor, seconds)
    outcomes = state.outcomes()
    return BatchResult(
        batch_id,
        decision,
        executor,
        outcomes,  # type: ignore[arg-type]
        tuple(fallbacks),
        seconds,
        state.stop_reason,
    )
