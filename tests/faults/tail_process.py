"""A real ``threadwatch tail`` process for the fault tests: started with a config, a state file
and a webhook sink pointing at a receiver on 127.0.0.1, its JSON lines and stderr in files."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
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
