"""Fault: a fresh machine. With a sink configured and no ``$XDG_STATE_HOME/threadwatch/`` yet,
a real ``threadwatch tail`` process makes the folder (mode 0o700) before it opens the alert
outbox or the checkpoints, and delivers the first alert to a real HTTP receiver."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

from pytest_httpserver import HTTPServer

from alerts.alert_helpers import Receiver
from sources.tail_helpers import wait_until

CONFIG = """
[tail]
poll_seconds = 0.05
sweep_seconds = 0.2
refresh_seconds = 0.1
[alerts]
hold_seconds = 0
group_wait_seconds = 0
host = "fresh-host"
[alerts.sinks.hook]
type = "webhook"
url = "${FRESH_HOOK_URL}"
"""

MEMORY_ERROR = ("run_batt.py:292: CRITICAL: MemoryError in CPU ProcessPoolExecutor"
                " - cannot recover\n")


def test_tail_makes_the_state_folder_and_delivers_the_first_alert(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    receiver = Receiver()
    receiver.down = False
    httpserver.expect_request("/hook").respond_with_handler(receiver)
    state_home = tmp_path / "home" / ".local" / "state"  # none of it exists yet
    (tmp_path / "tw.toml").write_text(CONFIG)
    logs = tmp_path / "logs"
    logs.mkdir()
    log = logs / "tmp_batt_Fr3shM4ch1n_run.log"
    log.write_text("")
    env = {**os.environ, "XDG_STATE_HOME": str(state_home),
           "FRESH_HOOK_URL": httpserver.url_for("/hook")}
    with (tmp_path / "out.jsonl").open("wb") as out, (tmp_path / "err.txt").open("wb") as err:
        tail = subprocess.Popen(
            [sys.executable, "-m", "threadwatch", "tail", "--format", "jsonl",
             "--config", str(tmp_path / "tw.toml"), str(logs)],
            stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env,
        )
        try:
            wait_until(lambda: (state_home / "threadwatch" / "state.db").exists()
                       or tail.poll() is not None, "tail to open its state file")
            assert tail.poll() is None, (tmp_path / "err.txt").read_text()
            with log.open("a") as stream:
                stream.write(MEMORY_ERROR)
            wait_until(lambda: bool(receiver.accepted) or tail.poll() is not None,
                       "the first alert at the receiver")
            assert tail.poll() is None, (tmp_path / "err.txt").read_text()
        finally:
            if tail.poll() is None:
                tail.send_signal(signal.SIGTERM)
            code = tail.wait(20)
    assert code == 0, (tmp_path / "err.txt").read_text()
    with receiver.lock:
        path, body = receiver.accepted[0]
    assert path == "/hook" and body["status"] == "firing", body
    assert any("memory" in str(alert).lower() for alert in body["alerts"]), body
    for folder in (state_home, state_home / "threadwatch"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
