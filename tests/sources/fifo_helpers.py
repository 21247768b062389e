"""Helpers for the tests of non-regular files: a FIFO nobody writes to, and a check that
opening one does not block."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path

import pytest


def fifo(path: Path) -> Path:
    """A FIFO nobody writes to: a plain open of it blocks until a writer comes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    os.mkfifo(path)
    return path


def raises_without_blocking(call: Callable[[], object], fifo_path: Path) -> BaseException:
    """What ``call`` raised; fails the test if it blocked (then releases it, by opening the
    FIFO's other end, so no thread is left behind)."""
    outcome: list[BaseException | None] = []

    def run() -> None:
        try:
            call()
            outcome.append(None)
        except BaseException as exc:  # handed to the test
            outcome.append(exc)

    thread = threading.Thread(target=run, name="opens-a-fifo")
    thread.start()
    thread.join(5)
    if thread.is_alive():
        os.close(os.open(fifo_path, os.O_WRONLY | os.O_NONBLOCK))
        thread.join()
        pytest.fail(f"opening {fifo_path} blocked")
    assert outcome[0] is not None, "no error"
    return outcome[0]
