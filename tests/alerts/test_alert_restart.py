"""Durability: what is queued while the receiver is down goes out after a restart, once."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from alert_helpers import alerts_config, change, health
from pytest_httpserver import HTTPServer

from threadwatch.alerts.dispatcher import AlertDispatcher, build_alert_consumer
from threadwatch.alerts.outbox import Outbox
from threadwatch.alerts.secrets import Secret
from threadwatch.alerts.sinks import WebhookSink
from threadwatch.alerts.testing import FakeClock
from threadwatch.config import Config
from threadwatch.errors import SinkConfigError
from threadwatch.events import Event, Kind
from threadwatch.health.levels import Level


def _dispatcher(state: Path, url: str, clock: FakeClock) -> AlertDispatcher:
    config = alerts_config(hold_seconds=0, group_wait_seconds=0)
    return AlertDispatcher(config, Outbox(state), {"hook": WebhookSink(Secret(url))}, clock,
                           background=False)


def test_alerts_queued_while_down_are_delivered_once_after_restart(
        tmp_path: Path, httpserver: HTTPServer, clock: FakeClock) -> None:
    url = httpserver.url_for("/hook")
    httpserver.expect_request("/hook").respond_with_data("down", status=503)
    first = _dispatcher(tmp_path / "state.db", url, clock)
    for source in ("a.log", "b.log", "c.log"):
        first.on_events([Event(Kind.MEMORY_ERROR, source, 0, text="CRITICAL: MemoryError")],
                        clock.now)
        first.tick(clock.advance(1))
    first.close()
    assert len(httpserver.log) == 1  # the first is refused; the others wait behind it

    httpserver.clear()
    httpserver.expect_request("/hook").respond_with_data("ok")
    second = _dispatcher(tmp_path / "state.db", url, clock)
    for _ in range(5):
        second.tick(clock.advance(60))
    second.close()
    keys = [json.loads(request.get_data())["alerts"][0]["key"] for request, _ in httpserver.log]
    assert keys == ["event:memory-error:a.log", "event:memory-error:b.log",
                    "event:memory-error:c.log"]


def test_build_alert_consumer_sends_from_a_background_thread(
        tmp_path: Path, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> None:
    httpserver.expect_request("/hook").respond_with_data("ok")
    monkeypatch.setenv("TW_TEST_HOOK", httpserver.url_for("/hook"))
    config = Config.model_validate({"alerts": {
        "hold_seconds": 0, "group_wait_seconds": 0,
        "sinks": {"hook": {"type": "webhook", "url": "${TW_TEST_HOOK}"}}}})
    clock = FakeClock()
    consumer = build_alert_consumer(config.alerts, tmp_path / "state.db", clock)
    try:
        consumer.on_changes([change("total", Level.GREEN, Level.RED, clock.now)],
                            [health("total", Level.RED)])
        consumer.tick(clock.now)
        deadline = time.monotonic() + 5  # real time: the thread works on its own schedule
        while not httpserver.log and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        consumer.close()
    assert len(httpserver.log) == 1


def test_build_alert_consumer_names_a_sink_whose_variable_is_unset(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TW_UNSET_HOOK", raising=False)
    config = Config.model_validate({"alerts": {
        "sinks": {"ops": {"type": "slack", "url": "${TW_UNSET_HOOK}"}}}})
    with pytest.raises(SinkConfigError, match=r"'ops'.*TW_UNSET_HOOK is not set"):
        build_alert_consumer(config.alerts, tmp_path / "state.db", FakeClock())
