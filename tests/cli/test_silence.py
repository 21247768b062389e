"""``threadwatch silence add|list|expire`` as real subprocesses on a real state file."""

from __future__ import annotations

import json
import os
import re
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from faults.unwritable import unwritable


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "threadwatch", *args], capture_output=True,
                          text=True, timeout=120, check=False, env={**os.environ, **(env or {})})


def add(state: Path, *args: str) -> str:
    done = run("silence", "add", "--state", str(state), *args)
    assert done.returncode == 0, done.stderr
    assert re.fullmatch(r"[0-9a-f]{8}\n", done.stdout), done.stdout
    return done.stdout.strip()


def listed(state: Path, *args: str) -> list[dict[str, Any]]:
    done = run("silence", "list", "--state", str(state), "--format", "json", *args)
    assert done.returncode == 0, done.stderr
    found: list[dict[str, Any]] = json.loads(done.stdout)["silences"]
    return found


def test_add_prints_an_id_and_list_shows_it_with_the_time_left(tmp_path: Path) -> None:
    state = tmp_path / "state" / "state.db"
    before = time.time()
    made = add(state, "--scope", "host1/*.log", "--for", "2h", "--comment", "disk swap")
    other = add(state, "--scope", "total", "--rule", "level", "--for", "90s")
    [short, long] = listed(state)
    assert (short["id"], long["id"]) == (other, made)
    assert (long["scope"], long["rule"], long["comment"]) == ("host1/*.log", None, "disk swap")
    assert long["created_by"] == f"{os.environ.get('USER') or long['created_by'].split('@')[0]}" \
        f"@{socket.gethostname()}"
    assert 7200 - (time.time() - before) - 1 <= long["seconds_left"] <= 7200
    assert long["ends_at_epoch"] - long["starts_at_epoch"] == pytest.approx(7200)
    table = run("silence", "list", "--state", str(state))
    assert table.returncode == 0
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["ID", "SCOPE", "RULE", "ENDS", "LEFT", "BY", "COMMENT"]
    assert re.search(rf"^{made}\s+host1/\*\.log\s+\*\s+\S+Z\s+1h59m\s+\S+@\S+\s+disk swap$",
                     table.stdout, re.MULTILINE), table.stdout


def test_expire_ends_it_and_list_all_still_shows_it(tmp_path: Path) -> None:
    state = tmp_path / "state.db"
    made = add(state, "--scope", "*", "--for", "1d")
    done = run("silence", "expire", made, "--state", str(state))
    assert (done.returncode, done.stdout) == (0, f"{made} expired\n")
    assert listed(state) == []
    [ended] = listed(state, "--all")
    assert ended["id"] == made and not ended["active"] and ended["expired_by"]
    again = run("silence", "expire", made, "--state", str(state))
    assert (again.returncode, again.stdout) == (0, f"{made} had ended already\n")
    table = run("silence", "list", "--all", "--state", str(state))
    assert "expired by" in table.stdout


@pytest.mark.parametrize(("args", "message"), [
    (["--scope", "*", "--for", "2x"], "threadwatch: bad duration '2x': expected e.g. 90s, 30m,"
                                      " 2h, 1d or 1h30m\n"),
    (["--scope", "*", "--for", "0s"], "threadwatch: bad duration '0s': must be more than zero\n"),
    (["--scope", "host[1", "--for", "2h"], "threadwatch: bad scope glob 'host[1': '[' is never"
                                           " closed\n"),
    (["--scope", "", "--for", "2h"], "threadwatch: bad scope glob: empty\n"),
    (["--scope", "*", "--rule", "a[", "--for", "2h"], "threadwatch: bad rule glob 'a[': '[' is"
                                                       " never closed\n"),
])
def test_bad_input_is_one_line_and_exit_3(tmp_path: Path, args: list[str], message: str) -> None:
    state = tmp_path / "state.db"
    done = run("silence", "add", "--state", str(state), *args)
    assert (done.returncode, done.stdout, done.stderr) == (3, "", message)


def test_an_unknown_id_is_exit_3(tmp_path: Path) -> None:
    state = tmp_path / "state.db"
    add(state, "--scope", "*", "--for", "1h")
    done = run("silence", "expire", "deadbeef", "--state", str(state))
    assert (done.returncode, done.stderr) == (
        3, "threadwatch: no silence 'deadbeef' (see: threadwatch silence list --all)\n")
    missing = run("silence", "expire", "deadbeef", "--state", str(tmp_path / "none.db"))
    assert missing.returncode == 3 and "no state file" in missing.stderr
    assert not (tmp_path / "none.db").exists()


def test_the_default_state_file_is_tails(tmp_path: Path) -> None:
    env = {"XDG_STATE_HOME": str(tmp_path / "xdg")}
    empty = run("silence", "list", env=env)
    assert (empty.returncode, empty.stdout) == (0, "(no silences)\n")
    assert not (tmp_path / "xdg").exists()  # listing makes nothing
    done = run("silence", "add", "--scope", "*", "--for", "1h", env=env)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "xdg" / "threadwatch" / "state.db").is_file()
    assert done.stdout.strip() in run("silence", "list", env=env).stdout
    assert run("silence", "expire", done.stdout.strip(), env=env).returncode == 0


def test_add_waits_for_a_writer_holding_the_state_file(tmp_path: Path) -> None:
    """``tail`` holds SQLite's write lock only for short transactions: ``add`` waits for it."""
    state = tmp_path / "state.db"
    add(state, "--scope", "first", "--for", "1h")
    holder = sqlite3.connect(state, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    release = threading.Timer(1.0, holder.execute, ("COMMIT",))
    release.start()
    started = time.monotonic()
    try:
        made = add(state, "--scope", "second", "--for", "1h")
    finally:
        release.join()
        holder.close()
    assert time.monotonic() - started >= 0.9
    assert made in {s["id"] for s in listed(state)}


def test_list_reads_a_state_file_in_a_folder_it_cannot_write(tmp_path: Path) -> None:
    state = tmp_path / "ro" / "state.db"
    made = add(state, "--scope", "*", "--for", "1h")
    with unwritable(state.parent):
        assert [s["id"] for s in listed(state)] == [made]
        refused = run("silence", "add", "--state", str(state), "--scope", "*", "--for", "1h")
        assert refused.returncode == 3 and refused.stderr.startswith("threadwatch: cannot ")
        assert len(refused.stderr.splitlines()) == 1


def test_alerts_shows_the_active_silences(tmp_path: Path) -> None:
    state = tmp_path / "state.db"
    made = add(state, "--scope", "total", "--for", "30m", "--comment", "known")
    done = run("alerts", "--state", str(state), "--format", "json")
    assert done.returncode == 0, done.stderr
    body = json.loads(done.stdout)
    assert [(s["id"], s["comment"]) for s in body["silences"]] == [(made, "known")]
    assert body["silenced"] == []
    table = run("alerts", "--state", str(state))
    assert f"  {made} scope=total rule=* until " in table.stdout
    assert "by " in table.stdout and ": known" in table.stdout
