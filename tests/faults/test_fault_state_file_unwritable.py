"""Fault: a state file ``tail`` cannot write gave raw tracebacks. Read-only (with a sink
configured): the sender thread printed a traceback on every pass. Locked by another process
(a writer in ``BEGIN EXCLUSIVE``): the first checkpoint after the busy timeout stopped ``tail``
(exit 3, after a traceback), and the alert raised meanwhile waited for a restart.

Now a read-only state file stops ``tail`` at start-up with one line and exit 3; a lock held
for a while is said in one line per part (checkpoints, alert outbox, sender) and the alert goes
out when the lock goes away, with ``tail`` still running. Real ``tail`` processes, a real
webhook receiver on 127.0.0.1, a real second process holding the SQLite lock."""

from __future__ import annotations

import time
from contextlib import closing
from pathlib import Path

from pytest_httpserver import HTTPServer
from tail_process import FAST_TAIL, MEMORY_ERROR, TailProcess, append, hold_write_lock
from unwritable import unwritable

from alerts.alert_helpers import Receiver
from sources.tail_helpers import wait_until
from threadwatch.alerts.outbox import Outbox
from threadwatch.sources.checkpoints import StateStore

SINK = """
[alerts]
inhibit = []  # the level alert of a memory error is what this test follows
hold_seconds = 0
group_wait_seconds = 0
[alerts.sinks.hook]
type = "webhook"
url = "${STATE_HOOK_URL}"
"""


def _setup(tmp_path: Path) -> tuple[Path, Path, Path, Path]:
    config = tmp_path / "tw.toml"
    config.write_text(FAST_TAIL + SINK)
    logs = tmp_path / "logs"
    logs.mkdir()
    log = logs / "tmp_batt_St4teF1le0_run.log"
    log.write_text("")
    return config, logs, log, tmp_path / "state.db"


def test_a_read_only_state_file_with_a_sink_stops_tail_with_one_line(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    config, logs, _, state = _setup(tmp_path)
    with closing(StateStore(state)), closing(Outbox(state)):
        pass  # a state file as tail leaves it: checkpoints and outbox tables
    env = {"STATE_HOOK_URL": httpserver.url_for("/hook")}
    with unwritable(state):
        tail = TailProcess(tmp_path, "tail", config=config, state=state, paths=[logs], env=env)
        try:
            code = tail.wait(30)
        finally:
            tail.stop()
    lines = tail.stderr().splitlines()
    assert code == 3, lines
    assert lines == [f"threadwatch: cannot use state file {state}: attempt to write a readonly"
                     " database"]


def test_an_alert_raised_while_another_process_locks_the_state_file_goes_out_after(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    receiver = Receiver()
    receiver.down = False
    httpserver.expect_request("/hook").respond_with_handler(receiver)
    config, logs, log, state = _setup(tmp_path)
    env = {"STATE_HOOK_URL": httpserver.url_for("/hook")}
    tail = TailProcess(tmp_path, "tail", config=config, state=state, paths=[logs], env=env)
    holder = None
    try:
        wait_until(lambda: state.exists() or not tail.alive(), "tail to open its state file")
        time.sleep(1.0)  # the checkpoints and the outbox are both opened by then
        holder = hold_write_lock(state)
        append(log, MEMORY_ERROR)
        tail.wait_for_line(lambda x: x.get("kind") == "memory_error", "the memory error read")
        wait_until(lambda: "database is locked" in tail.stderr() or not tail.alive(),
                   "tail to say the state file is locked")
        time.sleep(6.0)  # past every busy timeout (2 s state store, 5 s outbox), twice
        assert tail.alive(), tail.stderr()
        assert receiver.accepted == []  # it could not even be put in the outbox
        assert holder.stdin is not None
        holder.stdin.write("\n")
        holder.stdin.flush()
        holder.communicate(timeout=20)
        assert holder.returncode == 0
        wait_until(lambda: bool(receiver.accepted) or not tail.alive(), "the alert", 30)
        assert tail.alive(), tail.stderr()
    finally:
        if holder is not None:
            if holder.poll() is None:
                holder.kill()
            holder.communicate()  # waits, closes its pipes
        code = tail.stop()
    lines = tail.stderr().splitlines()
    assert code == 0, lines
    assert "Traceback" not in tail.stderr()
    assert lines and all(line.startswith("threadwatch: ") for line in lines), lines
    assert sum("database is locked" in line for line in lines) <= 3, lines  # once per part
    with receiver.lock:
        keys = {alert["key"] for _, body in receiver.accepted for alert in body["alerts"]}
    assert f"level:{log}" in keys and f"event:memory-error:{log}" in keys
