"""The state of one running batch: each item's outcome, written once, and how to stop it.

An item is *settled* once its outcome is known; whoever settles it first wins (a pool thread
finishing an item the caller already timed out, or cancelled, is ignored). Settling logs the
item's event. Every running batch is listed, so that :func:`cancel_running_batches` -- which a
signal handler may call -- can stop them all.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import CancelledError
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from threadwatch.guard.eventlog import emit
from threadwatch.guard.outcome import ItemOutcome, ItemStatus

if TYPE_CHECKING:
    from collections.abc import Callable

    from threadwatch.guard.policy import GuardPolicy
    from threadwatch.guard.pools import PoolAdapter

__all__ = ["Batch", "cancel_running_batches"]

T = TypeVar("T")
R = TypeVar("R")

# run_batch() may be called from several threads; set.add/discard and list(set) are atomic,
# so a signal handler can read this without a lock (a lock held by the interrupted thread
# would deadlock it).
_running: set[Batch[Any, Any]] = set()


class Batch(Generic[T, R]):
    """Per-item outcomes of one batch, the pool running it now, and why it stops (if it does)."""

    def __init__(
        self, batch_id: str, fn: Callable[[T], R], items: list[T], policy: GuardPolicy
    ) -> None:
        self.batch_id = batch_id
        self.fn = fn
        self.items = items
        self.policy = policy
        self.values: list[R | None] = [None] * len(items)
        self.errors: list[BaseException | None] = [None] * len(items)
        self.statuses: list[ItemStatus | None] = [None] * len(items)
        self.stop_reason: str | None = None
        self.pool: PoolAdapter | None = None  # the pool running items now, if any
        self._lock = threading.Lock()

    # -- lifecycle --------------------------------------------------------------------------

    def __enter__(self) -> Batch[T, R]:
        _running.add(self)
        return self

    def __exit__(self, *exc_info: object) -> None:
        _running.discard(self)

    def stop(self, reason: str) -> None:
        """Ask the batch to end: the first reason given is kept."""
        if self.stop_reason is None:
            self.stop_reason = reason

    def cancel(self, reason: str) -> int:
        """Stop the batch and end its worker processes now; return how many items were open."""
        self.stop(reason)
        pool = self.pool
        if pool is not None:
            pool.kill_workers()
        return len(self.pending())

    # -- items ------------------------------------------------------------------------------

    def pending(self) -> list[int]:
        return [index for index, status in enumerate(self.statuses) if status is None]

    def is_settled(self, index: int) -> bool:
        return self.statuses[index] is not None

    def settle(
        self, index: int, status: ItemStatus, value: Any = None, error: BaseException | None = None
    ) -> bool:
        """Record an item's outcome unless it has one already; return whether it was recorded."""
        with self._lock:
            if self.statuses[index] is not None:
                return False
            self.values[index] = value
            self.errors[index] = error
            self.statuses[index] = status
        return True

    def record_value(self, index: int, value: R) -> None:
        self.settle(index, ItemStatus.OK, value)

    def record_error(self, index: int, error: BaseException) -> None:
        """An item raised: ``failed``, or ``memory_error`` (which stops the batch if asked)."""
        if isinstance(error, MemoryError):
            if not self.settle(index, ItemStatus.MEMORY_ERROR, error=error):
                return
            action = self.policy.on_memory_error
            emit(
                logging.ERROR,
                "memory_error",
                ("batch", self.batch_id),
                ("index", index),
                ("action", action),
                ("error", type(error).__name__),
                ("message", str(error)),
            )
            if action == "stop":
                self.stop("memory_error")
            return
        if self.settle(index, ItemStatus.FAILED, error=error):
            emit(
                logging.WARNING,
                "item_failed",
                ("batch", self.batch_id),
                ("index", index),
                ("error", type(error).__name__),
                ("message", str(error)),
            )

    def record_timeout(self, index: int, seconds: float) -> None:
        error = TimeoutError(f"item {index} timed out after {seconds:.3f} s")
        if self.settle(index, ItemStatus.TIMED_OUT, error=error):
            emit(
                logging.WARNING,
                "item_timed_out",
                ("batch", self.batch_id),
                ("index", index),
                ("seconds", f"{seconds:.3f}"),
            )

    def run_item(self, index: int) -> None:
        """Run one item here (caller's thread or a pool thread) and record what it gave."""
        if self.is_settled(index) or self.stop_reason is not None:
            return  # timed out or cancelled while it waited for a thread
        try:
            value = self.fn(self.items[index])
        except Exception as error:
            self.record_error(index, error)
        else:
            self.record_value(index, value)

    def close_open_items(self, seconds: float) -> None:
        """Settle what is still open when the batch stops: ``timed_out`` at the batch deadline,
        ``cancelled`` otherwise."""
        for index in self.pending():
            if self.stop_reason == "batch_timeout":
                self.record_timeout(index, seconds)
            else:
                error = CancelledError(f"item {index} cancelled: {self.stop_reason}")
                self.settle(index, ItemStatus.CANCELLED, error=error)

    def outcomes(self) -> tuple[ItemOutcome[R], ...]:
        return tuple(
            ItemOutcome(index, self.values[index], self.errors[index], status or ItemStatus.OK)
            for index, status in enumerate(self.statuses)
        )


def cancel_running_batches(reason: str = "cancelled") -> int:
    """Cancel every batch running in this process; return how many items they had open.

    Safe to call from a signal handler: it sets a flag and sends SIGKILL to the batches'
    worker processes, nothing more. Each batch then settles its open items as ``cancelled``,
    stops its pools (threads running an item are abandoned) and logs ``batch_done`` with
    ``cancelled=<n> stopped=<reason>`` -- right away if the handler returns, or while the
    exception it raises (``SystemExit``, ``KeyboardInterrupt``) passes through ``run_batch``.
    """
    return sum(batch.cancel(reason) for batch in list(_running))
