"""Stopping running batches from a signal: a hook for the program's own handler, or a handler.

A program that has a SIGTERM handler calls :func:`cancel_running_batches` first thing in it::

    def _signal_handler(signum, frame):
        cancel_running_batches(signal.Signals(signum).name)   # SIGTERM
        _cleanup_executors()
        raise KeyboardInterrupt

One that has none wraps its work in :func:`cancel_on_signals`. Either way every running batch
kills its worker processes, settles its open items as ``cancelled`` and logs ``batch_done``
with ``cancelled=<n> stopped=SIGTERM`` before the exception leaves ``run_batch``.
"""

from __future__ import annotations

import contextlib
import signal
from typing import TYPE_CHECKING, Any

from threadwatch.guard.batch import cancel_running_batches

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["cancel_on_signals", "cancel_running_batches"]


@contextlib.contextmanager
def cancel_on_signals(*signums: int) -> Iterator[None]:
    """Within the block, the signals (default: SIGTERM) cancel every running batch first.

    Then the signal does what it did before: a Python handler is called; the default action
    (which would end the process before ``batch_done`` is written) becomes
    ``SystemExit(128 + signum)``, raised through the running batch; an ignored signal is left
    alone. The previous handlers are restored on exit. Call it from the main thread, as
    ``signal.signal`` requires.
    """
    previous: dict[int, Any] = {}

    def handler(signum: int, frame: Any) -> None:
        cancel_running_batches(signal.Signals(signum).name)
        before = previous.get(signum)
        if callable(before):
            before(signum, frame)
        else:  # SIG_DFL, or a handler not set from Python
            raise SystemExit(128 + signum)

    for signum in signums or (signal.SIGTERM,):
        current = signal.getsignal(signum)
        if current == signal.SIG_IGN:
            continue
        previous[signum] = current
        signal.signal(signum, handler)
    try:
        yield
    finally:
        for signum, before in previous.items():
            signal.signal(signum, before if before is not None else signal.SIG_DFL)
