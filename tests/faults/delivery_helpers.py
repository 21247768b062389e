"""Helpers for the delivery fault tests: a real ``threadwatch tail`` process with a config and
a state file in a test folder, its stderr and the ``threadwatch alerts`` view of its state."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tail_process import FAST_TAIL, MEMORY_ERROR

__all__ = ["FAST_TAIL", "MEMORY_ERROR", "TailProcess"]


class TailProcess:
    """``threadwatch tail --format jsonl`` on ``folder/logs`` with ``config`` (TOML text) and
    the state file ``folder/state.db``; ``env`` adds variables (sink URLs)."""

    def __init__(self, folder: Path, config: str, env: dict[str, str]) -> None:
        self.folder = folder
        self.logs = folder / "logs"
        self.logs.mkdir(exist_ok=True)
        self.state = folder / "state.db"
        (folder / "tw.toml").write_text(config)
        self._env = {**os.environ, **env}
        self._runs = 0
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> TailProcess:
        """Start a (new) run; its stderr goes to ``stderr_path``."""
        self._runs += 1
        with (self.folder / f"out-{self._runs}.jsonl").open("wb") as out, \
                self.stderr_path.open("wb") as err:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "threadwatch", "tail", "--format", "jsonl",
                 "--config", str(self.folder / "tw.toml"), "--state", str(self.state),
                 str(self.logs)],
                stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=self._env)
        return self

    @property
    def stderr_path(self) -> Path:
        return self.folder / f"err-{self._runs}.txt"

    def stderr(self) -> str:
        return self.stderr_path.read_text()

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout: float = 30.0) -> tuple[int, float]:
        """SIGTERM; the exit code and how many seconds the process took to exit."""
        assert self.process is not None
        started = time.monotonic()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout)
        return code, time.monotonic() - started

    def kill9(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait(10)

    def checkpointed(self, log: Path) -> bool:
        """Whether the state file's checkpoint of ``log`` covers the whole file."""
        import sqlite3  # noqa: PLC0415 - only this helper reads the file behind tail's back

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
            capture_output=True, env=self._env, timeout=60, check=True)
        found: dict[str, Any] = json.loads(done.stdout)
        return found

    def __enter__(self) -> TailProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.running():
            assert self.process is not None
            self.process.kill()
            self.process.wait(10)
