"""Outbox retention: delivered and dropped deliveries go after ``keep_delivered_seconds``,
failed ones after ``keep_failed_seconds``, a notification with its last delivery; pending
ones never. The dispatcher prunes at its first tick and then hourly (time injected); a real
``tail`` prunes a state file at start."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from alert_helpers import alerts_config

from faults.tail_process import FAST_TAIL, TailService
from sources.tail_helpers import wait_until
from threadwatch.alerts.dispatcher import PRUNE_SECONDS, AlertDispatcher
from threadwatch.alerts.model import Notification
from threadwatch.alerts.outbox import DELIVERED, DROPPED, FAILED, PENDING, Outbox
from threadwatch.alerts.testing import FakeClock, MemorySink

DAY = 86400.0


def stored(state: Path) -> tuple[list[tuple[int, str, str]], list[int]]:
    """(notification number, sink, state) of every delivery; every notification's number."""
    db = sqlite3.connect(state)
    try:
        rows = db.execute("SELECT notification_id, sink, state FROM alert_deliveries"
                          " ORDER BY id").fetchall()
        numbers = [n for (n,) in db.execute("SELECT id FROM alert_notifications ORDER BY id")]
    finally:
        db.close()
    return [(int(n), str(s), str(st)) for n, s, st in rows], numbers


def outbox_with_every_state(state: Path, at: float) -> Outbox:
    """Notifications #1-#4 made at ``at``: #1 delivered to both sinks, #2 failed at one and
    delivered at the other, #3 dropped at one and delivered at the other, #4 pending at one
    (in backoff) and delivered at the other; each done at ``at``."""
    outbox = Outbox(state)
    for number in range(1, 5):
        note = outbox.enqueue(Notification((), at, "h"), ["a", "b"])
        first, second = outbox.deliveries_of(note.number or 0)
        outbox.mark_delivered(second.id, at)
        if number == 1:
            outbox.mark_delivered(first.id, at)
        elif number == 2:
            outbox.mark_failed(first.id, at, "HTTP 400")
        elif number == 3:
            outbox.drop(first.id, at)
        else:
            outbox.mark_retry(first.id, at, at + 60, "HTTP 503")
    return outbox


def test_prune_keeps_each_state_for_its_own_time(tmp_path: Path) -> None:
    outbox = outbox_with_every_state(tmp_path / "state.db", at=1000.0)
    keep_done, keep_failed = 1 * DAY, 3 * DAY

    assert outbox.prune(1000.0 + keep_done - 1, keep_done, keep_failed) == 0
    assert outbox.prune(1000.0 + keep_done, keep_done, keep_failed) == 6
    deliveries, numbers = stored(tmp_path / "state.db")
    assert deliveries == [(2, "a", FAILED), (4, "a", PENDING)]
    assert numbers == [2, 4]  # #1 and #3 went with their last delivery

    assert outbox.prune(1000.0 + 100 * DAY, keep_done, keep_failed) == 1
    assert stored(tmp_path / "state.db") == ([(4, "a", PENDING)], [4])  # pending: kept
    outbox.close()


def test_prune_works_in_batches_and_leaves_new_notifications(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "state.db")
    for _ in range(1203):  # more than two batches
        note = outbox.enqueue(Notification((), 1000.0, "h"), ["a"])
        outbox.mark_delivered(outbox.deliveries_of(note.number or 0)[0].id, 1000.0)
    outbox.enqueue(Notification((), 1000.0 + 2 * DAY, "h"), [])  # no sink: no delivery
    assert outbox.prune(1000.0 + 2 * DAY, DAY, DAY) == 1203
    assert stored(tmp_path / "state.db") == ([], [1204])
    outbox.close()


def test_the_dispatcher_prunes_at_its_first_tick_then_hourly(tmp_path: Path) -> None:
    start = 1_800_000_000.0
    outbox_with_every_state(tmp_path / "state.db", at=start).close()
    clock = FakeClock(start + 2 * DAY)
    config = alerts_config(delivery={"keep_delivered_seconds": DAY,
                                     "keep_failed_seconds": 2 * DAY + 1800,
                                     "max_age_seconds": 30 * DAY})
    down = MemorySink()
    down.fail_next(100)  # "a" stays down: #4's delivery stays pending
    dispatcher = AlertDispatcher(config, Outbox(tmp_path / "state.db"),
                                 {"a": down, "b": MemorySink()}, clock, background=False)
    dispatcher.tick(clock.now)  # the first: delivered and dropped ones, a day old, go
    assert stored(tmp_path / "state.db") == ([(2, "a", FAILED), (4, "a", PENDING)], [2, 4])

    dispatcher.tick(clock.advance(2700))  # #2's failure is too old now, but the last
    assert stored(tmp_path / "state.db")[1] == [2, 4]  # pruning was only 45 minutes ago
    dispatcher.tick(clock.advance(PRUNE_SECONDS - 2700))
    assert stored(tmp_path / "state.db") == ([(4, "a", PENDING)], [4])
    dispatcher.close()


def test_a_tail_prunes_its_state_file_at_start(tmp_path: Path) -> None:
    """With the default retention, rows made by an earlier run (real time) 10 days ago are
    gone once a real tail has started on the file, except the failed and the pending ones;
    this week's stay."""
    now = time.time()
    state = tmp_path / "state.db"
    outbox = outbox_with_every_state(state, at=now - 10 * DAY)  # #1-#4
    recent = outbox.enqueue(Notification((), now - 3600, "h"), ["a", "b"])  # #5
    for delivery in outbox.deliveries_of(recent.number or 0):
        outbox.mark_delivered(delivery.id, now - 3600)
    outbox.close()
    config = FAST_TAIL + """
[alerts.delivery]
max_age_seconds = 2592000  # #4's pending delivery is not given up on
[alerts.sinks.a]
type = "webhook"
url = "${PRUNE_A_URL}"
[alerts.sinks.b]
type = "webhook"
url = "${PRUNE_A_URL}"
"""
    # nobody listens there: #4's pending delivery stays pending
    env = {"PRUNE_A_URL": "http://127.0.0.1:9/hook"}
    with TailService(tmp_path, config, env) as service:
        service.start()
        wait_until(lambda: stored(state)[1] == [2, 4, 5], "tail to prune the old notifications")
        deliveries, _ = stored(state)
        assert deliveries == [(2, "a", FAILED), (4, "a", PENDING), (5, "a", DELIVERED),
                              (5, "b", DELIVERED)]
        assert service.stop()[0] == 0


def test_a_state_file_from_before_retry_is_upgraded(tmp_path: Path) -> None:
    """A state file whose deliveries table predates ``retried_at`` gets the column when a
    writer opens it; a reader opening it read-only still lists it."""
    state = tmp_path / "state.db"
    db = sqlite3.connect(state)
    db.executescript("""
        CREATE TABLE alert_notifications (id INTEGER PRIMARY KEY, created_at REAL NOT NULL,
                                          body TEXT NOT NULL);
        CREATE TABLE alert_deliveries (id INTEGER PRIMARY KEY, notification_id INTEGER NOT NULL,
            sink TEXT NOT NULL, state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at REAL NOT NULL, last_attempt_at REAL, last_error TEXT, done_at REAL);
    """)
    db.execute("INSERT INTO alert_notifications VALUES (1, 1000, ?)",
               (Notification((), 1000.0, "h", id="x").to_json(),))
    db.execute("INSERT INTO alert_deliveries (notification_id, sink, state, next_attempt_at,"
               " done_at) VALUES (1, 'a', 'failed', 1000, 1000)")
    db.commit()
    db.close()
    listing = subprocess.run([sys.executable, "-m", "threadwatch", "alerts", "--state",
                              str(state)], capture_output=True, text=True, env=os.environ,
                             timeout=60, check=False)
    assert "#1 -> a            failed" in listing.stdout, listing.stderr
    outbox = Outbox(state)
    assert outbox.retry(1, 2000.0)
    assert outbox.expire(2000.0 + 10, 60) == 0  # its age counts from the retry
    assert outbox.expire(2000.0 + 61, 60) == 1
    assert outbox.drop(1, 2100.0)
    assert outbox.deliveries_of(1)[0].state == DROPPED
    outbox.close()
