"""SQLite failures of the outbox become ``OutboxError``; the dispatcher keeps and retries."""

from __future__ import annotations

import logging
import random
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from alert_helpers import alerts_config, change, health

from threadwatch.alerts.checks import sample_notification
from threadwatch.alerts.dispatcher import AlertDispatcher
from threadwatch.alerts.outbox import Outbox
from threadwatch.alerts.testing import FakeClock, MemorySink
from threadwatch.errors import OutboxError, StateError, ThreadwatchError
from threadwatch.health.levels import Level


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Another process's writer holding the state file's write lock."""
    other = sqlite3.connect(str(path), isolation_level=None)
    try:
        other.execute("BEGIN EXCLUSIVE")
        yield
        other.execute("ROLLBACK")
    finally:
        other.close()


def test_a_locked_state_file_in_enqueue_is_an_outbox_error(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "s.db", busy_timeout_seconds=0.05)
    try:
        with _locked(tmp_path / "s.db"), pytest.raises(OutboxError) as caught:
            outbox.enqueue(sample_notification(1_800_000_000.0, "h"), ["a", "b"])
        assert isinstance(caught.value, StateError) and isinstance(caught.value, ThreadwatchError)
        assert isinstance(caught.value.__cause__, sqlite3.OperationalError)
        assert "locked" in str(caught.value)
        assert outbox.counts() == {"pending": 0, "delivered": 0, "failed": 0}  # rolled back
        outbox.enqueue(sample_notification(1_800_000_000.0, "h"), ["a"])
        assert outbox.counts()["pending"] == 1
    finally:
        outbox.close()


@pytest.mark.parametrize("use", [
    lambda o: o.mark_delivered(1, 1.0),
    lambda o: o.mark_retry(1, 1.0, 2.0, "HTTP 503"),
    lambda o: o.mark_failed(1, 1.0, "HTTP 400"),
    lambda o: o.expire(1.0, 10.0),
])
def test_every_write_translates_a_locked_file(tmp_path: Path,
                                              use: Callable[[Outbox], object]) -> None:
    outbox = Outbox(tmp_path / "s.db", busy_timeout_seconds=0.05)
    try:
        with _locked(tmp_path / "s.db"), pytest.raises(OutboxError):
            use(outbox)
    finally:
        outbox.close()


@pytest.mark.parametrize("use", [
    lambda o: o.head("a"),
    lambda o: o.deliveries(),
    lambda o: o.counts(),
    lambda o: o.notifications(),
    lambda o: o.active(),
])
def test_every_read_translates_sqlite_errors(tmp_path: Path,
                                             use: Callable[[Outbox], object]) -> None:
    outbox = Outbox(tmp_path / "s.db")
    with sqlite3.connect(str(tmp_path / "s.db")) as other:  # someone broke the tables
        other.executescript("DROP TABLE alert_deliveries; DROP TABLE alert_notifications;"
                            " DROP TABLE alert_active;")
    other.close()
    try:
        with pytest.raises(OutboxError) as caught:
            use(outbox)
        assert isinstance(caught.value.__cause__, sqlite3.Error)
    finally:
        outbox.close()


def test_an_unopenable_state_file_is_an_outbox_error(tmp_path: Path) -> None:
    with pytest.raises(OutboxError):
        Outbox(tmp_path / "missing-folder" / "s.db")


def test_a_state_file_that_cannot_be_prepared_leaves_no_connection_open(
    tmp_path: Path, sqlite_connections: Any
) -> None:
    (tmp_path / "s.db").write_text("not a database, just text " * 100)
    with pytest.raises(OutboxError):
        Outbox(tmp_path / "s.db")
    assert sqlite_connections.made, "the connection was never made: the test tests nothing"
    assert sqlite_connections.still_open() == []


def _dispatcher(path: Path, sink: MemorySink, clock: FakeClock) -> AlertDispatcher:
    config = alerts_config(hold_seconds=0, group_wait_seconds=0)
    return AlertDispatcher(config, Outbox(path, busy_timeout_seconds=0.05), {"mem": sink},
                           clock, background=False, rng=random.Random(1))


def _go_red(dispatcher: AlertDispatcher, scope: str, at: float) -> None:
    dispatcher.on_changes([change(scope, Level.GREEN, Level.RED, at)], [health(scope, Level.RED)])


def test_a_group_that_cannot_be_stored_is_kept_and_sent_on_a_later_tick(
        tmp_path: Path, clock: FakeClock, caplog: pytest.LogCaptureFixture) -> None:
    sink = MemorySink()
    dispatcher = _dispatcher(tmp_path / "s.db", sink, clock)
    try:
        _go_red(dispatcher, "a.log", clock.now)
        with _locked(tmp_path / "s.db"), caplog.at_level(logging.WARNING, "threadwatch.alerts"):
            dispatcher.tick(clock.now)  # no exception out of tail's loop
            dispatcher.tick(clock.advance(1))
            with pytest.raises(OutboxError):
                dispatcher.flush(clock.now)
        assert sink.sent == []
        assert len([r for r in caplog.records if "retrying" in r.getMessage()]) == 1
        at = clock.advance(1)  # b.log goes red too: it joins the waiting group
        dispatcher.on_changes([change("b.log", Level.GREEN, Level.RED, at)],
                              [health("a.log", Level.RED), health("b.log", Level.RED)])
        dispatcher.tick(clock.advance(1))
    finally:
        dispatcher.close()
    [message] = sink.sent
    assert sorted(a.key for a in message.alerts) == ["level:a.log", "level:b.log"]


def test_close_with_a_locked_file_logs_the_lost_alerts_and_releases_everything(
        tmp_path: Path, clock: FakeClock, caplog: pytest.LogCaptureFixture) -> None:
    sink = MemorySink()
    dispatcher = _dispatcher(tmp_path / "s.db", sink, clock)
    _go_red(dispatcher, "a.log", clock.now)
    with _locked(tmp_path / "s.db"), caplog.at_level(logging.ERROR, "threadwatch.alerts"):
        dispatcher.tick(clock.now)
        dispatcher.close()
    assert sink.closed
    assert any("level:a.log" in r.getMessage() for r in caplog.records)
