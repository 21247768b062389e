"""What the alert rules produce and the sinks send: immutable alerts grouped into notifications.

An ``Alert`` is one scope's (or one event rule's) state at the moment of a notification; its
``key`` is stable over the whole episode (firing, escalations, repeats, resolved), so receivers
can deduplicate. A ``Notification`` is what one message to one sink carries: the alerts that
started (or changed) together within ``group_wait``. Both round-trip through JSON, which is
how the outbox stores them.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from threadwatch.health.rules import Reason
from threadwatch.text import safe_block, safe_text

LEVEL_RULE = "level"  # the rule of every verdict alert (event alerts carry their rule's name)

SCHEMA = "threadwatch.alert/v2"


class Status(enum.Enum):
    FIRING = "firing"
    RESOLVED = "resolved"


class Transition(enum.Enum):
    """Why this notification of the alert is sent."""

    FIRING = "firing"  # held long enough (or an event rule matched)
    ESCALATED = "escalated"  # yellow → red while firing
    REPEAT = "repeat"  # still active after repeat_seconds
    RESOLVED = "resolved"  # green again / no new event for event_quiet_seconds
    TEST = "test"  # threadwatch alert-test


def iso_time(seconds: float) -> str:
    """RFC 3339 UTC time with milliseconds, e.g. ``2026-11-27T17:41:33.000Z``."""
    moment = datetime.fromtimestamp(seconds, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


@dataclass(frozen=True)
class AlertReason:
    """Why an alert fires: the metric, its value, the comparison, a human line and the name
    of the rule (a ``[[rules]]`` rule, or the event rule)."""

    metric: str
    kind: str  # "rate", "count" or "event"
    value: float
    operator: str
    threshold: float
    why: str
    text: str
    rule: str = ""  # empty in alerts stored before rules had names

    @classmethod
    def from_reason(cls, reason: Reason) -> AlertReason:
        return cls(reason.metric, "rate" if reason.is_rate else "count", reason.value,
                   reason.operator, reason.threshold, reason.why, reason.describe(), reason.rule)

    def as_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric, "kind": self.kind, "value": self.value,
            "operator": self.operator, "threshold": self.threshold, "why": self.why,
            "text": self.text, "rule": self.rule,
        }

    def escaped(self) -> AlertReason:
        """This reason with its texts through ``safe_text``."""
        return dataclasses.replace(self, metric=safe_text(self.metric), why=safe_text(self.why),
                                   text=safe_text(self.text), rule=safe_text(self.rule))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AlertReason:
        return cls(str(data["metric"]), str(data["kind"]), float(data["value"]),
                   str(data["operator"]), float(data["threshold"]), str(data["why"]),
                   str(data["text"]), str(data.get("rule", "")))


@dataclass(frozen=True)
class Alert:
    """One alert at the moment of one notification.

    Attributes:
        key: stable identity of the episode's alert (``level:<scope>``, ``event:<rule>:<scope>``).
        rule: ``level`` for verdict alerts, else the event rule's name.
        status: firing or resolved.
        transition: why this notification is sent.
        level: ``yellow`` or ``red`` (for resolved: the last level while firing).
        previous_level: the level before an escalation, else None.
        scope: a source path or ``total``.
        summary: one human line.
        reasons: why it fires (empty for resolved).
        samples: a few offending log lines (raw: sinks escape them).
        starts_at: when the condition began (seconds since the epoch).
        ends_at: when it ended (resolved only).
        occurrences: matching events so far (event rules), else 0.
    """

    key: str
    rule: str
    status: Status
    transition: Transition
    level: str
    scope: str
    summary: str
    starts_at: float
    reasons: tuple[AlertReason, ...] = ()
    samples: tuple[str, ...] = ()
    previous_level: str | None = None
    ends_at: float | None = None
    occurrences: int = 0

    def as_dict(self) -> dict[str, Any]:
        """The alert as the webhook body's documented JSON object."""
        return {
            "key": self.key,
            "rule": self.rule,
            "status": self.status.value,
            "transition": self.transition.value,
            "level": self.level,
            "previous_level": self.previous_level,
            "scope": self.scope,
            "summary": self.summary,
            "reasons": [reason.as_dict() for reason in self.reasons],
            "samples": list(self.samples),
            "starts_at": iso_time(self.starts_at),
            "ends_at": None if self.ends_at is None else iso_time(self.ends_at),
            "starts_at_epoch": self.starts_at,
            "ends_at_epoch": self.ends_at,
            "occurrences": self.occurrences,
        }

    def escaped(self) -> Alert:
        """This alert as sinks send it: control and bidi characters in its texts (key, rule,
        scope, summary, reasons) written as visible escapes (``text.safe_text``); samples keep
        their newlines and tabs. A file name or log line must not drive a receiver's terminal,
        label or chat; the escaping is the same everywhere, so keys stay stable."""
        return dataclasses.replace(
            self, key=safe_text(self.key), rule=safe_text(self.rule),
            scope=safe_text(self.scope), summary=safe_text(self.summary),
            reasons=tuple(reason.escaped() for reason in self.reasons),
            samples=tuple(safe_block(sample) for sample in self.samples))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Alert:
        return cls(
            key=str(data["key"]), rule=str(data["rule"]), status=Status(data["status"]),
            transition=Transition(data["transition"]), level=str(data["level"]),
            previous_level=data.get("previous_level"), scope=str(data["scope"]),
            summary=str(data["summary"]),
            reasons=tuple(AlertReason.from_dict(r) for r in data.get("reasons", ())),
            samples=tuple(str(s) for s in data.get("samples", ())),
            starts_at=float(data["starts_at_epoch"]),
            ends_at=None if data.get("ends_at_epoch") is None else float(data["ends_at_epoch"]),
            occurrences=int(data.get("occurrences", 0)),
        )


def new_notification_id() -> str:
    """A fresh notification id: a random UUID, so ids from different hosts and state files
    never repeat."""
    return str(uuid.uuid4())


def _legacy_id(data: dict[str, Any]) -> str:
    # Stored before ids were UUIDs (a per-file number): derived from the stored body, so it
    # is the same on every retry.
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "threadwatch:{}:{!r}:{}".format(
        data.get("host"), data.get("created_at_epoch"), data.get("id"))))


@dataclass(frozen=True)
class Notification:
    """The alerts one message carries, from one host, created at ``created_at``.

    Attributes:
        id: unique across hosts and state files (a UUID) and the same on every retry of this
            notification, so receivers can drop duplicates by it; None until it is stored.
        number: its row in this state file (for ``threadwatch alerts``), None until stored.
    """

    alerts: tuple[Alert, ...]
    created_at: float
    host: str
    id: str | None = field(default=None, compare=False)
    number: int | None = field(default=None, compare=False)

    @property
    def status(self) -> Status:
        """Firing if any alert fires, else resolved."""
        if any(alert.status is Status.FIRING for alert in self.alerts):
            return Status.FIRING
        return Status.RESOLVED

    def as_dict(self) -> dict[str, Any]:
        """The documented webhook body (``schema`` ``threadwatch.alert/v2``)."""
        return {
            "schema": SCHEMA,
            "id": self.id,
            "status": self.status.value,
            "host": self.host,
            "created_at": iso_time(self.created_at),
            "created_at_epoch": self.created_at,
            "alerts": [alert.as_dict() for alert in self.alerts],
        }

    def escaped(self) -> Notification:
        """This notification as sinks send it (``Alert.escaped``; the host too)."""
        return dataclasses.replace(self, alerts=tuple(alert.escaped() for alert in self.alerts),
                                   host=safe_text(self.host))

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, text: str, number: int | None = None) -> Notification:
        data = json.loads(text)
        stored_id = data.get("id")
        if stored_id is not None and not isinstance(stored_id, str):
            stored_id = _legacy_id(data)
        return cls(tuple(Alert.from_dict(a) for a in data["alerts"]),
                   float(data["created_at_epoch"]), str(data["host"]), stored_id, number)
