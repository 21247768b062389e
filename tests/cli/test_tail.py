"""``threadwatch tail`` as a real process: kill -9 and restart, signals, stdin, exit codes."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
from contextlib import closing
from pathlib import Path
from typing import IO

from sources.tail_helpers import batch_line, wait_until


class TailProcess:
    """``threadwatch tail --format jsonl`` in a subprocess, its JSON lines collected."""

    def __init__(self, *args: str, stdin: int | IO[bytes] | None = subprocess.DEVNULL) -> None:
        self.records: list[dict[str, object]] = []
        self.process = subprocess.Popen(
            [sys.executable, "-m", "threadwatch", "tail", "--format", "jsonl", *args],
            stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        self._reader = threading.Thread(target=self._read, name="test-tail-stdout")
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.records.append(json.loads(line))

    def numbers(self) -> list[int]:
        return [int(r["batch_index"]) for r in list(self.records)  # type: ignore[call-overload]
                if r.get("type") == "event" and r.get("kind") == "batch"]

    def finish(self, sig: int | None = None) -> int:
        if sig is not None:
            self.process.send_signal(sig)
        code = self.process.wait(20)
        self._reader.join(10)
        assert self.process.stderr is not None and self.process.stdout is not None
        self.stderr = self.process.stderr.read()
        self.process.stderr.close()
        self.process.stdout.close()
        return code


def checkpointed(state: Path, path: Path) -> int:
    """The offset the state file holds for ``path`` (-1 when none yet)."""
    if not state.exists():
        return -1
    with closing(sqlite3.connect(state)) as db:  # `with connect()` commits, never closes
        row = db.execute("SELECT offset FROM checkpoints WHERE path = ? AND live = 1",
                         (str(path),)).fetchone()
    return -1 if row is None else int(row[0])


def test_kill_9_and_restart_sees_every_line_exactly_once(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    log = logs / "a.log"
    state = tmp_path / "state.db"
    with log.open("w") as stream:
        stream.write("".join(batch_line(n) for n in range(500)))
        stream.write(batch_line(500)[:-8])  # a partial line: the checkpoint must stop before it
        stream.flush()
        complete = log.stat().st_size - len(batch_line(500)[:-8])
        first = TailProcess(str(logs), "--state", str(state))
        wait_until(lambda: len(first.numbers()) == 500, "the first 500 lines")
        wait_until(lambda: checkpointed(state, log) == complete, "the checkpoint")
        first.finish(signal.SIGKILL)
        stream.write(batch_line(500)[-8:])
        stream.write("".join(batch_line(n) for n in range(501, 1000)))
    second = TailProcess(str(logs), "--state", str(state))
    wait_until(lambda: len(second.numbers()) >= 500, "the rest after the restart")
    assert second.finish(signal.SIGTERM) == 0
    assert sorted(first.numbers() + second.numbers()) == list(range(1000))


def test_sigint_stops_with_exit_0_and_a_saved_checkpoint(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "a.log").write_text(batch_line(1))
    state = tmp_path / "state.db"
    tail = TailProcess(str(logs), "--state", str(state))
    wait_until(lambda: tail.numbers() == [1], "the line")
    assert tail.finish(signal.SIGINT) == 0
    assert checkpointed(state, logs / "a.log") == len(batch_line(1))


def test_stdin_is_followed_to_its_end(tmp_path: Path) -> None:
    read_end, write_end = os.pipe()
    with os.fdopen(write_end, "w") as writer:
        writer.write(batch_line(1) + batch_line(2))
    with os.fdopen(read_end, "rb") as reader:
        tail = TailProcess("-", "--state", str(tmp_path / "state.db"), stdin=reader)
        assert tail.finish() == 0
    assert tail.numbers() == [1, 2]


def test_a_folder_that_does_not_exist_yet_is_waited_for_then_followed(tmp_path: Path) -> None:
    logs = tmp_path / "later" / "logs"  # neither exists yet
    state = tmp_path / "state.db"
    tail = TailProcess(str(logs), "--state", str(state))
    wait_until(lambda: (tmp_path / "state.db.sock").exists() or tail.process.poll() is not None,
               "tail to start")
    assert tail.process.poll() is None
    logs.mkdir(parents=True)
    (logs / "run.log").write_text(batch_line(1) + batch_line(2))
    wait_until(lambda: tail.numbers() == [1, 2], "the events of the folder once it appeared")
    with (logs / "run.log").open("a") as stream:  # followed, not only found
        stream.write(batch_line(3))
    wait_until(lambda: tail.numbers() == [1, 2, 3], "a line appended later")
    assert tail.finish(signal.SIGTERM) == 0
    assert tail.stderr.strip().splitlines() == [
        f"threadwatch: {logs}: does not exist yet; waiting for it",
        f"threadwatch: {logs}: appeared; following it",
    ]


def test_a_file_named_before_it_exists_is_followed_once_written(tmp_path: Path) -> None:
    log = tmp_path / "run.out"  # named explicitly: followed whatever its name
    tail = TailProcess(str(log), "--state", str(tmp_path / "state.db"))
    wait_until(lambda: (tmp_path / "state.db.sock").exists() or tail.process.poll() is not None,
               "tail to start")
    log.write_text(batch_line(7))
    wait_until(lambda: tail.numbers() == [7], "the file's events")
    assert tail.finish(signal.SIGTERM) == 0
    assert tail.stderr.strip().splitlines() == [
        f"threadwatch: {log}: does not exist yet; waiting for it"]


def test_bad_config_is_a_one_line_error_with_exit_3(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("[tail]\nwindow_seconds = -1\n")
    tail = TailProcess(str(tmp_path), "--config", str(config), "--state",
                       str(tmp_path / "state.db"))
    assert tail.finish() == 3
    lines = tail.stderr.strip().splitlines()
    assert len(lines) == 1 and "tail.window_seconds" in lines[0]


def test_escape_sequences_in_file_names_never_reach_stderr(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    name = "run\x1b]0;PWNED\x07\x1b[2J.log"
    (logs / name).write_text("x" * 5000 + "\n" + batch_line(1))
    config = tmp_path / "tw.toml"
    config.write_text("[parse]\nmax_line_bytes = 1024\n")
    tail = TailProcess(str(logs), "--config", str(config), "--state", str(tmp_path / "state.db"))
    wait_until(lambda: tail.numbers() == [1], "the line after the long one")
    assert tail.finish(signal.SIGINT) == 0
    shown = str(logs / r"run\x1b]0;PWNED\x07\x1b[2J.log")
    assert f"{shown}: at byte 0: " in tail.stderr  # the problem was said...
    assert "\x1b" not in tail.stderr and "\x07" not in tail.stderr  # ...with visible escapes


def test_a_reader_that_goes_away_stops_tail_quietly(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "a.log").write_text("".join(batch_line(n) for n in range(2000)))
    process = subprocess.Popen(
        [sys.executable, "-m", "threadwatch", "tail", str(logs), "--format", "jsonl",
         "--state", str(tmp_path / "state.db")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    assert process.stdout is not None
    process.stdout.readline()
    process.stdout.close()  # like `| head -1`
    _, err = process.communicate(timeout=30)
    assert process.returncode == 0
    assert err == b""
