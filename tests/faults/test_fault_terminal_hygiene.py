"""Fault: hostile text on the operator's terminal and in Alertmanager.

A watched file whose name holds a newline, U+202E and escape sequences, a log line carrying an
escape sequence, and a config rule whose ``why`` holds one: a real ``threadwatch tail`` (with a
real receiver posing as Alertmanager), ``threadwatch report`` and ``threadwatch alerts`` show
every control as a visible escape. Nothing forges a ``threadwatch: …`` line of its own on stderr,
nothing raw reaches the terminal, Alertmanager's labels and annotations hold no control.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from sources.tail_helpers import wait_until

# C0 but newline, DEL, C1, bidi controls and marks, line/paragraph separators
RAW_CONTROL = re.compile(
    "[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
NAME = "tmp_batt_Hyg1ene001_run\nthreadwatch: all clear\u202e\x1b]0;PWNED\x07\x1b[2J.log"
SHOWN_NAME = r"tmp_batt_Hyg1ene001_run\nthreadwatch: all clear\u202e\x1b]0;PWNED\x07\x1b[2J.log"
MEMORY_ERROR = ("run_batt.py:292: CRITICAL: MemoryError in CPU ProcessPoolExecutor"
                " - cannot recover \x1b[31m\u2066red\x1b[0m\n")
CONFIG = """
[parse]
max_line_bytes = 1024
[tail]
poll_seconds = 0.05
sweep_seconds = 0.2
refresh_seconds = 0.1
[[rules]]
name = "memory-errors-red"
level = "red"
count = "memory_errors"
at_least = 1
why = "memory \\u001b]0;PWNED\\u0007 gone \\u202eevil"
[alerts]
inhibit = []  # the level alert of a memory error is what this test follows
hold_seconds = 0
group_wait_seconds = 0
host = "host\\u001b[2J"
[alerts.sinks.fleet]
type = "alertmanager"
url = "${HYGIENE_AM_URL}"
"""


class FakeAlertmanager:
    """Accepts ``POST /api/v2/alerts`` and keeps every posted alert."""

    def __init__(self) -> None:
        self.alerts: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    def __call__(self, request: Request) -> Response:
        with self.lock:
            self.alerts += json.loads(request.get_data())
        return Response("")

    def posted(self) -> list[dict[str, Any]]:
        with self.lock:
            return list(self.alerts)


def _folder(tmp_path: Path) -> Path:
    logs = tmp_path / "logs"
    logs.mkdir()
    (tmp_path / "tw.toml").write_text(CONFIG)
    return logs


def _write_log(logs: Path) -> None:
    with (logs / NAME).open("w") as stream:
        stream.write(MEMORY_ERROR)
        stream.write("x" * 3000 + "\n")  # over max_line_bytes: a notice naming the file


def _threadwatch(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "threadwatch", *args], capture_output=True,
                          text=True, env=env, timeout=60, check=False)


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for key, item in value.items() for s in (*_strings(key), *_strings(item))]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    return []


def _inotify_fallback(line: str) -> bool:
    return line.startswith("threadwatch: inotify unavailable")


def test_tail_stderr_alerts_and_alertmanager_show_controls_as_escapes(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    receiver = FakeAlertmanager()
    httpserver.expect_request("/am/api/v2/alerts", method="POST").respond_with_handler(receiver)
    logs = _folder(tmp_path)
    (logs / "quiet.log").write_text("")
    state = tmp_path / "state.db"
    env = {**os.environ, "HYGIENE_AM_URL": httpserver.url_for("/am")}
    err_path = tmp_path / "err.txt"
    with (tmp_path / "out.jsonl").open("wb") as out, err_path.open("wb") as err:
        tail = subprocess.Popen(
            [sys.executable, "-m", "threadwatch", "tail", "--format", "jsonl", "--state",
             str(state), "--config", str(tmp_path / "tw.toml"), str(logs)],
            stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env)
        try:
            wait_until(lambda: state.exists() or tail.poll() is not None, "tail to start")
            _write_log(logs)
            wait_until(lambda: len(receiver.posted()) >= 2 or tail.poll() is not None,
                       "the level and event alerts at the receiver")
            wait_until(lambda: "skipped a line" in err_path.read_text(errors="replace")
                       or tail.poll() is not None, "the notice of the over-long line")
        finally:
            if tail.poll() is None:
                tail.send_signal(signal.SIGTERM)
            code = tail.wait(20)
    stderr = err_path.read_text()
    assert code == 0, stderr

    # stderr: exactly one line for the notice, the file named with visible escapes
    lines = [line for line in stderr.splitlines() if not _inotify_fallback(line)]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("threadwatch: ") and SHOWN_NAME in lines[0], stderr
    assert "skipped a line of 3001 bytes" in lines[0], stderr
    assert not RAW_CONTROL.search(stderr), ascii(stderr)

    # Alertmanager: no control in any label or annotation; the file named with escapes
    posted = receiver.posted()
    for alert in posted:
        for text in _strings(alert["labels"]) + _strings(alert["annotations"]):
            assert not RAW_CONTROL.search(text.replace("\n", "")), ascii(text)
        assert "\n" not in "".join(_strings(alert["labels"])), alert["labels"]
        assert alert["labels"]["host"] == r"host\x1b[2J"
    scopes = {alert["labels"]["scope"] for alert in posted}
    assert str(logs / SHOWN_NAME) in scopes, scopes
    samples = [alert["annotations"].get("samples", "") for alert in posted]
    assert any(r"cannot recover \x1b[31m\u2066red\x1b[0m" in sample for sample in samples), samples

    # threadwatch alerts (table): one line per alert, controls as escapes
    listing = _threadwatch("alerts", "--state", str(state), env=env)
    assert listing.returncode == 0, listing.stderr
    assert not RAW_CONTROL.search(listing.stdout), ascii(listing.stdout)
    assert not any(line.startswith("threadwatch: all clear")
                   for line in listing.stdout.splitlines()), listing.stdout
    assert SHOWN_NAME in listing.stdout


def test_report_table_and_stderr_show_controls_as_escapes(tmp_path: Path) -> None:
    logs = _folder(tmp_path)
    _write_log(logs)
    result = _threadwatch("report", "--config", str(tmp_path / "tw.toml"), str(logs),
                          env=dict(os.environ, COLUMNS="300"))
    assert result.returncode == 2, result.stderr  # red: the memory error

    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("threadwatch: ") and SHOWN_NAME in result.stderr
    assert not RAW_CONTROL.search(result.stderr), ascii(result.stderr)

    assert not RAW_CONTROL.search(result.stdout), ascii(result.stdout)
    assert r"(memory \x1b]0;PWNED\x07 gone \u202eevil)" in result.stdout, result.stdout
    assert not any(line.lstrip().startswith("threadwatch: all clear")
                   for line in result.stdout.splitlines()), result.stdout
