"""``threadwatch alerts``: recent notifications and the outbox, read from the state file.

The state file is only read: opened read-only, no table made, no WAL switched on, nothing made
beside it, so it can be read where ``tail`` keeps it for another user, in a folder this user
cannot write, while ``tail`` runs.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from threadwatch.alerts.inhibit import Inhibited
from threadwatch.alerts.model import Alert, Notification, iso_time
from threadwatch.alerts.outbox import DELIVERED, FAILED, PENDING, Delivery, Outbox
from threadwatch.alerts.silences import Silence, SilencedAlert, SilenceStore, time_left
from threadwatch.errors import ThreadwatchError

MAX_LIMIT = 2**63 - 1  # SQLite's largest integer: any larger --limit means "all" just as well


@dataclass(frozen=True)
class AlertLog:
    """What the state file says about alerting.

    Attributes:
        missing: the state file did not exist (no ``tail`` has run with it yet).
        inhibited: firing alerts not sent because another alert inhibits them.
        silences: the silences active at ``now``.
        silenced: the alerts they hold back: firing ones never sent, and (``sent_before``)
            ones sent before the silence began, whose repeats it holds back.
    """

    notifications: list[Notification]
    deliveries: list[Delivery]
    counts: dict[str, int]
    missing: Path | None = None
    inhibited: list[Inhibited] = field(default_factory=list)
    silences: tuple[Silence, ...] = ()
    silenced: tuple[SilencedAlert, ...] = ()
    now: float = 0.0

    def as_json(self) -> dict[str, Any]:
        return {
            "counts": self.counts,
            "silences": [silence.as_dict(self.now) for silence in self.silences],
            "silenced": [
                {"key": one.alert.key, "rule": one.alert.rule, "scope": one.alert.scope,
                 "level": one.alert.level, "summary": one.alert.summary,
                 "silenced_by": list(one.silenced_by), "since": iso_time(one.since),
                 "sent_before": one.sent_before}
                for one in self.silenced
            ],
            "notifications": [{"number": n.number, **n.as_dict()} for n in self.notifications],
            "deliveries": [
                {"id": d.id, "notification_number": d.notification.number,
                 "notification_id": d.notification.id, "sink": d.sink,
                 "state": d.state, "attempts": d.attempts,
                 "next_attempt_at": iso_time(d.next_attempt_at),
                 "last_attempt_at": None if d.last_attempt_at is None
                 else iso_time(d.last_attempt_at),
                 "last_error": d.last_error,
                 "done_at": None if d.done_at is None else iso_time(d.done_at)}
                for d in self.deliveries
            ],
            "inhibited": [
                {"key": entry.alert.key, "level": entry.alert.level,
                 "scope": entry.alert.scope,
                 "reasons": [reason.text for reason in entry.alert.reasons],
                 "inhibited_by": entry.by, "since": iso_time(entry.since)}
                for entry in self.inhibited
            ],
        }


def read_alert_log(state_path: str | Path, limit: int = 20, *,
                   missing_ok: bool = False, now: float | None = None) -> AlertLog:
    """The newest ``limit`` notifications and deliveries (``limit`` clamped to 0 ..
    ``MAX_LIMIT``), and delivery counts by state. The state file is only read.

    Args:
        state_path: the state file ``tail`` writes.
        limit: how many of each.
        missing_ok: a missing state file is an empty log (``missing`` set), not an error.
        now: the time silences are judged at (default: now).

    Raises:
        ThreadwatchError: the state file does not exist (unless ``missing_ok``) or cannot be
            read.
    """
    path = Path(state_path)
    limit = max(0, min(limit, MAX_LIMIT))
    if not path.exists():
        if missing_ok:
            return AlertLog([], [], dict.fromkeys((PENDING, DELIVERED, FAILED), 0), path)
        raise ThreadwatchError(f"no state file at {path}")
    if not path.is_file():
        raise ThreadwatchError(f"{path} is not a state file")
    now = time.time() if now is None else now
    outbox = Outbox(path, read_only=True)
    try:
        found = AlertLog(outbox.notifications(limit), outbox.deliveries(limit), outbox.counts(),
                         inhibited=outbox.inhibited(), now=now)
        active = [alert for alert, _ in outbox.active()]
    finally:
        outbox.close()
    store = SilenceStore(path, read_only=True, warn=False)  # the outbox's open said it
    try:
        silences, held = store.silences(now), store.held()
    finally:
        store.close()
    return dataclasses.replace(found, silences=tuple(silences),
                               silenced=tuple(silenced_alerts(silences, held, active, now)))


def silenced_alerts(silences: list[Silence], held: list[SilencedAlert], active: list[Alert],
                    now: float) -> list[SilencedAlert]:
    """The held-back alerts, then the sent ones that an active silence covers now (a held-back
    alert whose firing was sent before is marked ``sent_before`` too)."""
    sent = {alert.key for alert in active}
    found = [dataclasses.replace(one, sent_before=one.alert.key in sent) for one in held]
    holding = {one.alert.key for one in held}
    for alert in active:
        if alert.key in holding:
            continue
        covering = [s for s in silences if s.active(now) and s.matches(alert)]
        if covering:
            found.append(SilencedAlert(alert, tuple(s.id for s in covering),
                                       max(s.starts_at for s in covering), now,
                                       sent_before=True))
    return found


def format_alert_log(log: AlertLog) -> list[str]:
    """Plain text lines: counts, then notifications, then deliveries (newest first)."""
    if log.missing is not None:
        return [f"no alerts yet: no state file at {log.missing} (tail has not run with it)"]
    counts = log.counts
    dropped = f", {counts['dropped']} dropped" if counts.get("dropped") else ""
    lines = [f"outbox: {counts['pending']} pending, {counts['delivered']} delivered, "
             f"{counts['failed']} failed{dropped}"]
    if log.silences or log.silenced:
        lines += ["", f"silences: {len(log.silences)} active"]
        lines += [f"  {s.id} scope={s.scope} rule={s.rule or '*'} until "
                  f"{iso_time(s.ends_at)} ({time_left(s.ends_at - log.now)} left) by "
                  f"{s.created_by}" + (f": {s.comment}" if s.comment else "")
                  for s in log.silences]
        lines += ["", "silenced alerts:"] if log.silenced else []
        lines += [f"  {one.alert.level:<6} {one.alert.key}: silenced by "
                  f"{', '.join(one.silenced_by)} since {iso_time(one.since)}"
                  + (" (sent before the silence: repeats held back, its resolve is sent)"
                     if one.sent_before else " (held back, not sent)")
                  for one in log.silenced]
    lines += ["", "recent alerts:"]
    for notification in log.notifications:
        for alert in notification.alerts:
            lines.append(f"  #{notification.number} {iso_time(notification.created_at)} "
                         f"{alert.transition.value:<9} {alert.level:<6} {alert.key}: "
                         f"{alert.summary}")
    if not log.notifications:
        lines.append("  (none)")
    if log.inhibited:
        lines += ["", "inhibited (firing, not sent while the alert named fires):"]
        lines += [f"  {entry.alert.level:<6} {entry.alert.key} by {entry.by} since "
                  f"{iso_time(entry.since)}" for entry in log.inhibited]
    lines += ["", "deliveries:"]
    for d in log.deliveries:
        error = f" — {d.last_error}" if d.last_error else ""
        lines.append(f"  #{d.notification.number} -> {d.sink:<12} {d.state:<9} "
                     f"attempts={d.attempts}{error}")
    if not log.deliveries:
        lines.append("  (none)")
    return lines
