"""What a batch gives back: one outcome per item, the fallbacks taken, and why it stopped."""

from __future__ import annotations

import enum
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, TypeVar

if TYPE_CHECKING:
    from threadwatch.guard.policy import Decision, ExecutorKind

__all__ = ["BatchResult", "Fallback", "ItemOutcome", "ItemStatus"]

R = TypeVar("R")


class ItemStatus(str, enum.Enum):  # noqa: UP042  # StrEnum is 3.11+: the guard imports on 3.9
    """How one item ended; the value is the word the guard's lines and docs use."""

    OK = "ok"
    FAILED = "failed"  # it raised an Exception (other than MemoryError)
    TIMED_OUT = "timed_out"  # past its item timeout, or unfinished at the batch deadline
    CANCELLED = "cancelled"  # not run to the end: the batch was cancelled or stopped
    MEMORY_ERROR = "memory_error"  # it raised MemoryError


@dataclass(frozen=True)
class ItemOutcome(Generic[R]):
    """What one item gave: its ``value`` (status ``ok``), or the ``error`` that ended it.

    ``error`` is what the item raised (``failed``, ``memory_error``), a ``TimeoutError``
    (``timed_out``) or a ``concurrent.futures.CancelledError`` (``cancelled``).
    """

    index: int
    value: R | None = None
    error: BaseException | None = None
    status: ItemStatus = ItemStatus.OK

    @property
    def ok(self) -> bool:
        return self.status is ItemStatus.OK


class _ItemErrors(Exception):
    """What ``values`` raises on 3.9 and 3.10, which have no ``ExceptionGroup``: the same
    ``message`` and ``exceptions``, and the first error as its cause (shown in a traceback)."""

    def __init__(self, message: str, exceptions: Sequence[Exception]) -> None:
        super().__init__(message)
        self.message = message
        self.exceptions = tuple(exceptions)


def _group(message: str, exceptions: list[Exception]) -> Exception:
    if sys.version_info >= (3, 11):  # noqa: UP036 - the guard runs on 3.9 and 3.10 too
        return ExceptionGroup(message, exceptions)
    group = _ItemErrors(message, exceptions)  # a 3.9/3.10 test runs this
    group.__cause__ = exceptions[0] if exceptions else None
    return group


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
    :meth:`values`, which raises them together as an ``ExceptionGroup`` (on 3.9 and 3.10, an
    exception of the same shape). ``stopped`` says why
    the batch ended early, if it did: ``"memory_error"``, ``"batch_timeout"``, or the reason a
    cancellation gave (``"SIGTERM"`` for :func:`cancel_on_signals`).
    """

    batch_id: str
    decision: Decision
    executor: ExecutorKind  # where the last items ran, after any fallback
    outcomes: tuple[ItemOutcome[R], ...]
    fallbacks: tuple[Fallback, ...]
    seconds: float
    stopped: str | None = None

    @property
    def failures(self) -> tuple[ItemOutcome[R], ...]:
        """Every outcome that is not ``ok``, in input order."""
        return tuple(outcome for outcome in self.outcomes if not outcome.ok)

    @property
    def ok_count(self) -> int:
        return len(self.outcomes) - len(self.failures)

    def count(self, status: ItemStatus | str) -> int:
        """How many items ended with ``status``."""
        return sum(1 for outcome in self.outcomes if outcome.status == status)

    def values(self) -> list[R]:
        """Return every item's value in input order.

        Raises:
            ExceptionGroup: if any item did not end ``ok``; it holds their errors in input
                order and its message names their indices. Python 3.9 and 3.10 have no
                ``ExceptionGroup``: there it is an ``Exception`` with the same ``message``
                and ``exceptions``, caused by the first error.
        """
        failures = self.failures
        if failures:
            indices = ", ".join(str(outcome.index) for outcome in failures)
            raise _group(
                f"{len(failures)} of {len(self.outcomes)} items failed in batch "
                f"{self.batch_id} (indices {indices})",
                [outcome.error for outcome in failures if isinstance(outcome.error, Exception)],
            )
        return [outcome.value for outcome in self.outcomes]  # type: ignore[misc]  # all ok
