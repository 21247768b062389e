"""Fault: ``kill -9`` inside ``group_wait``. A real ``threadwatch tail`` with a long
``group_wait`` reads a line that makes an alert and saves the line's checkpoint; it is killed
before the group is sent. The alert must not be lost with it: the restarted tail (which will
not read the line again) sends it, once."""

from __future__ import annotations

import time
from pathlib import Path

from pytest_httpserver import HTTPServer
from tail_process import FAST_TAIL, MEMORY_ERROR, TailService

from alerts.alert_helpers import Receiver
from sources.tail_helpers import wait_until

CONFIG = FAST_TAIL + """
[alerts]
hold_seconds = 0
group_wait_seconds = 3600           # killed long before the group would go
host = "kill9-host"
[alerts.sinks.hook]
type = "webhook"
url = "${KILL9_HOOK_URL}"
"""


def test_an_alert_inside_group_wait_survives_kill_9(tmp_path: Path,
                                                    httpserver: HTTPServer) -> None:
    receiver = Receiver()
    receiver.down = False
    httpserver.expect_request("/hook").respond_with_handler(receiver)
    with TailService(tmp_path, CONFIG, {"KILL9_HOOK_URL": httpserver.url_for("/hook")}) as tail:
        log = tail.logs / "tmp_batt_K1ll9Grp01_run.log"
        log.write_text("")
        tail.start()
        wait_until(lambda: tail.checkpointed(log) or not tail.running(), "tail to start")
        with log.open("a") as stream:
            stream.write(MEMORY_ERROR)
        wait_until(lambda: tail.checkpointed(log) or not tail.running(),
                   "the line's checkpoint")
        assert tail.running(), tail.stderr()
        tail.kill9()
        assert receiver.accepted == []  # it was inside group_wait

        tail.start()
        wait_until(lambda: bool(receiver.accepted) or not tail.running(),
                   "the alert after the restart", timeout=15)
        time.sleep(1.0)  # time for a second copy to arrive, if one were sent
        code, _ = tail.stop()
    assert code == 0, tail.stderr()
    keys = [(alert["key"], alert["status"]) for _, body in receiver.accepted
            for alert in body["alerts"] if alert["rule"] == "memory-error"]
    assert keys == [(f"event:memory-error:{log}", "firing")]
