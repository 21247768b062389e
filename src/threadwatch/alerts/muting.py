"""What silences do to the alerts ``tail`` sends: the dispatcher asks ``SilenceGate`` which
alerts of a notification go out, and which silences have ended.

    firing / escalated / repeat ──silenced──▶ held back (recorded in alert_silenced)
                                └─not───────▶ sent
    resolved ──its firing was never sent────▶ dropped (the receivers never heard of it)
             └─its firing was sent──────────▶ sent, silenced or not
    silence ends, the held-back alert still fires ──▶ sent once, as it is now

An alert whose firing reached the receivers before a silence began stays firing there: its
repeats and escalations are held back while the silence lasts, its resolve is sent (a receiver
must not keep an alert open that is over). When the silence ends it is sent again as it is
then, so a receiver that let it lapse (Alertmanager's ``endsAt``) has it again.

The gate re-reads the active silences at most every ``refresh_seconds`` (one small indexed
query), so ``silence add`` and ``silence expire`` take effect in a running ``tail`` within
that; silences that end by their time end on the gate's clock, with no read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from threadwatch.alerts.model import Alert, Status
from threadwatch.alerts.silences import Silence, SilenceStore
from threadwatch.errors import OutboxError
from threadwatch.logs import get_logger

log = get_logger("threadwatch.alerts")
REFRESH_SECONDS = 1.0


@dataclass
class _Held:
    alert: Alert
    silenced_by: tuple[str, ...]


class SilenceGate:
    """The silences of one state file as the dispatcher applies them.

    Args:
        store: the silence tables (closed by ``close``).
        told: the key and level of each alert whose firing the receivers were sent (the
            outbox's active alerts).
        refresh_seconds: how often to re-read the silences.
    """

    def __init__(self, store: SilenceStore, told: dict[str, str], *,
                 refresh_seconds: float = REFRESH_SECONDS) -> None:
        self._store = store
        self._told = dict(told)
        self._refresh_seconds = refresh_seconds
        self._silences: list[Silence] = []
        self._read_at = float("-inf")
        self._failing = False
        self._held = {one.alert.key: _Held(one.alert, one.silenced_by) for one in store.held()}

    def held(self) -> list[Alert]:
        """The alerts held back now (to resume their episodes after a restart)."""
        return [held.alert for held in self._held.values()]

    def told_level(self, key: str) -> str | None:
        """The level the receivers last heard for ``key`` while it fired, else None."""
        return self._told.get(key)

    def silenced_by(self, alert: Alert, now: float) -> tuple[str, ...]:
        """The ids of the silences covering ``alert`` at ``now`` (none: it is not silenced)."""
        self._refresh(now)
        return tuple(s.id for s in self._silences if s.active(now) and s.matches(alert))

    def admit(self, alerts: Sequence[Alert], now: float) -> list[Alert]:
        """The alerts of a notification about to be made that go out; the others are held
        back (recorded) or dropped, as the module docstring says.

        Raises:
            OutboxError: the held-back ones cannot be recorded (nothing was decided: try
                again).
        """
        send: list[Alert] = []
        hold: list[tuple[Alert, tuple[str, ...]]] = []
        done: list[str] = []
        for alert in alerts:
            if alert.status is Status.RESOLVED:
                if alert.key in self._held:
                    done.append(alert.key)
                if alert.key in self._told:
                    send.append(alert)
                continue
            silencing = self.silenced_by(alert, now)
            if silencing:
                hold.append((alert, silencing))
            else:
                send.append(alert)
                if alert.key in self._held:
                    done.append(alert.key)
        self._store.hold(hold, now)
        self._store.release(done)
        for alert, silencing in hold:
            self._held[alert.key] = _Held(alert, silencing)
        for key in done:
            self._held.pop(key, None)
        return send

    def sent(self, alerts: Sequence[Alert]) -> None:
        """``alerts`` are in the outbox now: remember which firings the receivers hear of."""
        for alert in alerts:
            if alert.status is Status.RESOLVED:
                self._told.pop(alert.key, None)
            else:
                self._told[alert.key] = alert.level

    def released(self, now: float) -> list[Alert]:
        """The held-back alerts no silence covers any more (ended, expired), forgotten here:
        the dispatcher sends each again as it is now, or drops it if it is over.

        Raises:
            OutboxError: they cannot be removed from the record (they stay held: try again).
        """
        free = [held.alert for held in self._held.values()
                if not self.silenced_by(held.alert, now)]
        if free:
            self._store.release(alert.key for alert in free)
            for alert in free:
                del self._held[alert.key]
        return free

    def close(self) -> None:
        self._store.close()

    def _refresh(self, now: float) -> None:
        if now - self._read_at < self._refresh_seconds and now >= self._read_at:
            return
        self._read_at = now
        try:
            self._silences = self._store.silences(now)
        except OutboxError as exc:  # the last ones read stay in force until a read succeeds
            if not self._failing:
                log.warning("alerts: %s; using the silences read before", exc)
            self._failing = True
            return
        if self._failing:
            log.warning("alerts: silences readable again")
            self._failing = False
