"""The alert consumer of ``tail``: rules → groups → outbox → (sender) → sinks.

    on_events / on_changes ──▶ AlertRules ──alerts──▶ group (group_wait) ──▶ Outbox ──▶ Sender
                                   ▲ tick(now): holds, repeats, quiet event rules

Alerts produced within ``group_wait_seconds`` of the first one of a group go out as one
notification. Within a group the newest alert of a key wins, with two exceptions: an
escalation of a not-yet-sent firing alert is sent as that firing alert at the new level, and
a not-yet-sent firing alert resolved before the group left is dropped with its resolution
(the receiver was never told, so it need not be told it is over).

The group is saved in the state file whenever it changes, and the alerts that events make
are made (and saved) as the events arrive, in ``on_events``: ``tail`` calls that before it
saves the checkpoints of the lines, so a line whose alert is still inside ``group_wait`` is
never past its checkpoint with the alert only in memory. A new dispatcher on the same file sends
a saved group at its first tick.

Alerts pass the ``Inhibitor`` (``inhibit.py``) on their way into the group: an inhibited
alert is held, not grouped (and taken out of the group if its firing waits there), and sent when
its inhibition ends. At ``flush`` the group is split by sink (``routing.py``).

Firing alerts are remembered in the state file; a new dispatcher on the same file resumes
them (repeats and resolution, no second *firing*), and the senders deliver what an earlier
process left pending, one thread per sink.

With ``silences``, each notification passes ``SilenceGate.admit`` as it leaves the group
(silenced alerts are held back, see ``alerts/muting.py``), and each tick sends again what a
silence that has ended held back. Held-back alerts are resumed after a restart like firing ones.

When the state file cannot be written (``OutboxError``: locked past the busy timeout, disk
full), ``flush`` keeps the group in memory and raises; the dispatcher logs it once and tries
again on every following call until the write succeeds, so nothing is lost while ``tail`` runs
(new alerts join the waiting group). Only ``close`` gives up: it logs the alerts it could not
save and still releases the sinks and the file.
"""

from __future__ import annotations

import dataclasses
import os
import random
import socket
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from threadwatch.alerts.inhibit import Inhibited, Inhibitor, held_alerts
from threadwatch.alerts.model import Alert, Notification, Status, Transition
from threadwatch.alerts.muting import SilenceGate
from threadwatch.alerts.outbox import Outbox
from threadwatch.alerts.routing import Router
from threadwatch.alerts.rules import AlertRules
from threadwatch.alerts.sender import BackgroundSender, Sender, SinkState, stop_all
from threadwatch.alerts.settings import AlertsConfig
from threadwatch.alerts.silences import SilenceStore
from threadwatch.alerts.sinks import build_sinks
from threadwatch.alerts.sinks.base import Sink
from threadwatch.errors import OutboxError
from threadwatch.events import Event, Kind
from threadwatch.health.levels import Level
from threadwatch.health.window import LevelChange, ScopeHealth
from threadwatch.logs import get_logger

log = get_logger("threadwatch.alerts")
_BUSY_SECONDS = 5.0  # the outbox's busy timeout (``Outbox``'s default)
# Retention is counted in days: pruning at the first tick and then hourly keeps the outbox
# within an hour of its limits, at the cost of a few indexed deletes an hour.
PRUNE_SECONDS = 3600.0

Clock = Callable[[], float]


@dataclasses.dataclass(frozen=True)
class AlertState:
    """Where alerting stands, for a live view: open alerts by state, and each sink's delivery.

    Attributes:
        firing: alerts firing (sent, or held back by a silence or an inhibition).
        pending: alerts bad and waiting out their hold time.
        silenced: firing alerts a silence holds back.
        inhibited: firing alerts another alert inhibits.
        sinks: how delivery to each sink is going.
    """

    firing: int = 0
    pending: int = 0
    silenced: int = 0
    inhibited: int = 0
    sinks: tuple[SinkState, ...] = ()


class AlertDispatcher:
    """A ``Consumer`` that turns what ``tail`` sees into delivered alerts.

    Args:
        config: the ``[alerts]`` settings.
        outbox: the state file's alert tables (closed by ``close``).
        sinks: the sinks by name (closed by ``close``).
        clock: current time, seconds since the epoch.
        background: send from a background thread (``tail``); if False, ``tick`` attempts due
            deliveries itself, synchronously (tests, one-shot use).
        host: the host label; default ``config.host`` or this machine's name.
        rng: jitter source for retries.
        silences: the silence tables of the state file (closed by ``close``); None: no
            silences.
    """

    def __init__(self, config: AlertsConfig, outbox: Outbox, sinks: Mapping[str, Sink],
                 clock: Clock, *, background: bool = True, host: str | None = None,
                 rng: random.Random | None = None,
                 silences: SilenceStore | None = None) -> None:
        self._config = config
        self._outbox = outbox
        self._sinks = dict(sinks)
        self._clock = clock
        self._host = host or config.host or socket.gethostname()
        self._now = clock()
        self._rules = AlertRules(config)
        active = {alert.key: (alert, sent_at) for alert, sent_at in outbox.active()}
        self._gate = None if silences is None else SilenceGate(
            silences, {key: alert.level for key, (alert, _) in active.items()})
        for alert in [] if self._gate is None else self._gate.held():
            active[alert.key] = (alert, self._now)  # held back: newer than what was sent
        saved, opened = outbox.saved_group()
        for alert in saved:  # newer than what was active: its episode is as the group says
            if alert.status is Status.RESOLVED:
                active.pop(alert.key, None)
            else:
                active[alert.key] = (alert, opened)
        for alert, sent_at in active.values():
            self._rules.restore(alert, sent_at, self._now)
        # inhibited alerts resume inhibited (not sent again while their source fires)
        held = [entry for entry in outbox.inhibited() if entry.alert.key not in active]
        for entry in held:
            self._rules.restore(entry.alert, entry.since, self._now)
        self._inhibitor = Inhibitor(config, self._rules)
        self._inhibitor.restore([alert for alert, _ in active.values()], held)
        self._router = Router(config, self._sinks, outbox.routed())
        self._group: dict[str, Alert] = {alert.key: alert for alert in saved}
        # a saved group waited long enough already: the first tick sends it
        self._group_opened = float("-inf") if saved else 0.0
        self._group_changed = False  # since it was last saved
        self._failing = False  # the last outbox write failed (logged once)
        self._next_prune = float("-inf")  # the first tick prunes
        intervals = {name: config.sinks[name].min_interval_seconds
                     for name in self._sinks if name in config.sinks}
        self.sender = Sender(outbox, self._sinks, intervals, config.delivery, rng)
        self._background: list[BackgroundSender] = []
        if background:
            self._background = [BackgroundSender(one, clock) for one in self.sender.sinks]
            for thread in self._background:
                thread.start()

    def inhibited(self) -> list[Inhibited]:
        """The firing alerts not sent because another alert inhibits them."""
        return held_alerts(self._inhibitor.held)

    def sink_states(self) -> list[SinkState]:
        """How delivery to each sink is going (ok, or failing since when and why)."""
        return self.sender.states()

    def state(self) -> AlertState:
        """Open alerts by state and the sinks' delivery (call in the loop's thread)."""
        firing = [is_firing for _, is_firing in self._rules.open_alerts()]
        return AlertState(
            firing=firing.count(True),
            pending=firing.count(False),
            silenced=0 if self._gate is None else len(self._gate.held()),
            inhibited=len(self._inhibitor.held),
            sinks=tuple(self.sender.states()),
        )

    # -- the Consumer protocol --------------------------------------------------------------

    @property
    def kinds(self) -> frozenset[Kind]:
        """The kinds the ``[[alerts.events]]`` rules watch."""
        return self._rules.kinds

    def on_events(self, events: Sequence[Event], at: float) -> None:
        self._now = max(self._now, at)
        self._rules.observe_events(events, at)
        # made now, not at the next tick: saved before tail saves these lines' checkpoints
        self._add(self._rules.due(at), at)
        self._settle(at, send=False)

    def on_changes(self, changes: Sequence[LevelChange], health: Sequence[ScopeHealth]) -> None:
        at = max((change.at for change in changes), default=self._now)
        self._now = max(self._now, at)
        seen = set()
        made: list[Alert] = []  # judged for inhibition together, once every level is in
        for scope_health in health:
            seen.add(scope_health.scope)
            made += self._rules.observe_level(scope_health.scope, scope_health.verdict.level,
                                              scope_health, at)
        for change in changes:
            if change.scope not in seen:
                seen.add(change.scope)
                made += self._rules.observe_level(change.scope, change.current, change.health,
                                                  at)
        if health:
            # A scope tail no longer reports (its file is gone) is over: resolve it.
            for scope in self._rules.level_scopes():
                if scope not in seen:
                    made += self._rules.observe_level(scope, Level.GREEN, None, at)
        self._add(made, at)
        self._settle(at, send=False)

    def tick(self, now: float) -> None:
        self._now = max(self._now, now)
        self._add(self._rules.due(now), now)
        self._add(self._unsilenced(now), now)
        if self._settle(now) and not self._background:
            self.sender.deliver_due(now)
        if now >= self._next_prune:
            self._next_prune = now + PRUNE_SECONDS
            self.prune(now)

    def prune(self, now: float) -> int:
        """Delete from the outbox what ``[alerts.delivery]`` keeps no longer (``tick`` does at
        the first tick, then hourly); return how many deliveries went. A state file that
        cannot be written now is said on the log and pruned at the next turn."""
        delivery = self._config.delivery
        try:
            pruned = self._outbox.prune(now, delivery.keep_delivered_seconds,
                                        delivery.keep_failed_seconds)
        except OutboxError as exc:
            log.warning("alerts: %s; old deliveries are pruned at the next turn", exc)
            return 0
        if pruned:
            log.info("alerts: pruned %d old delivery record(s) from the state file", pruned)
        return pruned

    def close(self) -> None:
        """Put what is grouped into the outbox now, stop the senders (what they have not
        delivered stays pending for the next run), release sinks and the state file.
        Alerts that cannot be put into the outbox now stay in the saved group if they were
        saved (the next run sends them); the others are logged and lost."""
        try:
            self.flush(self._now)
        except OutboxError as exc:
            if self._group_changed:
                log.error("alerts: %s; %d alert(s) not saved: %s", exc, len(self._group),
                          ", ".join(self._group))
            else:
                log.error("alerts: %s; %d alert(s) kept in the saved group for the next run",
                          exc, len(self._group))
        # an attempt in flight ends by its sink's deadline; then marking it may wait for the
        # state file's busy timeout
        timeout = max((s.timeout_seconds for s in self._config.sinks.values()), default=1.0)
        stopped = stop_all(self._background, timeout + _BUSY_SECONDS + 1.0)
        for sink in self._sinks.values():
            sink.close()
        if stopped:  # a hung sender thread may still use the connection; the process exit ends it
            self._outbox.close()
        if self._gate is not None:
            self._gate.close()

    def _settle(self, now: float, *, send: bool = True) -> bool:
        """Send the group if ``send`` and it waited ``group_wait``, else save it if it changed;
        return whether the state file took it (a failure is logged once, and tried again on
        the next call)."""
        try:
            if send and self._group and (
                    now - self._group_opened >= self._config.group_wait_seconds):
                self.flush(now)
            elif self._group_changed:
                self._outbox.save_group(list(self._group.values()), self._group_opened)
                self._group_changed = False
            if self._inhibitor.changed:
                self._outbox.save_inhibited(held_alerts(self._inhibitor.held))
                self._inhibitor.saved()
        except OutboxError as exc:  # the group is kept: the next call tries again
            if not self._failing:
                log.warning("alerts: %s; %d alert(s) kept in memory, retrying", exc,
                            len(self._group))
            self._failing = True
            return False
        if self._failing:
            log.warning("alerts: the alert state file is writable again")
            self._failing = False
        return True

    # -- grouping ---------------------------------------------------------------------------

    def flush(self, now: float) -> list[Notification]:
        """Send the current group now (without waiting for group_wait); return the stored
        notifications (one per distinct set of alerts the sinks get, ``routing.py``).

        Raises:
            OutboxError: it could not be stored; the group stays as it was, to flush again.
        """
        if not self._group:
            return []
        alerts = tuple(self._group.values())
        if self._gate is not None:
            alerts = tuple(self._gate.admit(alerts, now))
        if not alerts:  # all held back or dropped: the saved group is done with
            self._outbox.save_group([], now)
            stored: list[Notification] = []
        else:
            routes = self._router.route(Notification(alerts, now, self._host))
            stored = self._outbox.enqueue_routed(routes)
            self._router.sent(routes)
            if self._gate is not None:
                self._gate.sent(alerts)
        self._group.clear()
        self._group_changed = False
        for thread in self._background:
            thread.wake()
        return stored

    def _unsilenced(self, now: float) -> list[Alert]:
        """What silences that ended held back and still fires, as it is now."""
        if self._gate is None:
            return []
        try:
            free = self._gate.released(now)
        except OutboxError as exc:  # they stay held: the next tick tries again
            log.warning("alerts: %s", exc)
            return []
        again = (self._rules.current(alert.key, now, self._gate.told_level(alert.key))
                 for alert in free)
        return [alert for alert in again if alert is not None]

    def _add(self, alerts: Sequence[Alert], now: float) -> None:
        alerts = self._inhibitor.step(alerts, now)
        for key in self._inhibitor.held.keys() & self._group.keys():
            if self._group[key].transition is Transition.FIRING:  # not sent yet: taken back
                del self._group[key]
                self._inhibitor.untell(key)
                self._group_changed = True
        for alert in alerts:
            self._group_changed = True
            if not self._group:
                self._group_opened = now
            earlier = self._group.get(alert.key)
            grouped = alert
            if earlier is not None and earlier.transition is Transition.FIRING:
                if alert.status is Status.RESOLVED:
                    del self._group[alert.key]
                    continue
                grouped = dataclasses.replace(alert, transition=Transition.FIRING,
                                              previous_level=None)
            self._group[alert.key] = grouped


def build_alert_consumer(config: AlertsConfig, state_path: str | Path,
                         clock: Clock) -> AlertDispatcher:
    """The dispatcher ``tail`` runs: sinks from the config (``${VARS}`` from the environment),
    the outbox in ``state_path``, sending on a background thread.

    Raises:
        SinkConfigError: a sink's variable is unset or its URL malformed (tail exits 3).
        ThreadwatchError: the state file cannot be opened.
    """
    sinks = build_sinks(config, os.environ)
    outbox = silences = None
    try:
        outbox = Outbox(state_path)
        silences = SilenceStore(state_path)
        return AlertDispatcher(config, outbox, sinks, clock, silences=silences)
    except Exception:
        for sink in sinks.values():
            sink.close()
        for opened in (outbox, silences):
            if opened is not None:
                opened.close()
        raise
