"""SIGHUP reloads a real ``tail``'s config: new thresholds judge the same window, a bad file is
one line and changes nothing, alert episodes go on across it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from pytest_httpserver import HTTPServer

from alerts.alert_helpers import Receiver
from faults.tail_process import FAST_TAIL, MEMORY_ERROR, TailService, append, healthy_batch
from sources.tail_helpers import wait_until

MEMORY_ERRORS_YELLOW = """
[[rules]]
name = "memory-errors-red"   # the default rule, changed
level = "yellow"
count = "memory_errors"
at_least = 1
why = "memory errors, judged milder after the reload"
"""


def levels(tail: TailService, scope: str = "total") -> list[str]:
    assert tail.process is not None
    return [line["current"] for line in tail.process.lines()
            if line["type"] == "level" and line["scope"] == scope]


def hup(tail: TailService) -> None:
    assert tail.process is not None
    tail.process.process.send_signal(signal.SIGHUP)


def status(tail: TailService) -> dict[str, Any]:
    done = subprocess.run([sys.executable, "-m", "threadwatch", "status", "--state",
                           str(tail.state), "--format", "json"],
                          capture_output=True, text=True, timeout=60, env=dict(os.environ),
                          check=False)
    found: dict[str, Any] = json.loads(done.stdout)
    return found


def test_a_changed_threshold_judges_the_same_window_after_sighup(tmp_path: Path) -> None:
    with TailService(tmp_path, FAST_TAIL, {}) as tail:
        append(tail.logs / "run.log", healthy_batch(1) + MEMORY_ERROR)
        tail.start()
        wait_until(lambda: levels(tail) == ["red"], "red at first")
        tail.config.write_text(FAST_TAIL + MEMORY_ERRORS_YELLOW)
        hup(tail)
        wait_until(lambda: levels(tail) == ["red", "yellow"], "yellow after the reload")
        assert tail.running()
        wait_until(lambda: "milder" in str(status(tail)["scopes"][0]["reason"]),
                   "the status's reason")  # the snapshot it reads is at most a second old
        reason = status(tail)["scopes"][0]["reason"]
        code, _ = tail.stop()
    assert code == 0
    assert reason == "memory_errors 1 >= 1 (memory errors, judged milder after the reload)"
    assert tail.stderr() == f"threadwatch: config reloaded from {tail.config}\n"


def test_a_bad_config_is_one_line_and_the_one_in_use_is_kept(tmp_path: Path) -> None:
    with TailService(tmp_path, FAST_TAIL, {}) as tail:
        append(tail.logs / "run.log", healthy_batch(1) + MEMORY_ERROR)
        tail.start()
        wait_until(lambda: levels(tail) == ["red"], "red at first")
        tail.config.write_text(MEMORY_ERRORS_YELLOW + "[tail]\nwindow_seconds = -1\n"
                               "[alerts]\nhold_seconds = -5\n")
        hup(tail)
        wait_until(lambda: "not reloaded" in tail.stderr(), "the reload refused")
        time.sleep(0.5)  # time to judge again, were the new rules in use
        assert tail.running() and levels(tail) == ["red"]
        refused = status(tail)["config"]["reload_error"]
        append(tail.logs / "run.log", healthy_batch(2))  # still following
        wait_until(lambda: any(line.get("batch_index") == 2 for line in tail.process.lines()),
                   "a line written after the refused reload")
        # a good file later is taken; a table that is not reloaded is said
        tail.config.write_text(MEMORY_ERRORS_YELLOW + "[tail]\nwindow_seconds = 60\n")
        hup(tail)
        wait_until(lambda: levels(tail) == ["red", "yellow"], "the good file taken")
        code, _ = tail.stop()
    assert code == 0
    lines = tail.stderr().splitlines()
    assert lines == [
        f"threadwatch: config not reloaded, the one in use is kept: invalid config"
        f" {tail.config}: tail.window_seconds: Input should be greater than 0 (and 1 more"
        " problem)",
        f"threadwatch: config reloaded from {tail.config}; [tail] changed: applies after a"
        " restart",
    ]
    assert refused == lines[0].split("kept: ", 1)[1]


def test_alert_episodes_go_on_across_a_reload_that_changes_the_sinks(
        tmp_path: Path, httpserver: HTTPServer) -> None:
    receiver = Receiver()
    receiver.down = False
    httpserver.expect_request("/a").respond_with_handler(receiver)
    httpserver.expect_request("/b").respond_with_handler(receiver)
    config = FAST_TAIL + """
[alerts]
hold_seconds = 0
group_wait_seconds = 0
inhibit = []            # every episode is sent: the level ones too
inhibit_total = false
[alerts.sinks.first]
type = "webhook"
url = "${RELOAD_HOOK_A}"
"""
    env = {"RELOAD_HOOK_A": httpserver.url_for("/a"), "RELOAD_HOOK_B": httpserver.url_for("/b")}
    with TailService(tmp_path, config, env) as tail:
        append(tail.logs / "run.log", healthy_batch(1) + MEMORY_ERROR)
        tail.start()
        wait_until(lambda: len(sent(receiver, tail.logs)) >= 3 or not tail.running(),
                   "the alerts: the source's and the total's level, the memory error")
        time.sleep(0.5)
        before = sent(receiver, tail.logs)
        tail.config.write_text(config.replace("first", "second").replace("HOOK_A", "HOOK_B"))
        hup(tail)
        wait_until(lambda: "reloaded" in tail.stderr() or not tail.running(), "the reload")
        sinks = [sink["sink"] for sink in status(tail)["sinks"]]
        time.sleep(1.5)  # time for a wrong second firing or resolution to be sent
        append(tail.logs / "run.log", MEMORY_ERROR)  # the event episode goes on: no alert
        time.sleep(1.0)
        code, _ = tail.stop()
    assert code == 0, tail.stderr()
    assert sinks == ["second"]
    assert sorted(before) == [("/a", "event:memory-error:run.log", "firing"),
                              ("/a", "level:run.log", "firing"), ("/a", "level:total", "firing")]
    assert sent(receiver, tail.logs) == before  # neither fired again nor resolved, on either sink


def sent(receiver: Receiver, logs: Path) -> list[tuple[str, str, str]]:
    """(path, key with the logs folder left out, status) of every alert accepted."""
    with receiver.lock:
        return [(path, alert["key"].replace(f"{logs}/", ""), alert["status"])
                for path, body in receiver.accepted for alert in body["alerts"]]


def test_new_include_patterns_follow_more_files_after_sighup(tmp_path: Path) -> None:
    with TailService(tmp_path, FAST_TAIL, {}) as tail:
        append(tail.logs / "run.txt", healthy_batch(5))  # not a log name by default
        tail.start()
        wait_until(lambda: tail.state.with_name("state.db.sock").exists(), "tail to start")
        time.sleep(0.5)
        assert status(tail)["files_followed"] == 0
        tail.config.write_text(FAST_TAIL + '[sources]\ninclude = ["*.log", "*.txt"]\n')
        hup(tail)
        wait_until(lambda: any(line.get("batch_index") == 5 for line in tail.process.lines()),
                   "the events of the newly included file")
        wait_until(lambda: status(tail)["files_followed"] == 1, "one file followed")
        code, _ = tail.stop()
    assert code == 0, tail.stderr()
