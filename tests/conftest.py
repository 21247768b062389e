"""Fixtures for every test: no test may leave threads behind (watchdog's conftest does the same)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest


@pytest.fixture
def count_daemon_threads() -> bool:
    """Whether a leaked daemon thread fails a test too (a folder's conftest may say yes)."""
    return False


@pytest.fixture(autouse=True)
def _no_leaked_threads(count_daemon_threads: bool) -> Iterator[None]:
    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + 5
    while True:
        leaked = [
            t
            for t in threading.enumerate()
            if t not in before and t.is_alive() and (count_daemon_threads or not t.daemon)
        ]
        if not leaked:
            return
        if time.monotonic() > deadline:
            pytest.fail(f"test leaked threads: {[t.name for t in leaked]}")
        time.sleep(0.02)
