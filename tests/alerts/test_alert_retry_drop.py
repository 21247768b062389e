"""``threadwatch alerts retry|drop ID`` against a real ``tail`` process, its state file and a
real local HTTP receiver: a notification given up on (failed after ``max_age_seconds``) goes
out when retried, without restarting tail; a dropped one never does. And a drop while an
attempt is in flight (in process, on a real state file)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from alert_helpers import Receiver
from pytest_httpserver import HTTPServer

from faults.tail_process import FAST_TAIL, MEMORY_ERROR, TailService, append
from sources.tail_helpers import wait_until
from threadwatch.alerts.model import Notification
from threadwatch.alerts.outbox import Outbox
from threadwatch.alerts.sender import SinkSender
from threadwatch.alerts.settings import DeliveryConfig
from threadwatch.alerts.testing import MemorySink
from threadwatch.errors import DeliveryError

SINK = """
[alerts.sinks.{name}]
type = "webhook"
url = "${{{variable}}}"
"""


def config(max_age: float, *sinks: str) -> str:
    return FAST_TAIL + f"""
[alerts]
hold_seconds = 0
group_wait_seconds = 0
[alerts.delivery]
backoff_initial_seconds = 0.1
backoff_max_seconds = 0.3
max_age_seconds = {max_age}
""" + "".join(SINK.format(name=name, variable=f"RETRY_{name.upper()}_URL") for name in sinks)


def alerts(state: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "threadwatch", "alerts", *args,
                           "--state", str(state)],
                          capture_output=True, text=True, timeout=60, env=os.environ, check=False)


def deliveries(service: TailService) -> dict[str, dict[str, Any]]:
    """The deliveries of the state file by sink ({} before tail has made it)."""
    listing = alerts(service.state, "--format", "json")
    if listing.returncode != 0:
        assert "no state file" in listing.stderr
        return {}
    return {d["sink"]: d for d in json.loads(listing.stdout)["deliveries"]}


def test_a_notification_given_up_on_arrives_when_retried(
        tmp_path: Path, httpserver: HTTPServer) -> None:
    receiver = Receiver()  # down: 503 to every attempt
    httpserver.expect_request("/hook").respond_with_handler(receiver)
    env = {"RETRY_HOOK_URL": httpserver.url_for("/hook")}
    with TailService(tmp_path, config(1.5, "hook"), env) as service:
        service.start()
        append(service.logs / "run.log", MEMORY_ERROR)
        wait_until(lambda: deliveries(service).get("hook", {}).get("state") == "failed",
                   "the delivery to be given up on after max_age_seconds")
        receiver.down = False
        time.sleep(1.5)  # a failed delivery stays failed: nothing is sent on its own
        assert receiver.accepted == []

        done = alerts(service.state, "retry", "#1")
        assert done.returncode == 0, done.stderr
        assert done.stdout == "#1 -> hook: due now (was failed)\n"
        # the running tail's sender takes it up (and its age counts from the retry, so it is
        # not given up on again at once)
        wait_until(lambda: len(receiver.accepted) == 1, "the retried notification to arrive",
                   timeout=10)
        wait_until(lambda: deliveries(service)["hook"]["state"] == "delivered",
                   "the delivery to be marked delivered")
        assert receiver.accepted[0][1]["alerts"][0]["key"] == "event:memory-error:" + str(
            service.logs / "run.log")
        assert service.stop()[0] == 0


def test_a_failed_notification_retried_while_tail_is_stopped_goes_out_at_the_next_start(
        tmp_path: Path, httpserver: HTTPServer) -> None:
    receiver = Receiver()
    httpserver.expect_request("/hook").respond_with_handler(receiver)
    env = {"RETRY_HOOK_URL": httpserver.url_for("/hook")}
    with TailService(tmp_path, config(1.5, "hook"), env) as service:
        service.start()
        append(service.logs / "run.log", MEMORY_ERROR)
        wait_until(lambda: deliveries(service).get("hook", {}).get("state") == "failed",
                   "the delivery to be given up on after max_age_seconds")
        assert service.stop()[0] == 0
        receiver.down = False
        done = alerts(service.state, "retry", "1", "--sink", "hook")
        assert done.returncode == 0, done.stderr
        assert receiver.accepted == []
        service.start()
        wait_until(lambda: len(receiver.accepted) == 1, "the retried notification to arrive",
                   timeout=10)
        assert service.stop()[0] == 0


def test_a_dropped_delivery_never_arrives(tmp_path: Path, httpserver: HTTPServer) -> None:
    """Two sinks, both pending while the receiver is down; the delivery to one is dropped,
    then the receiver comes back: the other sink's arrives, the dropped one never does."""
    receiver = Receiver()
    httpserver.expect_request("/hook").respond_with_handler(receiver)
    httpserver.expect_request("/keep").respond_with_handler(receiver)
    env = {"RETRY_HOOK_URL": httpserver.url_for("/hook"),
           "RETRY_KEEP_URL": httpserver.url_for("/keep")}
    with TailService(tmp_path, config(3600, "hook", "keep"), env) as service:
        service.start()
        append(service.logs / "run.log", MEMORY_ERROR)
        wait_until(lambda: deliveries(service).get("hook", {}).get("attempts", 0) >= 1,
                   "a failed attempt to the hook")
        done = alerts(service.state, "drop", "1", "--sink", "hook")
        assert done.returncode == 0, done.stderr
        assert done.stdout == "#1 -> hook: dropped (was pending)\n"

        receiver.down = False
        wait_until(lambda: [path for path, _ in receiver.accepted] == ["/keep"],
                   "the other sink's delivery to arrive", timeout=10)
        time.sleep(2.0)  # many passes of the hook's sender (backoff at most 0.3 s)
        assert [path for path, _ in receiver.accepted] == ["/keep"]
        states = {sink: d["state"] for sink, d in deliveries(service).items()}
        assert states == {"hook": "dropped", "keep": "delivered"}
        listing = alerts(service.state)
        assert "outbox: 0 pending, 1 delivered, 0 failed, 1 dropped" in listing.stdout
        assert "#1 -> hook         dropped" in listing.stdout
        assert service.stop()[0] == 0


class DroppingSink(MemorySink):
    """A sink during whose attempt the delivery is dropped by hand (another process running
    ``alerts drop``), then the attempt fails or succeeds."""

    def __init__(self, outbox: Outbox, delivery_id: int, *, accept: bool) -> None:
        super().__init__()
        self._outbox, self._id, self._accept = outbox, delivery_id, accept

    def send(self, notification: Notification) -> None:
        assert self._outbox.drop(self._id, 1001.0)
        if not self._accept:
            raise DeliveryError("HTTP 503", retryable=True)
        self.sent.append(notification)


@pytest.mark.parametrize(("accept", "state"), [(False, "dropped"), (True, "delivered")])
def test_a_drop_during_an_attempt_is_not_undone_by_its_outcome(
        tmp_path: Path, accept: bool, state: str) -> None:
    """A failed attempt does not make a dropped delivery pending again; one the receiver
    accepted is marked delivered, which is what happened."""
    outbox = Outbox(tmp_path / "state.db")
    outbox.enqueue(Notification((), 1000.0, "h"), ["hook"])
    delivery = outbox.deliveries_of(1)[0]
    sender = SinkSender(outbox, "hook", DroppingSink(outbox, delivery.id, accept=accept), 0.0,
                        DeliveryConfig())
    assert sender.deliver_due(1001.0) == 1
    assert outbox.deliveries_of(1)[0].state == state
    assert sender.deliver_due(1100.0) == 0  # nothing left to attempt
    outbox.close()
