"""Alertmanager's own API (``POST /api/v2/alerts``), so a fleet of hosts shares one router.

Alertmanager knows an alert by its label set. The labels are ``alertname``
(``threadwatch_level``, ``threadwatch_event`` or ``threadwatch_test``), ``rule``, ``severity``
(yellow → ``warning``, red → ``critical``), ``scope``, ``host`` and ``threadwatch_key``. A firing
alert is posted with ``endsAt`` ``firing_ttl_seconds`` ahead of the time it is *sent* (not
made: retries may go on for ``max_age_seconds``, longer than the TTL, and an alert delivered
late must still arrive firing; a repeat extends it; if threadwatch dies, Alertmanager resolves
it by itself); a resolved one with its real end time,
which is now or past, so Alertmanager marks it resolved. Since the severity is a label, a
change of level also ends the alert under the previous severity.

Labels and annotations carry no control or bidi character: they are written as visible escapes
(``Alert.escaped``), since Alertmanager passes them on to every receiver and UI.

The resolved state wins, also over a post that Alertmanager processes late. A post that timed
out on our side may still be processed after a later one (Alertmanager busy, a proxy holding
it); a late *firing* post would re-open a resolved alert until its ``endsAt``, up to
``firing_ttl_seconds`` (Alertmanager replaces an alert by the newest post for its label set).
Our own posts cannot overtake each other (one sender per sink, first in first out, and a
firing post is never sent after the resolve of the same alert). So the sink remembers the
last state it posted for each label set and, every ``RESYNC_SECONDS`` while no delivery to it
is waiting, posts those states again, unchanged: a stale post processed late is overridden
within a minute. A resolved state is re-posted for ``firing_ttl_seconds`` after it was posted
(any firing post made before it has expired by then), a firing one until its ``endsAt``; the
memory is the process's (after a restart, the first posts start it again).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from threadwatch.alerts.model import (
    LEVEL_RULE,
    Alert,
    Notification,
    Status,
    Transition,
    iso_time,
)
from threadwatch.alerts.secrets import Secret
from threadwatch.alerts.sinks.http import HttpPoster
from threadwatch.alerts.sinks.registry import SinkSettings, register_sink
from threadwatch.settings import DAY

SEVERITY = {"yellow": "warning", "red": "critical"}
TEST_TTL_SECONDS = 300.0
RESYNC_SECONDS = 60.0  # as Prometheus re-sends its alerts
_API_PATH = "api/v2/alerts"
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


def alertmanager_body(notification: Notification, firing_ttl_seconds: float,
                      sent_at: float | None = None) -> list[dict[str, Any]]:
    """The list of postable alerts for one notification sent at ``sent_at`` (default: when it
    was made). A firing alert ends ``firing_ttl_seconds`` after the later of the two."""
    body = []
    notification = notification.escaped()  # no raw control or bidi character in a label
    now = notification.created_at
    firing_from = now if sent_at is None else max(now, sent_at)
    for alert in notification.alerts:
        if alert.status is Status.RESOLVED:
            ends = alert.ends_at if alert.ends_at is not None else now
        else:
            ttl = TEST_TTL_SECONDS if alert.transition is Transition.TEST else firing_ttl_seconds
            ends = firing_from + ttl
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


class AlertmanagerSinkConfig(SinkSettings):
    """An Alertmanager (``url`` is its base URL; alerts go to ``/api/v2/alerts``).

    Firing alerts are posted with ``endsAt = now + firing_ttl_seconds``: if threadwatch dies,
    Alertmanager resolves them by itself after that long. Repeats re-post and extend it. At
    most a day: an alert of a dead threadwatch must not stay firing for longer.
    """

    type: Literal["alertmanager"]
    firing_ttl_seconds: float = Field(7200.0, gt=0, le=DAY)

    def conflict(self, *, repeat_seconds: float) -> str | None:
        if self.firing_ttl_seconds <= repeat_seconds:
            # Otherwise Alertmanager would resolve a still-firing alert between repeats.
            return "firing_ttl_seconds must exceed alerts.repeat_seconds"
        return None


class AlertmanagerSink:
    """Posts alerts to an Alertmanager, and re-posts the states it posted (``resync``).

    Args:
        url: Alertmanager's base URL, e.g. ``http://alertmanager:9093`` (kept secret: it may
            hold credentials).
        firing_ttl_seconds: how long a firing alert stays firing without a repeat, counted from
            each attempt to send it.
        timeout_seconds, verify_tls: for the request.
        clock: the current time, seconds since the epoch (inject a fake one in tests).
        resync_seconds: how often ``resync`` re-posts the remembered states.
    """

    def __init__(self, url: Secret, firing_ttl_seconds: float = 7200.0,
                 timeout_seconds: float = 10.0, verify_tls: bool = True, *,
                 clock: Callable[[], float] = time.time,
                 resync_seconds: float = RESYNC_SECONDS) -> None:
        endpoint = Secret(url.reveal().rstrip("/") + "/" + _API_PATH)
        self._poster = HttpPoster(endpoint, timeout_seconds, verify_tls,
                                  frozenset(_API_PATH.split("/")))
        self._ttl = firing_ttl_seconds
        self._clock = clock
        self._resync_every = resync_seconds
        # label set → (the alert as last posted, re-post it until then)
        self._posted: dict[tuple[tuple[str, str], ...], tuple[dict[str, Any], float]] = {}
        self._next_resync = float("-inf")

    def send(self, notification: Notification) -> None:
        now = self._clock()
        body = alertmanager_body(notification, self._ttl, now)
        # remembered as meant, before the attempt: if it fails but is processed late anyway,
        # the re-post says the same
        for alert in body:
            ends = _epoch(alert["endsAt"])
            keep_until = now + self._ttl if ends <= now else ends
            self._posted[tuple(sorted(alert["labels"].items()))] = (alert, keep_until)
        self._next_resync = now + self._resync_every
        self._poster.post(json.dumps(body).encode(), {"Content-Type": "application/json"})

    def resync(self, now: float) -> None:
        """Every ``resync_seconds``: post again the last state posted for each label set that
        still matters (call it only when no delivery to this sink is waiting).

        Raises:
            DeliveryError: the post failed (the next resync tries again).
        """
        if now < self._next_resync:
            return
        self._next_resync = now + self._resync_every
        self._posted = {labels: kept for labels, kept in self._posted.items() if kept[1] > now}
        if self._posted:
            body = [alert for alert, _ in self._posted.values()]
            self._poster.post(json.dumps(body).encode(), {"Content-Type": "application/json"})

    def close(self) -> None:
        self._poster.close()


def _build(name: str, settings: AlertmanagerSinkConfig, url: Secret,
           env: Mapping[str, str]) -> AlertmanagerSink:
    return AlertmanagerSink(url, settings.firing_ttl_seconds, settings.timeout_seconds,
                            settings.verify_tls)


register_sink(AlertmanagerSinkConfig, _build)


def _epoch(moment: str) -> float:
    return datetime.fromisoformat(moment.replace("Z", "+00:00")).timestamp()
