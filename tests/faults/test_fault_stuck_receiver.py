"""Fault: one stuck receiver must not stall the other sinks. A real ``threadwatch tail`` has
two webhook sinks: the first goes to a real receiver on 127.0.0.1 that reads the request and
then trickles its answer one byte a second forever (every read completes, so no per-read
timeout ever trips), the second to a healthy receiver. The healthy one gets the alert within
seconds; the stuck one is cut at its total deadline, said once on stderr, and kept pending with
a deadline error; tail still stops promptly."""

from __future__ import annotations

import time
from pathlib import Path

from pytest_httpserver import HTTPServer
from tail_process import FAST_TAIL, MEMORY_ERROR, TailService

from alerts.alert_helpers import Receiver, TricklingReceiver
from sources.tail_helpers import wait_until

CONFIG = FAST_TAIL + """
[alerts]
hold_seconds = 0
group_wait_seconds = 0
host = "stuck-host"
[alerts.delivery]
backoff_initial_seconds = 1
backoff_max_seconds = 2
[alerts.sinks.slow-hook]            # first: one sender for all would serve it first
type = "webhook"
url = "${SLOW_HOOK_URL}"
timeout_seconds = 2
[alerts.sinks.ops-webhook]
type = "webhook"
url = "${OPS_HOOK_URL}"
"""

FAILING = ("threadwatch: alerts: sink 'slow-hook' failing: timed out: no complete answer"
           " within 2 s (deadline); will retry")


def test_a_trickling_receiver_neither_stalls_the_healthy_sink_nor_tail(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    healthy = Receiver()
    healthy.down = False
    httpserver.expect_request("/ops").respond_with_handler(healthy)
    with TricklingReceiver(interval=1.0, give_up_seconds=60) as stuck, TailService(
        tmp_path, CONFIG,
        {"SLOW_HOOK_URL": stuck.url("/slow"), "OPS_HOOK_URL": httpserver.url_for("/ops")},
    ) as tail:
        log = tail.logs / "tmp_batt_Stuck0001_run.log"
        log.write_text("")
        tail.start()
        wait_until(lambda: tail.state.exists() or not tail.running(), "tail to start")
        with log.open("a") as stream:
            stream.write(MEMORY_ERROR)
        written = time.monotonic()
        wait_until(lambda: bool(healthy.accepted) or not tail.running(),
                   "the alert at the healthy receiver", timeout=30)
        took = time.monotonic() - written
        assert tail.running(), tail.stderr()
        assert took < 5.0, f"the healthy sink waited {took:.1f} s"
        # the stuck one is cut at its deadline, retried, and still failing: said once
        wait_until(lambda: stuck.requests >= 2, "a retry to the stuck receiver", timeout=30)
        wait_until(lambda: FAILING in tail.stderr(), "the failing line", timeout=10)
        code, stopping = tail.stop()
    assert code == 0, tail.stderr()
    assert stopping < 6.0, f"tail took {stopping:.1f} s to stop"  # one 2 s deadline, at most
    assert tail.stderr().count("sink 'slow-hook' failing") == 1, tail.stderr()
    assert "ops-webhook" not in tail.stderr()
    [(_, body)] = healthy.accepted
    assert body["status"] == "firing"
    deliveries = {d["sink"]: d for d in tail.alerts_json()["deliveries"]}
    assert deliveries["ops-webhook"]["state"] == "delivered"
    slow = deliveries["slow-hook"]
    assert slow["state"] == "pending" and slow["attempts"] >= 2, slow
    assert "deadline" in slow["last_error"], slow
