"""Fault: ``threadwatch alerts`` wrote to the file it read (made the alert tables, switched it to
WAL) and could not read a state file in a folder it cannot write. It now opens the state file
read-only: the file's bytes and its folder's listing are the same after it ran, and it reads a
state file in a folder it cannot write, whether ``tail`` is stopped (no ``-wal``), running
(``-wal`` and ``-shm`` there), or was killed and its ``-shm`` is gone (read without the WAL,
said in one line).

Folders are made unwritable with mode bits, or for root with the immutable attribute."""

from __future__ import annotations

import hashlib
import json
import signal
import subprocess
import sys
from pathlib import Path

from pytest_httpserver import HTTPServer
from tail_process import FAST_TAIL, MEMORY_ERROR, TailProcess, append
from unwritable import unwritable

from alerts.alert_helpers import Receiver
from sources.tail_helpers import wait_until

SINK = """
[alerts]
hold_seconds = 0
group_wait_seconds = 0
[alerts.sinks.hook]
type = "webhook"
url = "${READER_HOOK_URL}"
"""


def alerts(state: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "threadwatch", "alerts", "--state", str(state), *args],
        capture_output=True, text=True, timeout=60, check=False)


def folder_as_it_is(folder: Path) -> tuple[object, ...]:
    """Every entry of ``folder`` with its size and modification time, and the state file's
    hash."""
    entries = sorted((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in folder.iterdir())
    digest = hashlib.sha256((folder / "state.db").read_bytes()).hexdigest()
    return tuple(entries), digest


def _logs(tmp_path: Path) -> tuple[Path, Path]:
    logs = tmp_path / "logs"
    logs.mkdir()
    log = logs / "tmp_batt_R3ad0nly00_run.log"
    log.write_text("")
    return logs, log


def _tail_with_an_alert(tmp_path: Path, httpserver: HTTPServer, state: Path) -> TailProcess:
    """A running tail that has delivered the alerts of a memory error."""
    receiver = Receiver()
    receiver.down = False
    httpserver.expect_request("/hook").respond_with_handler(receiver)
    config = tmp_path / "tw.toml"
    config.write_text(FAST_TAIL + SINK)
    logs, log = _logs(tmp_path)
    tail = TailProcess(tmp_path, "tail", config=config, state=state, paths=[logs],
                       env={"READER_HOOK_URL": httpserver.url_for("/hook")})
    wait_until(lambda: state.exists() or not tail.alive(), "tail to open its state file")
    append(log, MEMORY_ERROR)
    wait_until(lambda: bool(receiver.accepted) or not tail.alive(), "the alert delivered")
    wait_until(lambda: '"delivered": 1' in alerts(state, "-f", "json").stdout,
               "the delivery marked")
    return tail


def test_alerts_changes_nothing_in_a_state_file_without_alert_tables(tmp_path: Path) -> None:
    (tmp_path / "tw.toml").write_text(FAST_TAIL)  # no sink: tail makes no alert tables
    logs, log = _logs(tmp_path)
    folder = tmp_path / "state"
    state = folder / "state.db"
    tail = TailProcess(tmp_path, "tail", config=tmp_path / "tw.toml", state=state,
                       paths=[logs], env={})
    try:
        append(log, MEMORY_ERROR)
        tail.wait_for_line(lambda x: x.get("kind") == "memory_error", "the memory error")
    finally:
        assert tail.stop() == 0, tail.stderr()
    before = folder_as_it_is(folder)
    table, as_json = alerts(state), alerts(state, "--format", "json")
    assert folder_as_it_is(folder) == before
    assert (table.returncode, table.stderr) == (0, "")
    assert table.stdout.splitlines()[0] == "outbox: 0 pending, 0 delivered, 0 failed"
    assert as_json.returncode == 0
    assert json.loads(as_json.stdout) == {
        "counts": {"pending": 0, "delivered": 0, "failed": 0},
        "notifications": [], "deliveries": [], "inhibited": [], "silences": [],
        "silenced": []}


def test_alerts_reads_a_state_file_in_a_folder_it_cannot_write(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    folder = tmp_path / "state"
    state = folder / "state.db"
    tail = _tail_with_an_alert(tmp_path, httpserver, state)
    try:
        # tail running: the -wal and -shm files are there, and hold the newest rows
        with unwritable(folder):
            before = folder_as_it_is(folder)
            running = alerts(state)
            assert folder_as_it_is(folder) == before
    finally:
        assert tail.stop() == 0, tail.stderr()
    assert (running.returncode, running.stderr) == (0, ""), running.stderr
    assert "delivered" in running.stdout and "event:memory-error:" in running.stdout

    # tail stopped: the state file alone, in a folder that cannot take a -shm file
    with unwritable(folder):
        before = folder_as_it_is(folder)
        stopped = alerts(state)
        as_json = alerts(state, "--format", "json")
        assert folder_as_it_is(folder) == before
    assert (stopped.returncode, stopped.stderr) == (0, ""), stopped.stderr
    assert stopped.stdout == running.stdout
    assert json.loads(as_json.stdout)["counts"]["delivered"] == 1


def test_alerts_reads_without_the_wal_when_it_cannot_use_it_and_says_so(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    folder = tmp_path / "state"
    state = folder / "state.db"
    tail = _tail_with_an_alert(tmp_path, httpserver, state)
    assert tail.stop(signal.SIGKILL) == -signal.SIGKILL  # leaves -wal and -shm behind
    assert Path(f"{state}-wal").exists()
    Path(f"{state}-shm").unlink()  # ... and the -shm is lost, say by a cleaner
    with unwritable(folder):
        before = folder_as_it_is(folder)
        result = alerts(state)
        assert folder_as_it_is(folder) == before
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == [
        f"threadwatch: {state}: read without its write-ahead log (unable to open database"
        " file): the newest changes may be missing"]
    assert result.stdout.startswith("outbox: ")
