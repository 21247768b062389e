"""Alertmanager's own API (``POST /api/v2/alerts``), so a fleet of hosts shares one router.

Alertmanager knows an alert by its label set. The labels are ``alertname``
(``threadwatch_level``, ``threadwatch_event`` or ``threadwatch_test``), ``rule``, ``severity``
(yellow → ``warning``, red → ``critical``), ``scope``, ``host`` and ``threadwatch_key``. A firing
alert is posted with ``endsAt`` ``firing_ttl_seconds`` ahead (a repeat extends it; if
threadwatch dies, Alertmanager resolves it by itself); a resolved one with its real end time,
which is now or past, so Alertmanager marks it resolved. Since the severity is a label, a
change of level also ends the alert under the previous severity.
"""

from __future__ import annotations

import json
import re
from typing import Any

from threadwatch.alerts.model import Alert, Notification, Status, Transition, iso_time
from threadwatch.alerts.rules import LEVEL_RULE
from threadwatch.alerts.secrets import Secret
from threadwatch.alerts.sinks.http import HttpPoster

SEVERITY = {"yellow": "warning", "red": "critical"}
TEST_TTL_SECONDS = 300.0
_ANNOTATION_CHARS = 4000
_NOT_LABEL = re.compile(r"[^A-Za-z0-9_]")


def _alertname(alert: Alert) -> str:
    if alert.transition is Transition.TEST:
        return "threadwatch_test"
    return "threadwatch_level" if alert.rule == LEVEL_RULE else "threadwatch_event"


def _labels(alert: Alert, host: str, level: str) -> dict[str, str]:
    return {
        "alertname": _alertname(alert),
        "rule": _NOT_LABEL.sub("_", alert.rule),
        "severity": SEVERITY.get(level, level),
        "scope": alert.scope,
        "host": host,
        "threadwatch_key": alert.key,
    }


def _annotations(alert: Alert) -> dict[str, str]:
    annotations = {"summary": alert.summary}
    if alert.reasons:
        annotations["description"] = "\n".join(r.text for r in alert.reasons)
    if alert.samples:
        annotations["samples"] = "\n".join(alert.samples)[:_ANNOTATION_CHARS]
    return annotations


def alertmanager_body(notification: Notification,
                      firing_ttl_seconds: float) -> list[dict[str, Any]]:
    """The list of postable alerts for one notification."""
    body = []
    now = notification.created_at
    for alert in notification.alerts:
        if alert.status is Status.RESOLVED:
            ends = alert.ends_at if alert.ends_at is not None else now
        else:
            ttl = TEST_TTL_SECONDS if alert.transition is Transition.TEST else firing_ttl_seconds
            ends = now + ttl
        body.append({
            "labels": _labels(alert, notification.host, alert.level),
            "annotations": _annotations(alert),
            "startsAt": iso_time(alert.starts_at),
            "endsAt": iso_time(ends),
        })
        if alert.previous_level and alert.previous_level != alert.level:
            body.append({
                "labels": _labels(alert, notification.host, alert.previous_level),
                "annotations": _annotations(alert),
                "startsAt": iso_time(alert.starts_at),
                "endsAt": iso_time(now),
            })
    return body


class AlertmanagerSink:
    """Posts alerts to an Alertmanager.

    Args:
        url: Alertmanager's base URL, e.g. ``http://alertmanager:9093`` (kept secret: it may
            hold credentials).
        firing_ttl_seconds: how long a firing alert stays firing without a repeat.
        timeout_seconds, verify_tls: for the request.
    """

    def __init__(self, url: Secret, firing_ttl_seconds: float = 7200.0,
                 timeout_seconds: float = 10.0, verify_tls: bool = True) -> None:
        endpoint = Secret(url.reveal().rstrip("/") + "/api/v2/alerts")
        self._poster = HttpPoster(endpoint, timeout_seconds, verify_tls)
        self._ttl = firing_ttl_seconds

    def send(self, notification: Notification) -> None:
        body = json.dumps(alertmanager_body(notification, self._ttl)).encode()
        self._poster.post(body, {"Content-Type": "application/json"})

    def close(self) -> None:
        self._poster.close()
