"""Silences end to end: a real ``threadwatch tail`` process sending to a real webhook receiver
on 127.0.0.1, silences added and expired with the real ``threadwatch silence`` command while
it runs, ``threadwatch alerts`` reading what is held back, and a ``kill -9`` in between."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from pytest_httpserver import HTTPServer

from alerts.alert_helpers import Receiver
from faults.tail_process import FAST_TAIL, MEMORY_ERROR, TailService, healthy_batch
from sources.tail_helpers import wait_until

CONFIG = FAST_TAIL + """
[alerts]
hold_seconds = 0
group_wait_seconds = 0
event_quiet_seconds = 3600
host = "silence-host"
[alerts.sinks.hook]
type = "webhook"
url = "${SILENCE_HOOK_URL}"
"""
QUIET = 3.0  # seconds in which a held-back alert would have arrived had it been sent


def threadwatch(*args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "threadwatch", *args], capture_output=True,
                          text=True, timeout=60, check=False, env=dict(os.environ))
    assert done.returncode == 0, done.stderr
    return done.stdout


def sent(receiver: Receiver) -> list[tuple[str, str]]:
    with receiver.lock:
        return [(alert["key"], alert["transition"]) for _, body in receiver.accepted
                for alert in body["alerts"]]


def held_keys(tail: TailService) -> set[str]:
    body: dict[str, Any] = json.loads(threadwatch("alerts", "--state", str(tail.state),
                                                  "--format", "json"))
    return {one["key"] for one in body["silenced"] if not one["sent_before"]}


def _start(tmp_path: Path, httpserver: HTTPServer) -> tuple[TailService, Receiver, Path]:
    receiver = Receiver()
    receiver.down = False
    httpserver.expect_request("/hook").respond_with_handler(receiver)
    tail = TailService(tmp_path, CONFIG, {"SILENCE_HOOK_URL": httpserver.url_for("/hook")})
    log = tail.logs / "tmp_batt_S1lence001_run.log"
    log.write_text(healthy_batch(0))
    tail.start()
    wait_until(lambda: tail.checkpointed(log) or not tail.running(), "tail to start")
    assert tail.running(), tail.stderr()
    return tail, receiver, log


def test_a_silence_added_while_tail_runs_holds_back_and_expiring_it_sends(
        tmp_path: Path, httpserver: HTTPServer) -> None:
    tail, receiver, log = _start(tmp_path, httpserver)
    with tail:
        silence = threadwatch("silence", "add", "--state", str(tail.state), "--scope",
                              log.name, "--for", "2h", "--comment", "known leak").strip()
        other = tail.logs / "tmp_batt_Other00001_run.log"
        other.write_text(healthy_batch(0))
        with log.open("a") as stream:
            stream.write(MEMORY_ERROR)
        mine = {f"event:memory-error:{log}", f"level:{log}"}
        wait_until(lambda: held_keys(tail) >= mine, "the alerts of the silenced file held back")
        wait_until(lambda: ("level:total", "firing") in sent(receiver), "total (not silenced)")
        time.sleep(QUIET)
        assert {key for key, _ in sent(receiver)} == {"level:total"}, sent(receiver)
        table = threadwatch("alerts", "--state", str(tail.state))
        assert f"level:{log}: silenced by {silence}" in table, table

        threadwatch("silence", "expire", silence, "--state", str(tail.state))
        expired = time.monotonic()
        wait_until(lambda: mine <= {key for key, _ in sent(receiver)}, "the alerts after expire",
                   timeout=10)
        latency = time.monotonic() - expired
        time.sleep(1.0)  # a second copy would be here by now
        code, _ = tail.stop()
    assert code == 0, tail.stderr()
    assert sorted(sent(receiver)) == sorted([
        ("level:total", "firing"), (f"event:memory-error:{log}", "firing"),
        (f"level:{log}", "firing")])
    assert latency < 5.0, latency


def test_a_silence_and_what_it_holds_back_survive_kill_9(tmp_path: Path,
                                                         httpserver: HTTPServer) -> None:
    tail, receiver, log = _start(tmp_path, httpserver)
    with tail:
        silence = threadwatch("silence", "add", "--state", str(tail.state), "--scope", "*",
                              "--rule", "memory-error", "--for", "1h").strip()
        with log.open("a") as stream:
            stream.write(MEMORY_ERROR)
        event = f"event:memory-error:{log}"
        wait_until(lambda: event in held_keys(tail), "the event alert held back")
        wait_until(lambda: (f"level:{log}", "firing") in sent(receiver), "the level alert")
        tail.kill9()
        tail.start()
        with log.open("a") as stream:  # the restarted tail is running and judging
            stream.write(healthy_batch(1))
        wait_until(lambda: tail.checkpointed(log) or not tail.running(), "the restart")
        time.sleep(QUIET)
        assert event not in {key for key, _ in sent(receiver)}
        threadwatch("silence", "expire", silence, "--state", str(tail.state))
        wait_until(lambda: (event, "firing") in sent(receiver), "the event alert after expire",
                   timeout=10)
        time.sleep(1.0)
        code, _ = tail.stop()
    assert code == 0, tail.stderr()
    assert sorted(sent(receiver)) == sorted([(f"level:{log}", "firing"), (event, "firing"),
                                             ("level:total", "firing")])
