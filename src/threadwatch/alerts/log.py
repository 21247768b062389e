"""``threadwatch alerts``: recent notifications and the outbox, read from the state file.

The state file is only read: opened read-only, no table made, no WAL switched on, nothing made
beside it, so it can be read where ``tail`` keeps it for another user, in a folder this user
cannot write, while ``tail`` runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from threadwatch.alerts.inhibit import Inhibited
from threadwatch.alerts.model import Notification, iso_time
from threadwatch.alerts.outbox import DELIVERED, FAILED, PENDING, Delivery, Outbox
from threadwatch.errors import ThreadwatchError

MAX_LIMIT = 2**63 - 1  # SQLite's largest integer: any larger --limit means "all" just as well


@dataclass(frozen=True)
class AlertLog:
    """What the state file says about alerting.

    Attributes:
        missing: the state file did not exist (no ``tail`` has run with it yet).
        inhibited: firing alerts not sent because another alert inhibits them.
    """

    notifications: list[Notification]
    deliveries: list[Delivery]
    counts: dict[str, int]
    missing: Path | None = None
    inhibited: list[Inhibited] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "counts": self.counts,
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
                   missing_ok: bool = False) -> AlertLog:
    """The newest ``limit`` notifications and deliveries (``limit`` clamped to 0 ..
    ``MAX_LIMIT``), and delivery counts by state. The state file is only read.

    Args:
        state_path: the state file ``tail`` writes.
        limit: how many of each.
        missing_ok: a missing state file is an empty log (``missing`` set), not an error.

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
    outbox = Outbox(path, read_only=True)
    try:
        return AlertLog(outbox.notifications(limit), outbox.deliveries(limit), outbox.counts(),
                        inhibited=outbox.inhibited())
    finally:
        outbox.close()


def format_alert_log(log: AlertLog) -> list[str]:
    """Plain text lines: counts, then notifications, then deliveries (newest first)."""
    if log.missing is not None:
        return [f"no alerts yet: no state file at {log.missing} (tail has not run with it)"]
    counts = log.counts
    lines = [f"outbox: {counts['pending']} pending, {counts['delivered']} delivered, "
             f"{counts['failed']} failed", "", "recent alerts:"]
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
