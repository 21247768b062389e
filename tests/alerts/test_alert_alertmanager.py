"""The Alertmanager sink against a real Alertmanager (Debian's prometheus-alertmanager)."""

from __future__ import annotations

import dataclasses
import json
import uuid
from datetime import datetime
from typing import Any

import httpx
from pytest_httpserver import HTTPServer

from threadwatch.alerts.model import Alert, AlertReason, Notification, Status, Transition
from threadwatch.alerts.secrets import Secret
from threadwatch.alerts.sinks import AlertmanagerSink
from threadwatch.alerts.testing import FakeClock


def _alert(scope: str, at: float, status: Status, level: str = "red",
           previous: str | None = None) -> Alert:
    resolved = status is Status.RESOLVED
    return Alert(
        key=f"level:{scope}", rule="level", status=status,
        transition=Transition.RESOLVED if resolved else (
            Transition.ESCALATED if previous else Transition.FIRING),
        level=level, previous_level=previous, scope=scope, summary=f"{scope} is RED",
        starts_at=at - 120,
        reasons=(AlertReason("overload", "rate", 0.6, ">", 0.5, "", "overload rate 60%"),),
        samples=("run_batt.py:1: -- System overloaded (64 threads), using sequential",),
        ends_at=at if resolved else None)


def _read(url: str, scope: str) -> list[dict[str, Any]]:
    answer = httpx.get(f"{url}/api/v2/alerts", params={"filter": f'scope="{scope}"'}, timeout=5)
    answer.raise_for_status()
    found: list[dict[str, Any]] = answer.json()
    return found


def _send(url: str, notification: Notification) -> None:
    sink = AlertmanagerSink(Secret(url), firing_ttl_seconds=7200)
    try:
        sink.send(notification)
    finally:
        sink.close()


def test_a_posted_alert_is_active_in_alertmanager(alertmanager: str, clock: FakeClock) -> None:
    scope = f"host-{uuid.uuid4().hex[:8]}.log"
    _send(alertmanager, Notification((_alert(scope, clock.now, Status.FIRING),), clock.now, "h1"))
    [alert] = _read(alertmanager, scope)
    assert alert["labels"]["severity"] == "critical"
    assert alert["labels"]["threadwatch_key"] == f"level:{scope}"
    assert alert["labels"]["host"] == "h1"
    assert alert["annotations"]["summary"] == f"{scope} is RED"
    assert alert["status"]["state"] in ("active", "unprocessed")


def test_a_resolved_alert_leaves_alertmanagers_active_alerts(alertmanager: str,
                                                            clock: FakeClock) -> None:
    scope = f"host-{uuid.uuid4().hex[:8]}.log"
    _send(alertmanager, Notification((_alert(scope, clock.now, Status.FIRING),), clock.now, "h1"))
    assert len(_read(alertmanager, scope)) == 1
    # The clock starts at the real time rounded down: the end is not in Alertmanager's future.
    _send(alertmanager, Notification((_alert(scope, clock.now, Status.RESOLVED),), clock.now,
                                     "h1"))
    # Alertmanager 0.25 drops alerts whose endsAt has passed from GET /api/v2/alerts.
    assert _read(alertmanager, scope) == []


def test_an_escalation_ends_the_previous_severity(alertmanager: str, clock: FakeClock) -> None:
    scope = f"host-{uuid.uuid4().hex[:8]}.log"
    yellow = _alert(scope, clock.now, Status.FIRING, level="yellow")
    _send(alertmanager, Notification((yellow,), clock.now, "h1"))
    red = _alert(scope, clock.now, Status.FIRING, level="red", previous="yellow")
    _send(alertmanager, Notification((red,), clock.now, "h1"))
    assert [a["labels"]["severity"] for a in _read(alertmanager, scope)] == ["critical"]


def _seconds(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def test_a_firing_alert_delivered_late_still_ends_a_ttl_after_sending(
        httpserver: HTTPServer) -> None:
    httpserver.expect_request("/api/v2/alerts", method="POST").respond_with_data("")
    clock = FakeClock(1_800_000_000.0)
    made = clock.now
    notification = Notification((_alert("a.log", made, Status.FIRING, level="red"),
                                 _alert("b.log", made, Status.RESOLVED)), made, "h1")
    sink = AlertmanagerSink(Secret(httpserver.url_for("/")), firing_ttl_seconds=600,
                            clock=clock)
    try:
        clock.advance(3600)  # retried for an hour: longer than the TTL
        sink.send(notification)
    finally:
        sink.close()
    firing, resolved = json.loads(httpserver.log[0][0].get_data())
    assert _seconds(firing["endsAt"]) == clock.now + 600  # firing when it arrives
    assert _seconds(resolved["endsAt"]) == made  # a resolution keeps its real end


def test_labels_and_annotations_reach_alertmanager_without_controls(
        alertmanager: str, clock: FakeClock) -> None:
    marker = uuid.uuid4().hex[:8]
    scope = f"host-{marker}.log\nthreadwatch: all clear\u202e\x1b]0;x\x07"
    alert = dataclasses.replace(_alert(scope, clock.now, Status.FIRING),
                                samples=("MemoryError \x1b[31m\u2066red",))
    _send(alertmanager, Notification((alert,), clock.now, "h\x1b[2J"))
    shown = scope.replace("\n", r"\n").replace("\u202e", r"\u202e").replace(
        "\x1b", r"\x1b").replace("\x07", r"\x07")
    answer = httpx.get(f"{alertmanager}/api/v2/alerts", timeout=5)  # (a filter would need
    answer.raise_for_status()                                        # its backslashes escaped)
    [found] = [a for a in answer.json() if marker in a["labels"]["scope"]]
    assert found["labels"]["scope"] == shown
    assert found["labels"]["threadwatch_key"] == f"level:{shown}"
    assert found["labels"]["host"] == r"h\x1b[2J"
    assert found["annotations"]["summary"] == f"{shown} is RED"
    assert found["annotations"]["samples"] == r"MemoryError \x1b[31m\u2066red"
