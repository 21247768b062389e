"""The sender against a real HTTP server: 429 Retry-After is honoured, then delivered."""

from __future__ import annotations

from pathlib import Path

from pytest_httpserver import HTTPServer

from threadwatch.alerts.checks import sample_notification
from threadwatch.alerts.outbox import DELIVERED, Outbox
from threadwatch.alerts.secrets import Secret
from threadwatch.alerts.sender import Sender
from threadwatch.alerts.settings import DeliveryConfig
from threadwatch.alerts.sinks import WebhookSink
from threadwatch.alerts.sinks.http import retry_after_seconds
from threadwatch.alerts.testing import FakeClock


def test_a_429_retry_after_delays_the_next_attempt_exactly(tmp_path: Path,
                                                           httpserver: HTTPServer) -> None:
    httpserver.expect_ordered_request("/hook").respond_with_data(
        "busy", status=429, headers={"Retry-After": "30"})
    httpserver.expect_ordered_request("/hook").respond_with_data("ok")
    clock = FakeClock()
    outbox = Outbox(tmp_path / "s.db")
    outbox.enqueue(sample_notification(clock.now, "h"), ["hook"])
    sink = WebhookSink(Secret(httpserver.url_for("/hook")))
    sender = Sender(outbox, {"hook": sink}, {}, DeliveryConfig())
    try:
        assert sender.deliver_due(clock.now) == 1
        assert sender.deliver_due(clock.advance(29.9)) == 0
        assert sender.deliver_due(clock.advance(0.1)) == 1
        [delivery] = outbox.deliveries()
    finally:
        sink.close()
        outbox.close()
    assert (delivery.state, delivery.attempts) == (DELIVERED, 2)
    assert len(httpserver.log) == 2


def test_retry_after_may_be_an_http_date() -> None:
    assert retry_after_seconds("Wed, 21 Oct 2026 07:28:00 GMT", now=1792567660.0) == 20.0
    assert retry_after_seconds("soon") is None
