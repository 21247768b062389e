"""Running a batch's open items on pools of one kind, or in the caller's thread.

``run_on_pool`` creates a pool (retrying with backoff), hands it items (each submit retried
with backoff) and waits for them, with the policy's deadlines:

- Without an item timeout every item is handed over at once. With one, no more items are
  handed over than there are workers, so an item's clock starts when a worker is free for it
  (a fresh process pool's start-up counts against its first items).
- An item past its timeout is ``timed_out``. A process pool running it is replaced: its
  workers are killed, the other items it was running are handed to the new pool (they start
  again). A thread pool is abandoned: the thread finishes the item on its own and its result
  is dropped; the items not yet started go to a new pool.
- At the batch deadline, or when the batch is stopped (a memory error under
  ``on_memory_error="stop"``, a cancellation), the pool's workers are killed or abandoned and
  the call returns at once.

A pool that cannot be created, or takes no item, or breaks, ends the call with that error: the
chain falls back (``executor.py``). Items it finished count; the others are still open.
"""

from __future__ import annotations

import gc
import logging
import math
import queue
import threading
import time
from collections import deque
from concurrent.futures import BrokenExecutor, Future
from typing import TYPE_CHECKING, Any

from threadwatch.guard.eventlog import emit
from threadwatch.guard.policy import ExecutorKind

if TYPE_CHECKING:
    from collections.abc import Callable

    from threadwatch.guard.batch import Batch
    from threadwatch.guard.eventlog import Field
    from threadwatch.guard.pools import PoolAdapter

    PoolMaker = Callable[[ExecutorKind, int], PoolAdapter]

__all__ = ["POOL_ERRORS", "Deadline", "pickling_failure", "run_on_pool", "run_sequentially"]

POOL_ERRORS = (OSError, MemoryError, RuntimeError, BrokenExecutor)
"""Errors that mean "this pool cannot run the batch" when raised by the pool itself."""

_POLL_SECONDS = 0.1  # how often a waiting batch looks at its stop flag and deadlines


def pickling_failure(batch: Batch[Any, Any], pool: PoolAdapter) -> BaseException | None:
    """Why ``pool`` could not ship the callable or an open item (with its own pickler), or None."""
    try:
        pool.dumps(batch.fn)  # a lambda would otherwise fail every item, one by one
    except Exception as error:  # pickle raises PicklingError, TypeError, AttributeError, ...
        return error
    for index in batch.pending():
        try:
            pool.dumps(batch.items[index])
        except Exception as error:
            import pickle  # noqa: PLC0415  # only for the error type

            failure = pickle.PicklingError(
                f"item {index} cannot be sent to a worker process: "
                f"{type(error).__name__}: {error}"
            )
            failure.__cause__ = error
            return failure
    return None


class Deadline:
    """When the batch must be back (``at`` is infinite without a batch timeout)."""

    def __init__(self, seconds: float | None) -> None:
        self.seconds = seconds
        self.at = math.inf if seconds is None else time.monotonic() + seconds

    def passed(self) -> bool:
        return time.monotonic() >= self.at


def _pause(seconds: float, deadline: Deadline) -> None:
    time.sleep(max(0.0, min(seconds, deadline.at - time.monotonic())))
    gc.collect()  # the failure may be memory or threads held by garbage: free what can be


class _PoolRun:
    """One call of :func:`run_on_pool`: the current pool, the items handed to it, the queue."""

    def __init__(
        self,
        batch: Batch[Any, Any],
        kind: ExecutorKind,
        workers: int,
        make_pool: PoolMaker,
        deadline: Deadline,
    ) -> None:
        self.batch = batch
        self.policy = batch.policy
        self.kind = kind
        self.workers = workers
        self.make_pool = make_pool
        self.deadline = deadline
        self.pool: PoolAdapter | None = None
        self.waiting: deque[int] = deque(batch.pending())
        # index -> (future, when handed over, whether a process runs it: then its future holds
        # the item's result; a thread records its item itself); done futures report through
        # `finished`
        self.running: dict[int, tuple[Future[Any], float, bool]] = {}
        self.finished: queue.SimpleQueue[tuple[int, Future[Any]]] = queue.SimpleQueue()
        timed = self.policy.item_timeout_seconds is not None
        self.window = workers if timed else max(1, len(self.waiting))

    # -- the pool ---------------------------------------------------------------------------

    def open_pool(self) -> BaseException | None:
        """Create the pool, retrying with backoff; then check that it can ship the items."""
        attempts = self.policy.pool_creation_attempts
        delay = self.policy.creation_backoff_seconds
        for attempt in range(1, attempts + 1):
            try:
                pool = self.make_pool(self.kind, self.workers)
            except POOL_ERRORS as error:
                if attempt == attempts or self.deadline.passed():
                    self._emit_give_up("pool_creation_failed", None, attempt, error)
                    return error
                self._emit_retry("pool_creation_retry", None, attempt, delay, error)
                _pause(delay, self.deadline)
                delay *= 2
                continue
            if pool.in_process:
                unpicklable = pickling_failure(self.batch, pool)
                if unpicklable is not None:
                    pool.shutdown(cancel=True)
                    return unpicklable
            self.pool = pool
            self.batch.pool = pool
            return None
        raise AssertionError("unreachable")  # pragma: no cover

    def close_pool(self, wait: bool) -> None:
        pool, self.pool = self.pool, None
        self.batch.pool = None
        if pool is None:
            return
        if wait:
            # items still running (the pool failed while they ran) are let finish: what they
            # give counts, and the next executor must not run them a second time
            unfinished = any(not future.done() for future, _, _ in self.running.values())
            pool.shutdown(cancel=not unfinished)
        else:  # stopping: end workers now, do not wait for threads
            pool.kill_workers()
            pool.abandon()

    def _replace_pool(self) -> None:
        """An item timed out: end (processes) or abandon (threads) the pool; hand its other
        unfinished items to the next one."""
        pool = self.pool
        if pool is None:
            return
        for index, (future, _, _) in list(self.running.items()):
            if future.done():
                continue  # its result is in `finished` already
            if pool.in_process or future.cancel():  # killed, or not started yet
                del self.running[index]
                self.waiting.appendleft(index)
        if pool.in_process:
            pool.kill_workers()
            self.close_pool(wait=True)  # the workers are dead: nothing to wait for but threads
        else:
            self.pool = None
            self.batch.pool = None
            pool.abandon()

    def _emit_retry(
        self, event: str, index: int | None, attempt: int, delay: float, error: BaseException
    ) -> None:
        self._emit_attempt(event, index, error, ("attempt", attempt),
                           ("attempts", self._attempts(event)), ("delay", f"{max(0.0, delay):.3f}"))

    def _emit_give_up(
        self, event: str, index: int | None, attempt: int, error: BaseException
    ) -> None:
        self._emit_attempt(event, index, error, ("attempts", attempt))

    def _emit_attempt(self, event: str, index: int | None, error: BaseException,
                      *fields: Field) -> None:
        """A retry or give-up line: the batch, item and executor, ``fields``, the error."""
        emit(
            logging.WARNING,
            event,
            ("batch", self.batch.batch_id),
            *((("index", index),) if index is not None else ()),
            ("executor", self.kind.value),
            *fields,
            ("error", type(error).__name__),
            ("message", str(error)),
        )

    def _attempts(self, event: str) -> int:
        if event.startswith("pool_creation"):
            return self.policy.pool_creation_attempts
        return self.policy.submit_attempts

    # -- handing items over -----------------------------------------------------------------

    def submit(self, index: int) -> BaseException | None:
        """Hand one item to the pool, retrying with backoff; None once it is handed over."""
        attempts = self.policy.submit_attempts
        delay = self.policy.submit_backoff_seconds
        batch = self.batch
        for attempt in range(1, attempts + 1):
            pool = self.pool
            assert pool is not None
            try:
                if pool.in_process:
                    future = pool.submit(batch.fn, batch.items[index])
                else:
                    future = pool.submit(batch.run_item, index)
                in_process = pool.in_process
            except BrokenExecutor as error:
                return error  # a broken pool takes nothing more
            except POOL_ERRORS as error:
                orphan = pool.orphan()
                if orphan is not None:  # queued all the same: it counts, the pool does not
                    self._hand_over(index, orphan, pool.in_process)
                    return error
                if attempt == attempts or self.deadline.passed():
                    self._emit_give_up("submit_failed", index, attempt, error)
                    return error
                self._emit_retry("submit_retry", index, attempt, delay, error)
                _pause(delay, self.deadline)
                delay *= 2
                continue
            self._hand_over(index, future, in_process)
            return None
        raise AssertionError("unreachable")  # pragma: no cover

    def _hand_over(self, index: int, future: Future[Any], in_process: bool) -> None:
        self.running[index] = (future, time.monotonic(), in_process)
        finished = self.finished

        def report(done: Future[Any], at: int = index) -> None:
            finished.put((at, done))

        future.add_done_callback(report)

    # -- collecting -------------------------------------------------------------------------

    def collect(self, block: bool) -> BaseException | None:
        """Record what finished (waiting for one if ``block``); return a pool break, if any."""
        broken: BaseException | None = None
        timeout = self._next_wakeup() if block else 0.0
        try:
            entry: tuple[int, Future[Any]] | None = self.finished.get(timeout=timeout)
        except queue.Empty:
            entry = None
        while entry is not None:
            broken = self._settle(*entry) or broken
            try:
                entry = self.finished.get_nowait()
            except queue.Empty:
                entry = None
        return broken

    def _settle(self, index: int, future: Future[Any]) -> BaseException | None:
        handed = self.running.get(index)
        if handed is None or handed[0] is not future:
            return None  # an item taken back from a replaced pool: its new run counts
        del self.running[index]
        if future.cancelled():
            self.waiting.appendleft(index)
            return None
        return _record(self.batch, index, future, handed[2])

    def _next_wakeup(self) -> float:
        soonest = min(self.deadline.at, time.monotonic() + _POLL_SECONDS)
        limit = self.policy.item_timeout_seconds
        if limit is not None and self.running:
            soonest = min(soonest, min(at for _, at, _ in self.running.values()) + limit)
        return max(0.0, soonest - time.monotonic())

    def time_out_items(self) -> None:
        limit = self.policy.item_timeout_seconds
        if limit is None:
            return
        now = time.monotonic()
        late = [
            (index, now - at)
            for index, (future, at, _) in self.running.items()
            if now - at >= limit and not future.done()
        ]
        if not late:
            return
        for index, seconds in late:
            self.batch.record_timeout(index, seconds)
            del self.running[index]
        self._replace_pool()

    # -- the loop ---------------------------------------------------------------------------

    def run(self) -> BaseException | None:
        batch = self.batch
        while (self.waiting or self.running) and batch.stop_reason is None:
            while self.waiting and len(self.running) < self.window:
                index = self.waiting[0]
                if batch.is_settled(index):
                    self.waiting.popleft()
                    continue
                if self.pool is None:
                    failure = self.open_pool()
                    if failure is not None:
                        return failure
                failure = self.submit(index)
                if index in self.running:
                    self.waiting.popleft()
                if failure is not None:
                    return failure
            broken = self.collect(block=bool(self.running))
            if broken is not None:
                return broken
            if self.deadline.passed():
                batch.stop("batch_timeout")
            self.time_out_items()
        return None

    def salvage(self) -> None:
        """Record the items that finished while the pool was failing or being stopped."""
        for index, (future, _, in_process) in list(self.running.items()):
            if future.done() and not future.cancelled():
                _record(self.batch, index, future, in_process)


def _record(
    batch: Batch[Any, Any], index: int, future: Future[Any], in_process: bool
) -> BaseException | None:
    """Record a done future's item; return the pool's break if that is what it holds."""
    error = future.exception()
    if isinstance(error, BrokenExecutor):
        return error  # the item stays open: the next executor runs it
    if not in_process:
        return None  # the thread recorded its own item (run_item)
    if error is not None:
        batch.record_error(index, error)
    else:
        batch.record_value(index, future.result())
    return None


def run_on_pool(
    batch: Batch[Any, Any],
    kind: ExecutorKind,
    workers: int,
    make_pool: PoolMaker,
    deadline: Deadline,
) -> BaseException | None:
    """Run the batch's open items on pools of ``kind``; return the error that made a pool fail
    (the chain then falls back), or None when every item is settled or the batch stopped."""
    run = _PoolRun(batch, kind, workers, make_pool, deadline)
    failure: BaseException | None = None
    stopping = True
    try:
        failure = run.run()
        stopping = batch.stop_reason is not None
    finally:
        if stopping and batch.stop_reason is None:
            batch.stop("interrupted")  # an exception is passing through: end what runs
        run.salvage()
        # items still running finish before the next executor takes the rest; a stopping
        # batch ends them instead, and what its killed workers' futures say afterwards
        # (shut down, broken) is no item's outcome
        run.close_pool(wait=not stopping)
        if not stopping:
            run.salvage()
    return failure


def run_sequentially(batch: Batch[Any, Any], deadline: Deadline) -> None:
    """Run the open items one by one. With an item or batch timeout each runs in a daemon
    thread the caller waits for (in the caller's own thread if no thread can start)."""
    limit = batch.policy.item_timeout_seconds
    timed = limit is not None or deadline.seconds is not None
    for index in batch.pending():
        if batch.stop_reason is not None:
            return
        if deadline.passed():
            batch.stop("batch_timeout")
            return
        if not timed:
            batch.run_item(index)
            continue
        runner = threading.Thread(
            target=batch.run_item, args=(index,), name="threadwatch-guard-item", daemon=True
        )
        try:
            runner.start()
        except RuntimeError:  # no thread to be had: run it here, without a timeout
            batch.run_item(index)
            continue
        started = time.monotonic()
        item_deadline = math.inf if limit is None else started + limit
        while runner.is_alive() and batch.stop_reason is None:
            now = time.monotonic()
            if now >= deadline.at:
                batch.stop("batch_timeout")
                break
            if now >= item_deadline:
                batch.record_timeout(index, now - started)
                break
            runner.join(min(_POLL_SECONDS, item_deadline - now, deadline.at - now))

