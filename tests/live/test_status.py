"""``threadwatch status`` asks a real running ``tail`` through its status socket."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from pytest_httpserver import HTTPServer

from alerts.alert_helpers import Receiver
from faults.tail_process import (
    FAST_TAIL,
    MEMORY_ERROR,
    TailProcess,
    TailService,
    append,
    healthy_batch,
)
from sources.tail_helpers import wait_until
from threadwatch.live.status import STALE_SECONDS, format_status


def status(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "threadwatch", "status", *args],
                          capture_output=True, text=True, timeout=60,
                          env={**os.environ, **(env or {})}, check=False)


def answer(state: Path) -> dict[str, Any]:
    done = status("--state", str(state), "--format", "json")
    assert done.stderr == ""
    found: dict[str, Any] = json.loads(done.stdout)
    return found


def answers(state: Path) -> bool:
    """Whether a tail answers (an unknown level exits 3 too, but with an answer)."""
    return status("--state", str(state), "--format", "json").stdout.startswith("{")


def test_status_answers_from_a_running_tail_and_exits_like_report(tmp_path: Path) -> None:
    with TailService(tmp_path, FAST_TAIL, {}) as service:
        log = service.logs / "tmp_batt_Stat0000A1_run.log"
        append(log, healthy_batch(1) + healthy_batch(2))
        service.start()
        assert service.process is not None
        wait_until(lambda: answers(service.state) and answer(service.state)["level"] == "green",
                   "a green status")
        green = status("--state", str(service.state))
        assert green.returncode == 0, green.stderr
        append(log, MEMORY_ERROR)
        wait_until(lambda: answer(service.state)["level"] == "red", "a red status")
        red = status("--state", str(service.state))
        found = answer(service.state)
        code, _ = service.stop()
    assert code == 0, service.stderr()
    assert red.returncode == 2 and red.stderr == ""
    assert f"(pid {service.process.pid}, up " in red.stdout
    assert "files followed 1 · read lag 0 bytes" in red.stdout
    row = next(line for line in red.stdout.splitlines() if str(log) in line)
    assert row.startswith("RED") and "memory_errors 1 >= 1 (memory errors)" in row
    assert found["pid"] == service.process.pid and found["files_followed"] == 1
    assert [s["scope"] for s in found["scopes"]] == [str(log), "total"]
    assert found["scopes"][0]["reason"] == "memory_errors 1 >= 1 (memory errors)"
    assert found["uptime_seconds"] > 0 and found["sinks"] == []
    # the answer's snapshot is the loop's latest, taken within the last second or so
    assert found["stale"] is False and 0 <= found["snapshot_age_seconds"] < STALE_SECONDS
    assert abs(found["snapshot_at"] + found["snapshot_age_seconds"]
               - (found["started_at"] + found["uptime_seconds"])) < 0.01
    assert re.search(r": RED \(as of [0-9]s ago\)$", red.stdout.splitlines()[0])


def test_the_socket_is_only_for_the_user_and_removed_on_exit(tmp_path: Path) -> None:
    with TailService(tmp_path, FAST_TAIL, {}) as service:
        service.start()
        socket_file = Path(f"{service.state}.sock")
        wait_until(lambda: answers(service.state), "the status socket")
        assert stat.S_ISSOCK(socket_file.stat().st_mode)
        assert stat.S_IMODE(socket_file.stat().st_mode) == 0o600
        code, _ = service.stop()
    assert code == 0
    assert not socket_file.exists()


def test_no_running_tail_is_one_line_and_exit_3(tmp_path: Path) -> None:
    done = status("--state", str(tmp_path / "state.db"))
    assert done.returncode == 3 and done.stdout == ""
    assert done.stderr == (f"threadwatch: no threadwatch tail is running here"
                           f" (no {tmp_path / 'state.db.sock'})\n")


def test_a_socket_left_by_kill_9_confuses_neither_status_nor_a_new_tail(tmp_path: Path) -> None:
    with TailService(tmp_path, FAST_TAIL, {}) as service:
        append(service.logs / "run.log", healthy_batch(1))
        service.start()
        wait_until(lambda: answers(service.state), "the first tail's status")
        service.kill9()
        socket_file = Path(f"{service.state}.sock")
        assert socket_file.exists()  # nobody removed it
        stale = status("--state", str(service.state))
        assert stale.returncode == 3 and stale.stdout == ""
        assert stale.stderr == (f"threadwatch: no threadwatch tail is running here"
                                f" ({socket_file} is left over from one that stopped)\n")
        service.start()
        assert service.process is not None
        wait_until(lambda: answers(service.state), "the second tail's status")
        assert answer(service.state)["pid"] == service.process.pid
        code, _ = service.stop()
    assert code == 0, service.stderr()


def test_a_state_file_deep_in_a_tree_still_gets_its_socket(tmp_path: Path) -> None:
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    deep.mkdir(parents=True)
    state = deep / "state.db"
    assert len(str(state) + ".sock") > 108  # too long for a unix socket address
    logs = tmp_path / "logs"
    logs.mkdir()
    config = tmp_path / "tw.toml"
    config.write_text(FAST_TAIL)
    tail = TailProcess(tmp_path, "deep", config=config, state=state, paths=[logs], env={})
    try:
        wait_until(lambda: not tail.alive() or answers(state), "the status socket")
        assert answer(state)["pid"] == tail.pid
        by_socket = status("--socket", f"{state}.sock", "--format", "json")
        assert json.loads(by_socket.stdout)["pid"] == tail.pid
    finally:
        code = tail.stop()
    assert code == 0, tail.stderr()


def test_status_shows_each_sink_its_state_and_what_waits(tmp_path: Path,
                                                         httpserver: HTTPServer) -> None:
    receiver = Receiver()  # answers 503: deliveries wait in the outbox
    httpserver.expect_request("/hook").respond_with_handler(receiver)
    config = FAST_TAIL + """
[alerts]
hold_seconds = 0
group_wait_seconds = 0
[alerts.delivery]
backoff_initial_seconds = 30
[alerts.sinks.ops]
type = "webhook"
url = "${STATUS_HOOK_URL}"
"""
    with TailService(tmp_path, config, {"STATUS_HOOK_URL": httpserver.url_for("/hook")}) as tail:
        tail.start()
        wait_until(lambda: answers(tail.state), "the status socket")
        append(tail.logs / "run.log", MEMORY_ERROR)
        wait_until(lambda: answer(tail.state)["sinks"][0]["state"] == "failing",
                   "the sink failing")
        wait_until(lambda: answer(tail.state)["sinks"][0]["pending"] >= 1, "a pending delivery")
        found = answer(tail.state)["sinks"]
        text = status("--state", str(tail.state)).stdout
        code, _ = tail.stop()
    assert code == 0, tail.stderr()
    assert found[0]["sink"] == "ops" and found[0]["failed"] == 0
    assert "HTTP 503" in found[0]["last_error"]
    assert "127.0.0.1" not in json.dumps(found)  # the URL is never shown
    assert "  ops: failing, " in text and "pending, 0 failed, last delivered never" in text


def test_something_else_where_the_socket_goes_stops_tail_with_one_line(tmp_path: Path) -> None:
    (tmp_path / "state.db.sock").write_text("not a socket")
    logs = tmp_path / "logs"
    logs.mkdir()
    done = subprocess.run([sys.executable, "-m", "threadwatch", "tail", "--format", "jsonl",
                           "--state", str(tmp_path / "state.db"), str(logs)],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 3
    assert done.stderr == (f"threadwatch: status socket {tmp_path / 'state.db.sock'}:"
                           " something else is there (not a socket)\n")
    assert (tmp_path / "state.db.sock").read_text() == "not a socket"  # left alone


HANGING_TAIL = """
import sys, time
from pathlib import Path

from threadwatch.config import load_config
from threadwatch.live.loop import TailOptions
from threadwatch.live.service import tail_logs

logs, config, state, hang = sys.argv[1:]


class Hanging:  # on_events blocks while the file HANG exists: the loop is stuck
    kinds = frozenset()

    def on_events(self, events, at):
        while Path(hang).exists():
            time.sleep(0.05)

    def on_changes(self, *args):
        pass

    def tick(self, now):
        pass

    def close(self):
        pass


tail_logs([logs], load_config(Path(config)), output="jsonl", consumers=[Hanging()],
          options=TailOptions(state_path=Path(state)))
"""


def test_a_stuck_loop_makes_the_answer_stale_and_exit_3(tmp_path: Path) -> None:
    """A real tail whose loop hangs delivering a red line (a consumer that blocks, as in
    tests/live/test_systemd.py): its status socket still answers, from the last snapshot
    (green), which grows old; past STALE_SECONDS the answer says so and exits 3 whatever the
    level said. Once the loop goes on, the answer is fresh (and red) again."""
    logs = tmp_path / "logs"
    logs.mkdir()
    log = logs / "run.log"
    append(log, healthy_batch(1))
    config, state, hang = tmp_path / "tw.toml", tmp_path / "state.db", tmp_path / "hang"
    config.write_text(FAST_TAIL)
    with (tmp_path / "tail.err").open("wb") as err:
        tail = subprocess.Popen([sys.executable, "-c", HANGING_TAIL, str(logs), str(config),
                                 str(state), str(hang)],
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
    try:
        wait_until(lambda: answers(state) and answer(state)["level"] == "green", "green")
        hang.touch()
        append(log, MEMORY_ERROR)  # the loop hangs delivering it
        hung_at = time.monotonic()
        fresh = status("--state", str(state))
        wait_until(lambda: answer(state)["stale"], "a stale answer", timeout=STALE_SECONDS + 10)
        assert time.monotonic() - hung_at > STALE_SECONDS - 1.5  # not before its time
        stale = status("--state", str(state))
        as_json = status("--state", str(state), "--format", "json")
        hang.unlink()
        wait_until(lambda: answer(state)["level"] == "red", "the red line judged")
        after = status("--state", str(state))
    finally:
        hang.unlink(missing_ok=True)
        tail.terminate()
        code = tail.wait(30)
    assert code == 0, (tmp_path / "tail.err").read_text()
    assert fresh.returncode == 0, fresh.stdout + fresh.stderr  # green, not stale yet
    assert stale.returncode == 3 and as_json.returncode == 3, stale.stdout + stale.stderr
    found = json.loads(as_json.stdout)
    assert found["stale"] is True and found["snapshot_age_seconds"] > STALE_SECONDS
    assert found["level"] == "green"  # what the last snapshot said
    lines = stale.stdout.splitlines()
    assert lines[0].endswith(": UNKNOWN"), lines
    assert lines[1].startswith("STALE: the tail's last snapshot is ")
    assert lines[1].endswith("s old: its loop is stuck; what follows is as of then (it said"
                             " GREEN)")
    assert after.returncode == 2 and "STALE" not in after.stdout


def test_the_text_says_how_old_the_answer_is() -> None:
    base = {"pid": 7, "uptime_seconds": 30.0, "level": "red", "files_followed": 1,
            "read_lag_bytes": 0, "stalled_sources": 0, "scopes": [], "sinks": []}
    fresh = format_status({**base, "snapshot_at": 99.0, "snapshot_age_seconds": 1.2,
                           "stale": False}, now=100.0)
    assert fresh.splitlines()[0] == "threadwatch tail (pid 7, up 30s): RED (as of 1s ago)"
    starting = format_status({**base, "level": "unknown", "snapshot_at": None,
                              "snapshot_age_seconds": 0.5, "stale": False}, now=100.0)
    assert starting.splitlines()[0].endswith(": UNKNOWN (starting: no snapshot yet)")
    never = format_status({**base, "level": "unknown", "snapshot_at": None,
                           "snapshot_age_seconds": 30.0, "stale": True}, now=100.0)
    assert never.splitlines()[1] == ("STALE: the tail has taken no snapshot in 30s: its loop"
                                     " is stuck")
    older = format_status(base, now=100.0)  # an answer of a tail from before this
    assert older.splitlines()[0] == "threadwatch tail (pid 7, up 30s): RED"
