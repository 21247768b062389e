"""Fault: two ``tail`` processes on one state file both ran, without a word, and every alert
went out two to four times. Now the second one exits 3 naming the first one's pid; a kill -9
of the holder frees the state file at once (the kernel drops its ``flock``); ``alerts`` and
``report`` read while it is held."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from pytest_httpserver import HTTPServer
from tail_process import FAST_TAIL, MEMORY_ERROR, TailProcess, append, healthy_batch

from alerts.alert_helpers import Receiver
from sources.tail_helpers import wait_until

SINK = """
[alerts]
hold_seconds = 0
group_wait_seconds = 0
[alerts.sinks.hook]
type = "webhook"
url = "${SECOND_HOOK_URL}"
"""


def _holder_pid(state: Path) -> str:
    lock = Path(f"{state}.lock")
    return lock.read_text().strip() if lock.exists() else ""


def test_a_second_tail_on_the_same_state_file_exits_3_naming_the_first(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    receiver = Receiver()
    receiver.down = False
    httpserver.expect_request("/hook").respond_with_handler(receiver)
    config = tmp_path / "tw.toml"
    config.write_text(FAST_TAIL + SINK)
    logs = tmp_path / "logs"
    logs.mkdir()
    log = logs / "tmp_batt_Tw1ce00000_run.log"
    log.write_text("")
    state = tmp_path / "state.db"
    env = {"SECOND_HOOK_URL": httpserver.url_for("/hook")}

    first = TailProcess(tmp_path, "first", config=config, state=state, paths=[logs], env=env)
    try:
        wait_until(lambda: _holder_pid(state) == str(first.pid) or not first.alive(),
                   "the first tail to hold the state file")
        second = TailProcess(tmp_path, "second", config=config, state=state, paths=[logs], env=env)
        assert second.wait(20) == 3
        assert second.stderr().splitlines() == [
            f"threadwatch: state file {state} is in use by another threadwatch tail"
            f" (pid {first.pid})"]
        assert second.lines() == []

        # readers need no lock
        alerts = subprocess.run(
            [sys.executable, "-m", "threadwatch", "alerts", "--state", str(state)],
            capture_output=True, text=True, timeout=60, check=False)
        assert alerts.returncode == 0, alerts.stderr
        report = subprocess.run(
            [sys.executable, "-m", "threadwatch", "report", str(logs)],
            capture_output=True, text=True, timeout=60, check=False)
        assert report.returncode == 3 and "Traceback" not in report.stderr  # nothing to judge

        append(log, MEMORY_ERROR)
        first.wait_for_line(lambda x: x.get("kind") == "memory_error", "the memory error")
        wait_until(lambda: len(receiver.accepted) > 0, "the alert")
        first.wait_for_line(lambda x: x.get("type") == "level", "a verdict")
    finally:
        code = first.stop(signal.SIGKILL)  # the lock goes with the process
    assert code == -signal.SIGKILL
    with receiver.lock:
        firing = [alert["key"] for _, body in receiver.accepted for alert in body["alerts"]
                  if alert["transition"] == "firing"]
    assert sorted(firing) == sorted(set(firing)), firing  # each alert went out once

    assert _holder_pid(state) == str(first.pid)  # the file stays; its lock does not
    third = TailProcess(tmp_path, "third", config=config, state=state, paths=[logs], env=env)
    try:
        wait_until(lambda: _holder_pid(state) == str(third.pid) or not third.alive(),
                   "the third tail to take the state file after the kill -9")
        append(log, healthy_batch(1))
        third.wait_for_line(lambda x: x.get("kind") == "batch", "the third tail reading")
    finally:
        assert third.stop() == 0, third.stderr()
    assert "in use" not in third.stderr()

