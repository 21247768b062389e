"""A real ``threadwatch tail`` process for the fault tests (``TailProcess``: started with a
config, a state file and paths, its JSON lines and stderr in files), and a restartable one with a
folder of its own (``TailService``)."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from sources.tail_helpers import wait_until

FAST_TAIL = """
[tail]
poll_seconds = 0.05
sweep_seconds = 0.2
refresh_seconds = 0.1
"""

MEMORY_ERROR = ("run_batt.py:292: CRITICAL: MemoryError in CPU ProcessPoolExecutor"
                " - cannot recover\n")


def healthy_batch(n: int) -> str:
    """A batch of four samples that ends on the process pool: green."""
    task = f"{n:08x}"
    samples = "".join(f"<dynamic-code>:512: demo[{k}] - {task} - 1\n" for k in range(4))
    return (f"run_batt.py:475: -- {task} - {n} --\n{samples}"
            f"run_batt.py:902: -- {task} - {n} done - 1 candidates scored\n")


def append(path: Path, text: str) -> None:
    with path.open("a") as stream:
        stream.write(text)


class TailProcess:
    """``threadwatch tail --format jsonl --state STATE --config CONFIG PATH...`` in a subprocess.

    Args:
        work: a folder for its output files (``<name>.jsonl``, ``<name>.err``).
        name: tells several runs in one test apart.
        env: extra environment (sink URLs).
    """

    def __init__(self, work: Path, name: str, *, config: Path, state: Path, paths: list[Path],
                 env: dict[str, str]) -> None:
        self.out_path = work / f"{name}.jsonl"
        self.err_path = work / f"{name}.err"
        with self.out_path.open("wb") as out, self.err_path.open("wb") as err:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "threadwatch", "tail", "--format", "jsonl",
                 "--config", str(config), "--state", str(state), *map(str, paths)],
                stdin=subprocess.DEVNULL, stdout=out, stderr=err, env={**os.environ, **env},
            )

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def stderr(self) -> str:
        return self.err_path.read_text()

    def lines(self) -> list[dict[str, Any]]:
        """The complete JSON lines written so far."""
        text = self.out_path.read_text()
        return [json.loads(line) for line in text.splitlines(keepends=True)
                if line.endswith("\n")]

    def wait_for_line(self, condition: Any, what: str, timeout: float = 20.0) -> None:
        """Wait until a JSON line satisfies ``condition`` (fails early if the process ends)."""
        wait_until(lambda: not self.alive() or any(condition(x) for x in self.lines()),
                   what, timeout)
        assert self.alive(), f"tail ended while waiting for {what}: {self.stderr()}"

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int:
        """Send ``sig`` (if still running) and return the exit code."""
        if self.alive():
            self.process.send_signal(sig)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout)
            raise

    def wait(self, timeout: float) -> int:
        return self.process.wait(timeout)


class TailService:
    """A ``tail`` that can be restarted: its config (TOML text) in ``folder/tw.toml``, its state
    file ``folder/state.db``, following ``folder/logs``; each ``start`` is a new
    ``TailProcess`` (output files ``run-<n>.jsonl``, ``run-<n>.err``). A context manager kills
    a process still running on the way out."""

    def __init__(self, folder: Path, config: str, env: dict[str, str]) -> None:
        self.folder = folder
        self.logs = folder / "logs"
        self.logs.mkdir(exist_ok=True)
        self.state = folder / "state.db"
        self.config = folder / "tw.toml"
        self.config.write_text(config)
        self._env = env
        self._runs = 0
        self.process: TailProcess | None = None

    def start(self) -> TailService:
        self._runs += 1
        self.process = TailProcess(self.folder, f"run-{self._runs}", config=self.config,
                                   state=self.state, paths=[self.logs], env=self._env)
        return self

    def stderr(self) -> str:
        return self.process.stderr() if self.process is not None else ""

    def running(self) -> bool:
        return self.process is not None and self.process.alive()

    def stop(self, timeout: float = 30.0) -> tuple[int, float]:
        """SIGTERM; the exit code and how many seconds the process took to exit."""
        assert self.process is not None
        started = time.monotonic()
        code = self.process.stop(signal.SIGTERM, timeout)
        return code, time.monotonic() - started

    def kill9(self) -> None:
        assert self.process is not None
        self.process.stop(signal.SIGKILL, 10)

    def checkpointed(self, log: Path) -> bool:
        """Whether the state file's checkpoint of ``log`` covers the whole file."""
        if not self.state.exists():
            return False
        db = sqlite3.connect(f"file:{self.state}?mode=ro", uri=True)
        try:
            rows = db.execute("SELECT offset FROM checkpoints WHERE path = ?",
                              (str(log),)).fetchall()
        except sqlite3.OperationalError:  # not created yet
            return False
        finally:
            db.close()
        return any(offset >= log.stat().st_size for (offset,) in rows)

    def alerts_json(self) -> dict[str, Any]:
        """What ``threadwatch alerts --format json`` says about the state file."""
        done = subprocess.run(
            [sys.executable, "-m", "threadwatch", "alerts", "--state", str(self.state),
             "--format", "json", "--limit", "50"],
            capture_output=True, env={**os.environ, **self._env}, timeout=60, check=True)
        found: dict[str, Any] = json.loads(done.stdout)
        return found

    def __enter__(self) -> TailService:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.running():
            self.kill9()


_LOCK_HOLDER = """
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
db.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
sys.stdin.readline()
db.execute("COMMIT")
db.close()
"""


def hold_write_lock(state: Path) -> subprocess.Popen[str]:
    """Another process holding ``state``'s SQLite write lock (``BEGIN EXCLUSIVE``) until a line
    is written to its stdin; returns once the lock is held."""
    holder = subprocess.Popen([sys.executable, "-c", _LOCK_HOLDER, str(state)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
    return holder
