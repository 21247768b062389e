"""``threadwatch alerts``: recent notifications and the outbox, read from the state file."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from threadwatch.alerts.model import Notification, iso_time
from threadwatch.alerts.outbox import Delivery, Outbox
from threadwatch.errors import ThreadwatchError


@dataclass(frozen=True)
class AlertLog:
    """What the state file says about alerting."""

    notifications: list[Notification]
    deliveries: list[Delivery]
    counts: dict[str, int]

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
        }


def read_alert_log(state_path: str | Path, limit: int = 20) -> AlertLog:
    """The newest ``limit`` notifications and deliveries, and delivery counts by state.

    Raises:
        ThreadwatchError: the state file does not exist or cannot be read.
    """
    if not Path(state_path).is_file():
        raise ThreadwatchError(f"no state file at {state_path}")
    outbox = Outbox(state_path)
    try:
        return AlertLog(outbox.notifications(limit), outbox.deliveries(limit), outbox.counts())
    finally:
        outbox.close()


def format_alert_log(log: AlertLog) -> list[str]:
    """Plain text lines: counts, then notifications, then deliveries (newest first)."""
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
    lines += ["", "deliveries:"]
    for d in log.deliveries:
        error = f" — {d.last_error}" if d.last_error else ""
        lines.append(f"  #{d.notification.number} -> {d.sink:<12} {d.state:<9} "
                     f"attempts={d.attempts}{error}")
    if not log.deliveries:
        lines.append("  (none)")
    return lines
