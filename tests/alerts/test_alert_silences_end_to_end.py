"""Silences end to end: a real ``threadwatch tail`` process sending to a real webhook receiver
on 127.0.0.1, silences added and expired with the real ``threadwatch silence`` command while
it runs, ``threadwatch alerts`` reading what is held back, and a ``kill -9`` in between.

Two runs go red on overload (no event alert: what they show is silences alone)."""

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
from faults.tail_process import FAST_TAIL, TailService, append, healthy_batch
from sources.tail_helpers import wait_until

CONFIG = FAST_TAIL + """
[alerts]
hold_seconds = 0
group_wait_seconds = 0
host = "silence-host"
[alerts.sinks.hook]
type = "webhook"
url = "${SILENCE_HOOK_URL}"
"""
QUIET = 3.0  # seconds in which a held-back alert would have arrived had it been sent


def overloaded_batch(n: int) -> str:
    """A batch run sequentially because the system is overloaded: red."""
    task = f"{n:08x}"
    return (f"run_batt.py:475: -- {task} - {n} --\n"
            "run_batt.py:566: -- System overloaded (64 threads), using sequential processing\n"
            f"run_batt.py:902: -- {task} - {n} done - 1 candidates scored\n")


def threadwatch(*args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "threadwatch", *args], capture_output=True,
                          text=True, timeout=60, check=False, env=dict(os.environ))
    assert done.returncode == 0, done.stderr
    return done.stdout


def sent(receiver: Receiver) -> list[tuple[str, str]]:
    with receiver.lock:
        return [(alert["key"], alert["transition"]) for _, body in receiver.accepted
                for alert in body["alerts"]]


def sent_keys(receiver: Receiver) -> set[str]:
    return {key for key, _ in sent(receiver)}


def held_keys(tail: TailService) -> set[str]:
    body: dict[str, Any] = json.loads(threadwatch("alerts", "--state", str(tail.state),
                                                  "--format", "json"))
    return {one["key"] for one in body["silenced"] if not one["sent_before"]}


def _start(tmp_path: Path, httpserver: HTTPServer) -> tuple[TailService, Receiver, Path, Path]:
    receiver = Receiver()
    receiver.down = False
    httpserver.expect_request("/hook").respond_with_handler(receiver)
    tail = TailService(tmp_path, CONFIG, {"SILENCE_HOOK_URL": httpserver.url_for("/hook")})
    mine = tail.logs / "tmp_batt_S1lence001_run.log"
    other = tail.logs / "tmp_batt_0ther00001_run.log"
    for log in (mine, other):
        log.write_text(healthy_batch(0))
    tail.start()
    wait_until(lambda: all(tail.checkpointed(log) for log in (mine, other))
               or not tail.running(), "tail to start")
    assert tail.running(), tail.stderr()
    return tail, receiver, mine, other


def test_a_silence_added_while_tail_runs_holds_back_and_expiring_it_sends(
        tmp_path: Path, httpserver: HTTPServer) -> None:
    tail, receiver, mine, other = _start(tmp_path, httpserver)
    with tail:
        assert sent(receiver) == []
        silence = threadwatch("silence", "add", "--state", str(tail.state), "--scope",
                              mine.name, "--for", "2h", "--comment", "known overload").strip()
        append(mine, overloaded_batch(1))
        append(other, overloaded_batch(1))
        wait_until(lambda: f"level:{mine}" in held_keys(tail), "the silenced file held back")
        wait_until(lambda: (f"level:{other}", "firing") in sent(receiver), "the other file")
        time.sleep(QUIET)
        assert f"level:{mine}" not in sent_keys(receiver), sent(receiver)
        table = threadwatch("alerts", "--state", str(tail.state))
        assert f"level:{mine}: silenced by {silence}" in table, table

        threadwatch("silence", "expire", silence, "--state", str(tail.state))
        expired = time.monotonic()
        wait_until(lambda: f"level:{mine}" in sent_keys(receiver), "the alert after expire",
                   timeout=10)
        latency = time.monotonic() - expired
        time.sleep(1.0)  # a second copy would be here by now
        assert held_keys(tail) == set()
        code, _ = tail.stop()
    assert code == 0, tail.stderr()
    assert [t for key, t in sent(receiver) if key == f"level:{mine}"] == ["firing"]
    assert latency < 5.0, latency


def test_a_silence_and_what_it_holds_back_survive_kill_9(tmp_path: Path,
                                                         httpserver: HTTPServer) -> None:
    tail, receiver, mine, other = _start(tmp_path, httpserver)
    with tail:
        silence = threadwatch("silence", "add", "--state", str(tail.state), "--scope",
                              f"logs/{mine.name}", "--rule", "level", "--for", "1h").strip()
        append(mine, overloaded_batch(1))
        wait_until(lambda: f"level:{mine}" in held_keys(tail), "the alert held back")
        tail.kill9()
        tail.start()
        append(other, healthy_batch(1))  # the restarted tail is running and judging
        wait_until(lambda: tail.checkpointed(other) or not tail.running(), "the restart")
        time.sleep(QUIET)
        assert f"level:{mine}" not in sent_keys(receiver), sent(receiver)
        assert f"level:{mine}" in held_keys(tail)
        threadwatch("silence", "expire", silence, "--state", str(tail.state))
        wait_until(lambda: f"level:{mine}" in sent_keys(receiver), "the alert after expire",
                   timeout=10)
        time.sleep(1.0)
        code, _ = tail.stop()
    assert code == 0, tail.stderr()
    assert [t for key, t in sent(receiver) if key == f"level:{mine}"] == ["firing"]
