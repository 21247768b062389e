"""``threadwatch alerts retry|drop``: change the outbox by hand, from another process while
``tail`` runs (or while none does).

A notification is named by its number, as ``threadwatch alerts`` prints it (``#12``); it has
one delivery per sink, and the command acts on each of them that is pending or failed, or on
the one to ``sink`` only. *Retry* makes a delivery pending and due now: a running ``tail``'s
sender for that sink attempts it within about a second (it looks at the outbox every second),
and with no ``tail`` running the next one does at its start; its ``max_age_seconds`` counts
again from now. *Drop* marks it dropped: it is never attempted again, and ``alerts`` shows it
as such (retention deletes it with the delivered ones).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from threadwatch.alerts.outbox import DROPPED, FAILED, PENDING, Outbox
from threadwatch.errors import ThreadwatchError

_ACTIONABLE = (PENDING, FAILED)


@dataclass(frozen=True)
class Changed:
    """One delivery changed by hand: the notification's number, the sink, the state it was
    in and the state it is in now."""

    number: int
    sink: str
    was: str
    now: str

    def line(self) -> str:
        what = "due now" if self.now == PENDING else self.now
        return f"#{self.number} -> {self.sink}: {what} (was {self.was})"


def parse_number(text: str) -> int:
    """``12`` or ``#12`` → 12.

    Raises:
        ThreadwatchError: not a notification number.
    """
    digits = text.strip().removeprefix("#")
    if not digits.isdigit() or not 0 < int(digits) < 2**63:
        raise ThreadwatchError(
            f"{text!r} is not a notification number (as `threadwatch alerts` shows it: #12)")
    return int(digits)


def retry_deliveries(state_path: str | Path, number: int, now: float,
                     sink: str | None = None) -> list[Changed]:
    """Make notification ``number``'s pending and failed deliveries (or the one to ``sink``)
    due at ``now``; return what changed.

    Raises:
        ThreadwatchError: no state file, no such notification or sink, nothing pending or
            failed to retry, or the state file cannot be written.
    """
    return _change(state_path, number, sink, verb="retry", new_state=PENDING,
                   apply=lambda outbox, delivery_id: outbox.retry(delivery_id, now))


def drop_deliveries(state_path: str | Path, number: int, now: float,
                    sink: str | None = None) -> list[Changed]:
    """Mark notification ``number``'s pending and failed deliveries (or the one to ``sink``)
    dropped; return what changed.

    Raises:
        ThreadwatchError: as ``retry_deliveries``.
    """
    return _change(state_path, number, sink, verb="drop", new_state=DROPPED,
                   apply=lambda outbox, delivery_id: outbox.drop(delivery_id, now))


def _change(state_path: str | Path, number: int, sink: str | None, *, verb: str,
            new_state: str, apply: Callable[[Outbox, int], bool]) -> list[Changed]:
    path = Path(state_path)
    if not path.is_file():
        raise ThreadwatchError(f"no state file at {path}")
    outbox = Outbox(path)  # only a path that exists: it is never made here
    try:
        deliveries = outbox.deliveries_of(number)
        if not deliveries:
            raise ThreadwatchError(f"no notification #{number} in {path}")
        if sink is not None:
            chosen = [d for d in deliveries if d.sink == sink]
            if not chosen:
                sinks = ", ".join(d.sink for d in deliveries)
                raise ThreadwatchError(
                    f"notification #{number} has no delivery to sink {sink!r} (its sinks: "
                    f"{sinks})")
            deliveries = chosen
        changed = [Changed(number, d.sink, d.state, new_state) for d in deliveries
                   if d.state in _ACTIONABLE and apply(outbox, d.id)]
        if not changed:
            states = ", ".join(f"{d.sink} {d.state}" for d in deliveries)
            raise ThreadwatchError(
                f"notification #{number}: nothing to {verb}, only pending or failed deliveries"
                f" can be ({states})")
        return changed
    finally:
        outbox.close()
