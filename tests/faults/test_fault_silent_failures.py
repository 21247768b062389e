"""Fault: a receiver outage must not be silent. A real ``threadwatch tail`` sends two alerts to
a real receiver that answers 503 for a while, then comes back. Its stderr says once that the
sink is failing (with the reason, never the URL) and once that it delivers again, naming how
many attempts failed, not a line per attempt."""

from __future__ import annotations

import re
from pathlib import Path

from pytest_httpserver import HTTPServer
from tail_process import FAST_TAIL, MEMORY_ERROR, TailService

from alerts.alert_helpers import Receiver
from sources.tail_helpers import wait_until

CONFIG = FAST_TAIL + """
[alerts]
hold_seconds = 0
group_wait_seconds = 0
host = "outage-host"
[alerts.delivery]
backoff_initial_seconds = 0.2
backoff_max_seconds = 0.4
[alerts.sinks.ops-webhook]
type = "webhook"
url = "${OPS_HOOK_URL}"
"""

SECRET_PATH = "/hooks/T0001/s3cr3tT0KEN"


def test_an_outage_is_said_once_and_its_end_once(tmp_path: Path,
                                                  httpserver: HTTPServer) -> None:
    receiver = Receiver()  # down: 503
    httpserver.expect_request(SECRET_PATH).respond_with_handler(receiver)
    with TailService(tmp_path, CONFIG, {"OPS_HOOK_URL": httpserver.url_for(SECRET_PATH)}) as tail:
        logs = [tail.logs / f"tmp_batt_Outage000{n}_run.log" for n in (1, 2)]
        for log in logs:
            log.write_text("")
        tail.start()
        for n, log in enumerate(logs):  # two alerts, so two notifications wait
            with log.open("a") as stream:
                stream.write(MEMORY_ERROR)
            wait_until(lambda n=n: len(httpserver.log) >= 3 * (n + 1) or not tail.running(),
                       "failed attempts at the receiver", timeout=30)
        assert tail.running(), tail.stderr()
        with receiver.lock:
            receiver.down = False
            refused = len(httpserver.log)
        wait_until(lambda: len(receiver.accepted) == 2, "both alerts delivered", timeout=30)
        wait_until(lambda: "delivering again" in tail.stderr(), "the recovery line")
        code, _ = tail.stop()
    assert code == 0, tail.stderr()
    lines = tail.stderr().splitlines()
    failing = [line for line in lines if "failing" in line]
    assert failing == ["threadwatch: alerts: sink 'ops-webhook' failing: HTTP 503: down;"
                       " will retry"], lines
    recovered = [line for line in lines if "delivering again" in line]
    assert len(recovered) == 1, lines
    match = re.fullmatch(r"threadwatch: alerts: sink 'ops-webhook' delivering again after"
                         r" (\d+) failed attempts", recovered[0])
    assert match is not None, recovered
    assert int(match.group(1)) == refused
    assert lines.index(failing[0]) < lines.index(recovered[0])
    assert "s3cr3t" not in tail.stderr()
