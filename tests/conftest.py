"""Fixtures for every test: no test may leave threads behind (watchdog's conftest does the same);
a record of the SQLite connections a test opens."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from typing import Any

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


class SqliteConnections:
    """Every SQLite connection opened while the ``sqlite_connections`` fixture is in use."""

    def __init__(self) -> None:
        self.made: list[sqlite3.Connection] = []

    def still_open(self) -> list[sqlite3.Connection]:
        return [db for db in self.made if _is_open(db)]


def _is_open(db: sqlite3.Connection) -> bool:
    try:
        db.execute("SELECT 1")
    except sqlite3.ProgrammingError:  # "Cannot operate on a closed database."
        return False
    return True


@pytest.fixture
def sqlite_connections(monkeypatch: pytest.MonkeyPatch) -> SqliteConnections:
    """Records every ``sqlite3.connect`` (threadwatch calls it through the module) so a test can
    say which connections were left open, on every Python (only 3.13+ warns when collecting)."""
    record = SqliteConnections()
    connect = sqlite3.connect

    def recording_connect(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        db = connect(*args, **kwargs)
        record.made.append(db)
        return db

    monkeypatch.setattr(sqlite3, "connect", recording_connect)
    return record
