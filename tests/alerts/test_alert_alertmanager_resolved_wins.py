"""Against a real Alertmanager: a post processed late (it timed out on our side) cannot keep a
resolved alert open, and the re-posting that ensures it never ends a newer episode."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from threadwatch.alerts.model import (
    Alert,
    AlertReason,
    Notification,
    Status,
    Transition,
    iso_time,
)
from threadwatch.alerts.outbox import Outbox
from threadwatch.alerts.secrets import Secret
from threadwatch.alerts.sender import Sender
from threadwatch.alerts.settings import DeliveryConfig
from threadwatch.alerts.sinks import AlertmanagerSink
from threadwatch.alerts.sinks.alertmanager import alertmanager_body
from threadwatch.alerts.testing import FakeClock

TTL = 7200.0


def _clock() -> FakeClock:
    """An hour behind the real time, so it can advance without ending anything in
    Alertmanager's future (Alertmanager judges endsAt by its own clock)."""
    return FakeClock(float(int(time.time())) - 3600)


def _alert(scope: str, starts: float, ends: float | None = None) -> Alert:
    return Alert(
        key=f"level:{scope}", rule="level",
        status=Status.FIRING if ends is None else Status.RESOLVED,
        transition=Transition.FIRING if ends is None else Transition.RESOLVED,
        level="red", scope=scope, summary=f"{scope} is RED", starts_at=starts,
        reasons=(AlertReason("overload", "rate", 0.6, ">", 0.5, "", "overload rate 60%"),),
        ends_at=ends)


def _active(url: str, scope: str) -> list[dict[str, Any]]:
    answer = httpx.get(f"{url}/api/v2/alerts", params={"filter": f'scope="{scope}"'}, timeout=5)
    answer.raise_for_status()
    found: list[dict[str, Any]] = answer.json()
    return found


def _post_late(url: str, body: list[dict[str, Any]]) -> None:
    """What a post that timed out on our side does when Alertmanager processes it now."""
    httpx.post(f"{url}/api/v2/alerts", content=json.dumps(body),
               headers={"Content-Type": "application/json"}, timeout=5).raise_for_status()


class _Delivering:
    """An outbox, a real Alertmanager sink and its sender, all on ``clock``."""

    def __init__(self, state: Path, url: str, clock: FakeClock) -> None:
        self.clock = clock
        self.outbox = Outbox(state)
        self.sink = AlertmanagerSink(Secret(url), TTL, clock=clock)
        self.sender = Sender(self.outbox, {"am": self.sink}, {}, DeliveryConfig())

    def send(self, alert: Alert) -> None:
        self.outbox.enqueue(Notification((alert,), self.clock.now, "h1"), ["am"])
        assert self.sender.deliver_due(self.clock.now) == 1

    def close(self) -> None:
        self.sink.close()
        self.outbox.close()


def test_a_firing_post_processed_after_the_resolve_is_overridden_within_a_minute(
        alertmanager: str, tmp_path: Path) -> None:
    clock = _clock()
    scope = f"late-{uuid.uuid4().hex[:8]}.log"
    started = clock.now - 300
    delivering = _Delivering(tmp_path / "s.db", alertmanager, clock)
    try:
        firing = Notification((_alert(scope, started),), clock.now, "h1")
        timed_out = alertmanager_body(firing, TTL, clock.now)  # the attempt that timed out
        delivering.send(_alert(scope, started))  # its retry
        clock.advance(10)
        delivering.send(_alert(scope, started, ends=clock.now - 5))
        assert _active(alertmanager, scope) == []
        _post_late(alertmanager, timed_out)
        assert len(_active(alertmanager, scope)) == 1  # re-opened: the defect
        delivering.sender.deliver_due(clock.advance(30))
        assert len(_active(alertmanager, scope)) == 1  # not yet a minute
        delivering.sender.deliver_due(clock.advance(31))
        assert _active(alertmanager, scope) == []
    finally:
        delivering.close()


def test_re_posting_never_ends_a_newer_episode_even_after_a_late_resolve(
        alertmanager: str, tmp_path: Path) -> None:
    clock = _clock()
    scope = f"again-{uuid.uuid4().hex[:8]}.log"
    delivering = _Delivering(tmp_path / "s.db", alertmanager, clock)
    try:
        first = clock.now - 600
        delivering.send(_alert(scope, first))
        ended = clock.advance(10) - 5
        resolved = _alert(scope, first, ends=ended)
        late_resolve = alertmanager_body(Notification((resolved,), clock.now, "h1"), TTL)
        delivering.send(resolved)
        second = clock.advance(20)
        delivering.send(_alert(scope, second))  # a new episode of the same alert
        for _ in range(3):
            delivering.sender.deliver_due(clock.advance(61))
            [active] = _active(alertmanager, scope)
            assert active["startsAt"] == iso_time(second)
        _post_late(alertmanager, late_resolve)  # the old resolve, processed late
        assert _active(alertmanager, scope) == []
        delivering.sender.deliver_due(clock.advance(61))
        assert len(_active(alertmanager, scope)) == 1
    finally:
        delivering.close()
