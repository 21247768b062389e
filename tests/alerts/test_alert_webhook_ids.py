"""Webhook ids: unique across hosts and state files, the same in every retry of a notification
(receivers drop duplicates by it). Real outboxes, senders and a real HTTP receiver."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from pytest_httpserver import HTTPServer

from threadwatch.alerts.checks import sample_notification
from threadwatch.alerts.outbox import Outbox
from threadwatch.alerts.secrets import Secret
from threadwatch.alerts.sender import Sender
from threadwatch.alerts.settings import DeliveryConfig
from threadwatch.alerts.sinks import WebhookSink
from threadwatch.alerts.testing import FakeClock


def _send_all(state: Path, host: str, url: str, clock: FakeClock, count: int = 1) -> None:
    """``count`` notifications from ``host`` through a fresh state file, until delivered."""
    outbox = Outbox(state)
    sink = WebhookSink(Secret(url))
    sender = Sender(outbox, {"hook": sink}, {}, DeliveryConfig(backoff_initial_seconds=1))
    try:
        for _ in range(count):
            outbox.enqueue(sample_notification(clock.now, host), ["hook"])
        for _ in range(10):
            sender.deliver_due(clock.advance(1))
    finally:
        sink.close()
        outbox.close()


def _ids(httpserver: HTTPServer) -> list[str]:
    return [json.loads(request.get_data())["id"] for request, _ in httpserver.log]


def test_ids_never_repeat_across_hosts_and_new_state_files(tmp_path: Path,
                                                          httpserver: HTTPServer) -> None:
    httpserver.expect_request("/hook").respond_with_data("ok")
    clock = FakeClock()
    url = httpserver.url_for("/hook")
    _send_all(tmp_path / "a.db", "host-a", url, clock, count=2)
    _send_all(tmp_path / "b.db", "host-b", url, clock, count=2)
    (tmp_path / "a.db").unlink()  # host-a starts over with a new state file
    _send_all(tmp_path / "a.db", "host-a", url, clock, count=2)
    ids = _ids(httpserver)
    assert len(ids) == 6 and len(set(ids)) == 6, ids
    assert all(str(uuid.UUID(one)) == one for one in ids)


def test_a_retried_notification_keeps_its_id(tmp_path: Path, httpserver: HTTPServer) -> None:
    httpserver.expect_ordered_request("/hook").respond_with_data("down", status=503)
    httpserver.expect_ordered_request("/hook").respond_with_data("ok")
    _send_all(tmp_path / "s.db", "host-a", httpserver.url_for("/hook"), FakeClock())
    first, second = _ids(httpserver)
    assert first == second
