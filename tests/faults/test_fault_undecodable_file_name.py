"""Fault: one log whose file name is not UTF-8 (``m\\xe9m.log``, written on a Latin-1 host)
crashed ``tail`` with a traceback (exit 1) the first time it saved its checkpoints, and again
when it stored an alert about that file: SQLite refuses the name as text (Python decodes it with
``surrogateescape``). Under systemd that is a restart every 5 s, and no monitoring at all.

The state file now keeps such a name as its bytes. Real ``threadwatch tail`` processes, a real
webhook receiver on 127.0.0.1, a restart: the file is read once, its alert is sent once."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from pytest_httpserver import HTTPServer
from tail_process import FAST_TAIL, MEMORY_ERROR, TailService, healthy_batch

from alerts.alert_helpers import Receiver
from sources.tail_helpers import wait_until
from threadwatch.text import safe_text

CONFIG = FAST_TAIL + """
[alerts]
inhibit = []  # the level alert is what this test follows
hold_seconds = 0
group_wait_seconds = 0
[alerts.sinks.hook]
type = "webhook"
url = "${LATIN_HOOK_URL}"
"""


def _firing(receiver: Receiver) -> list[tuple[str, str]]:
    with receiver.lock:
        return [(alert["key"], alert["transition"]) for _, body in receiver.accepted
                for alert in body["alerts"]]


def _events(lines: list[dict[str, Any]]) -> list[int]:
    return [line["offset"] for line in lines if line["type"] == "event"]


def test_a_file_name_that_is_not_utf8_is_followed_alerted_and_checkpointed(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    receiver = Receiver()
    receiver.down = False
    httpserver.expect_request("/hook").respond_with_handler(receiver)
    env = {"LATIN_HOOK_URL": httpserver.url_for("/hook")}
    with TailService(tmp_path, CONFIG, env) as service:
        latin = os.fsdecode(os.fsencode(service.logs) + b"/m\xe9m.log")
        Path(latin).write_text(healthy_batch(1) + MEMORY_ERROR)
        service.start()
        assert service.process is not None
        first = service.process
        first.wait_for_line(lambda x: x.get("scope") == latin and x.get("current") == "red",
                            "the file judged red")
        # receivers are sent the name with visible escapes (``m\\udce9m.log``), as text
        key = f"level:{safe_text(latin)}"
        wait_until(lambda: (key, "firing") in _firing(receiver) or
                   not first.alive(), "its alert sent")
        time.sleep(0.5)  # checkpoints saved (every commit) after the alert was stored
        assert first.alive(), first.stderr()
        code, _ = service.stop()
        assert code == 0, first.stderr()
        assert "Traceback" not in first.stderr()
        read_once = _events(first.lines())
        assert read_once

        second = service.start().process
        assert second is not None
        # the restored window judges it red again at once; nothing is read twice
        second.wait_for_line(lambda x: x.get("scope") == latin and x.get("current") == "red",
                             "the file judged red after the restart")
        time.sleep(1.0)
        code, _ = service.stop()
        assert code == 0, second.stderr()
        assert _events(second.lines()) == []
        assert _firing(receiver).count((key, "firing")) == 1
