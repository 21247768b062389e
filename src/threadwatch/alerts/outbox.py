"""The durable outbox: notifications are written to the SQLite state file before any attempt
to send them, one delivery row per sink, and leave it only as *delivered* or *failed*.

Tables (created if missing; other parts of threadwatch keep their own tables in the same file):

    alert_notifications(id, created_at, body)          every notification made (JSON body)
    alert_deliveries(id, notification_id, sink, state, attempts, next_attempt_at,
                     last_attempt_at, last_error, done_at, retried_at)
                     state: pending|delivered|failed|dropped
    alert_active(key, body, sent_at)                   firing alerts, to resume after a restart
    alert_group(id, opened_at, body)                   the group still in ``group_wait`` (one row)
    alert_inhibited(key, body, inhibited_by, since)    firing alerts not sent (``inhibit.py``)
    alert_routed(key, sink)                            which sink was told of which firing alert

The group is saved whenever it changes, before the checkpoints of the lines that made it are
(the dispatcher hears of lines before ``tail`` saves their checkpoints), so a ``kill -9`` inside
``group_wait`` loses nothing: the next run sends it. ``enqueue`` clears it in the same
transaction that stores the notification it became.

Rows are delivered first-in first-out per sink, so a sink sees an alert's *firing* before its
*resolved*. Delivery is at least once: a crash between a receiver's acceptance and the
``delivered`` mark sends that one notification again after the restart.

By hand (``threadwatch alerts retry|drop``, another process while ``tail`` runs): ``retry``
makes a pending or failed delivery pending and due now, and its age for ``max_age_seconds``
counts from then (``retried_at``); ``drop`` marks one *dropped*, never to be attempted. The
sender's marks apply to pending rows only (a drop during an attempt stays a drop, unless the
receiver took it: then it is *delivered*, which is what happened). ``prune`` deletes what is
done with after the configured ages, never a pending row, in short transactions.

One connection, shared by the dispatcher's thread and the sender threads (one per sink,
``sender.py``) under a lock: every statement is short, and WAL mode plus a busy timeout let
other processes (``threadwatch alerts``, the tail store) read and write the same file meanwhile.

Every public method translates ``sqlite3.Error`` (``database is locked`` once the busy timeout
has passed, disk full, a removed file) into ``OutboxError`` raised ``from`` it; a failed write
is rolled back, so the outbox is never left half-written.
"""

from __future__ import annotations

import dataclasses
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from threadwatch.alerts.inhibit import Inhibited
from threadwatch.alerts.model import Alert, Notification, Status, new_notification_id
from threadwatch.errors import OutboxError
from threadwatch.statefile import (
    name_column,
    name_from_column,
    open_read_only,
    open_sqlite,
    stand_in_tables,
)

PENDING, DELIVERED, FAILED, DROPPED = "pending", "delivered", "failed", "dropped"
_PRUNE_BATCH = 500  # rows per transaction: another writer never waits long for the file

_SCHEMA = """
CREATE TABLE IF NOT EXISTS alert_notifications (
    id INTEGER PRIMARY KEY,
    created_at REAL NOT NULL,
    body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS alert_deliveries (
    id INTEGER PRIMARY KEY,
    notification_id INTEGER NOT NULL REFERENCES alert_notifications(id),
    sink TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL,
    last_attempt_at REAL,
    last_error TEXT,
    done_at REAL,
    retried_at REAL
);
CREATE INDEX IF NOT EXISTS alert_deliveries_queue ON alert_deliveries(state, sink, id);
CREATE TABLE IF NOT EXISTS alert_active (
    key TEXT PRIMARY KEY,
    body TEXT NOT NULL,
    sent_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS alert_group (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    opened_at REAL NOT NULL,
    body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS alert_inhibited (
    key TEXT PRIMARY KEY,
    body TEXT NOT NULL,
    inhibited_by TEXT NOT NULL,
    since REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS alert_routed (
    key TEXT NOT NULL,
    sink TEXT NOT NULL,
    PRIMARY KEY (key, sink)
);
"""


@dataclass(frozen=True)
class Delivery:
    """One notification's delivery to one sink."""

    id: int
    notification: Notification
    sink: str
    state: str
    attempts: int
    next_attempt_at: float
    last_attempt_at: float | None
    last_error: str | None
    done_at: float | None


class Outbox:
    """The alert tables of a state file.

    Args:
        path: the SQLite state file (created if missing, unless ``read_only``).
        busy_timeout_seconds: how long to wait for another writer's lock.
        read_only: only read (``threadwatch alerts``): the file is opened read-only and
            nothing is written to it or made beside it (see ``statefile.open_read_only``); a
            state file without alert tables reads as an empty outbox.

    Raises:
        OutboxError: from the constructor and every method, when SQLite fails.
    """

    def __init__(self, path: str | Path, busy_timeout_seconds: float = 5.0, *,
                 read_only: bool = False) -> None:
        self._lock = threading.Lock()
        self._path = str(path)
        def prepare(db: sqlite3.Connection) -> None:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(f"PRAGMA busy_timeout={int(busy_timeout_seconds * 1000)}")
            db.executescript(_SCHEMA)
            columns = {row[1] for row in db.execute("PRAGMA table_info(alert_deliveries)")}
            if "retried_at" not in columns:  # a state file from before retry
                db.execute("ALTER TABLE alert_deliveries ADD COLUMN retried_at REAL")

        try:
            # The sender threads use this connection too; the lock serialises all use.
            # (closed again when preparing it fails)
            if read_only:
                self._db = open_read_only(Path(path), stand_in_tables(_SCHEMA),
                                          timeout=busy_timeout_seconds,
                                          check_same_thread=False, isolation_level=None)
            else:
                self._db = open_sqlite(Path(path), prepare, timeout=busy_timeout_seconds,
                                       check_same_thread=False, isolation_level=None)
        except sqlite3.Error as exc:
            raise OutboxError(f"cannot open alert state {path}: {exc}") from exc

    @contextmanager
    def _using(self, action: str) -> Iterator[sqlite3.Connection]:
        """Hold the lock; translate SQLite's errors into ``OutboxError`` naming ``action``."""
        with self._lock:
            try:
                yield self._db
            except sqlite3.Error as exc:
                raise OutboxError(f"cannot {action} alert state {self._path}: {exc}") from exc

    def close(self) -> None:
        with self._using("close"):
            self._db.close()

    # -- writing --------------------------------------------------------------------------

    def enqueue(self, notification: Notification, sinks: Iterable[str]) -> Notification:
        """Store a notification and one pending delivery per sink, and clear the saved group
        (it became this notification); return it with its id (a new UUID unless it has one)
        and number.

        Raises:
            OutboxError: it could not be stored (nothing was: the transaction is rolled back).
        """
        return self.enqueue_routed([(notification, tuple(sinks))])[0]

    def enqueue_routed(self, routes: Sequence[tuple[Notification, Sequence[str]]]
                       ) -> list[Notification]:
        """``enqueue`` for the parts of one group split by sink (``routing.py``), in one
        transaction: each notification with a delivery per sink of its own; which sink was
        told of which firing alert is remembered (``alert_routed``).

        Raises:
            OutboxError: nothing was stored (the transaction is rolled back).
        """
        stored = []
        with self._using("write"), self._db:
            self._db.execute("BEGIN IMMEDIATE")
            for given, sinks in routes:
                notification = given if given.id is not None else dataclasses.replace(
                    given, id=new_notification_id())
                cursor = self._db.execute(
                    "INSERT INTO alert_notifications (created_at, body) VALUES (?, ?)",
                    (notification.created_at, notification.to_json()))
                stored.append(dataclasses.replace(notification, number=cursor.lastrowid))
                self._db.executemany(
                    "INSERT INTO alert_deliveries (notification_id, sink, state,"
                    " next_attempt_at) VALUES (?, ?, ?, ?)",
                    [(cursor.lastrowid, sink, PENDING, notification.created_at)
                     for sink in sinks])
                for alert in notification.alerts:
                    self._remember(alert, notification.created_at)
                    self._route(alert, sinks)
            self._db.execute("DELETE FROM alert_group")
        return stored

    def _route(self, alert: Alert, sinks: Sequence[str]) -> None:
        if alert.status is Status.RESOLVED:
            self._db.execute("DELETE FROM alert_routed WHERE key = ?",
                             (name_column(alert.key),))
        else:
            self._db.executemany("INSERT OR IGNORE INTO alert_routed (key, sink) VALUES (?, ?)",
                                 [(name_column(alert.key), sink) for sink in sinks])

    def save_inhibited(self, held: Sequence[Inhibited]) -> None:
        """Replace the saved inhibited alerts.

        Raises:
            OutboxError: they could not be saved (the previous ones are kept).
        """
        with self._using("write"), self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute("DELETE FROM alert_inhibited")
            self._db.executemany(
                "INSERT INTO alert_inhibited (key, body, inhibited_by, since) VALUES (?, ?, ?, ?)",
                [(name_column(entry.alert.key),
                  Notification((entry.alert,), entry.since, "").to_json(),
                  name_column(entry.by), entry.since) for entry in held])

    def save_group(self, alerts: Sequence[Alert], opened_at: float) -> None:
        """Replace the saved group (none if ``alerts`` is empty).

        Raises:
            OutboxError: it could not be saved (the previous one is kept).
        """
        with self._using("write"), self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute("DELETE FROM alert_group")
            if alerts:
                body = Notification(tuple(alerts), opened_at, "").to_json()
                self._db.execute("INSERT INTO alert_group (id, opened_at, body) VALUES (1, ?, ?)",
                                 (opened_at, body))

    def _remember(self, alert: Alert, sent_at: float) -> None:
        if alert.status.value == "resolved":
            self._db.execute("DELETE FROM alert_active WHERE key = ?", (name_column(alert.key),))
        else:
            body = Notification((alert,), sent_at, "").to_json()
            self._db.execute(
                "INSERT OR REPLACE INTO alert_active (key, body, sent_at) VALUES (?, ?, ?)",
                (name_column(alert.key), body, sent_at))

    def mark_delivered(self, delivery_id: int, now: float) -> None:
        # dropped while the attempt was in flight: the receiver has it all the same
        self._set(delivery_id, DELIVERED, now, None, done_at=now, was=(PENDING, DROPPED))

    def mark_retry(self, delivery_id: int, now: float, next_attempt_at: float,
                   error: str) -> None:
        self._set(delivery_id, PENDING, now, error, done_at=None,
                  next_attempt_at=next_attempt_at)

    def mark_failed(self, delivery_id: int, now: float, error: str) -> None:
        self._set(delivery_id, FAILED, now, error, done_at=now)

    def _set(self, delivery_id: int, state: str, now: float, error: str | None, *,
             done_at: float | None, next_attempt_at: float | None = None,
             was: tuple[str, ...] = (PENDING,)) -> None:
        """Record an attempt's outcome, if the row is still in a state of ``was`` (a drop by
        hand while the attempt was in flight is not undone by a retry mark)."""
        with self._using("write"), self._db:
            self._db.execute(
                "UPDATE alert_deliveries SET state = ?, attempts = attempts + 1,"
                " last_attempt_at = ?, last_error = ?, done_at = ?,"
                " next_attempt_at = COALESCE(?, next_attempt_at)"
                f" WHERE id = ? AND state IN ({', '.join('?' * len(was))})",
                (state, now, error, done_at, next_attempt_at, delivery_id, *was))

    def expire(self, now: float, max_age_seconds: float, sink: str | None = None) -> int:
        """Mark deliveries (of ``sink``, or all) pending for longer than ``max_age_seconds``
        (since their notification was made, or since they were last retried by hand) failed;
        return how many."""
        with self._using("write"), self._db:
            cursor = self._db.execute(
                "UPDATE alert_deliveries SET state = ?, done_at = ?,"
                " last_error = COALESCE(last_error || '; ', '') || 'gave up: too old'"
                " WHERE state = ? AND (? IS NULL OR sink = ?) AND COALESCE(retried_at,"
                " (SELECT created_at FROM alert_notifications n WHERE n.id = notification_id))"
                " <= ?",
                (FAILED, now, PENDING, sink, sink, now - max_age_seconds))
            return cursor.rowcount

    def retry(self, delivery_id: int, now: float) -> bool:
        """Make a pending or failed delivery pending and due at ``now``, with a new
        ``max_age_seconds`` from ``now``; return whether it was pending or failed."""
        with self._using("write"), self._db:
            cursor = self._db.execute(
                "UPDATE alert_deliveries SET state = ?, next_attempt_at = ?, retried_at = ?,"
                " done_at = NULL WHERE id = ? AND state IN (?, ?)",
                (PENDING, now, now, delivery_id, PENDING, FAILED))
            return cursor.rowcount == 1

    def drop(self, delivery_id: int, now: float) -> bool:
        """Mark a pending or failed delivery dropped (never attempted again); return whether
        it was pending or failed."""
        with self._using("write"), self._db:
            cursor = self._db.execute(
                "UPDATE alert_deliveries SET state = ?, done_at = ? WHERE id = ? AND state IN"
                " (?, ?)", (DROPPED, now, delivery_id, PENDING, FAILED))
            return cursor.rowcount == 1

    def prune(self, now: float, keep_done_seconds: float, keep_failed_seconds: float) -> int:
        """Delete delivered and dropped deliveries done more than ``keep_done_seconds`` ago,
        failed ones more than ``keep_failed_seconds`` ago, then the notifications left
        without a delivery that are older than the shorter; never a pending delivery. Each batch of
        rows is its own short transaction. Return how many deliveries were deleted."""
        deleted = 0
        for states, keep in (((DELIVERED, DROPPED), keep_done_seconds),
                             ((FAILED,), keep_failed_seconds)):
            marks = ", ".join("?" * len(states))
            while True:
                with self._using("write"), self._db:
                    cursor = self._db.execute(
                        "DELETE FROM alert_deliveries WHERE id IN (SELECT id FROM"
                        f" alert_deliveries WHERE state IN ({marks}) AND done_at <= ? LIMIT ?)",
                        (*states, now - keep, _PRUNE_BATCH))
                deleted += cursor.rowcount
                if cursor.rowcount < _PRUNE_BATCH:
                    break
        oldest_kept = now - min(keep_done_seconds, keep_failed_seconds)
        while True:
            with self._using("write"), self._db:
                cursor = self._db.execute(
                    "DELETE FROM alert_notifications WHERE id IN (SELECT n.id FROM"
                    " alert_notifications n WHERE n.created_at <= ? AND NOT EXISTS (SELECT 1"
                    " FROM alert_deliveries d WHERE d.notification_id = n.id) LIMIT ?)",
                    (oldest_kept, _PRUNE_BATCH))
            if cursor.rowcount < _PRUNE_BATCH:
                break
        return deleted

    # -- reading --------------------------------------------------------------------------

    def head(self, sink: str) -> Delivery | None:
        """The oldest pending delivery of ``sink`` (due or not), or None."""
        rows = self._select("WHERE d.state = ? AND d.sink = ? ORDER BY d.id LIMIT 1",
                            (PENDING, sink))
        return rows[0] if rows else None

    def deliveries(self, limit: int = 50, state: str | None = None) -> list[Delivery]:
        """The newest deliveries first (all states, or one)."""
        where = "WHERE d.state = ? " if state else ""
        params: tuple[object, ...] = (state, limit) if state else (limit,)
        return self._select(f"{where}ORDER BY d.id DESC LIMIT ?", params)

    def deliveries_of(self, number: int) -> list[Delivery]:
        """Notification ``number``'s deliveries, in the order of its sinks."""
        return self._select("WHERE n.id = ? ORDER BY d.id", (number,))

    def counts(self) -> dict[str, int]:
        """How many deliveries are pending, delivered, failed, and dropped (that key only
        once one is: the counts read as before for a state file nobody dropped from)."""
        with self._using("read"):
            rows = self._db.execute(
                "SELECT state, COUNT(*) FROM alert_deliveries GROUP BY state").fetchall()
        counts = dict.fromkeys((PENDING, DELIVERED, FAILED), 0)
        counts.update({str(state): int(n) for state, n in rows})
        return counts

    def waiting_by_sink(self) -> dict[str, dict[str, int]]:
        """Per sink, how many deliveries are pending and failed (sinks with none left out)."""
        with self._using("read"):
            rows = self._db.execute(
                "SELECT sink, state, COUNT(*) FROM alert_deliveries WHERE state IN (?, ?)"
                " GROUP BY sink, state", (PENDING, FAILED)).fetchall()
        found: dict[str, dict[str, int]] = {}
        for sink, state, n in rows:
            found.setdefault(str(sink), dict.fromkeys((PENDING, FAILED), 0))[str(state)] = int(n)
        return found

    def notifications(self, limit: int = 20) -> list[Notification]:
        """The newest notifications first."""
        with self._using("read"):
            rows = self._db.execute(
                "SELECT id, body FROM alert_notifications ORDER BY id DESC LIMIT ?",
                (limit,)).fetchall()
        return [Notification.from_json(body, int(row_id)) for row_id, body in rows]

    def active(self) -> list[tuple[Alert, float]]:
        """Alerts firing when last saved, with the time of their last notification."""
        with self._using("read"):
            rows = self._db.execute("SELECT body, sent_at FROM alert_active ORDER BY key")
            return [(Notification.from_json(body).alerts[0], float(sent_at))
                    for body, sent_at in rows.fetchall()]

    def inhibited(self) -> list[Inhibited]:
        """The firing alerts that are inhibited, as last saved (key order)."""
        with self._using("read"):
            rows = self._db.execute(
                "SELECT body, inhibited_by, since FROM alert_inhibited ORDER BY key").fetchall()
        return [Inhibited(Notification.from_json(body).alerts[0], name_from_column(by),
                          float(since)) for body, by, since in rows]

    def routed(self) -> dict[str, set[str]]:
        """Per sink, the keys of the firing alerts it was told of."""
        with self._using("read"):
            rows = self._db.execute("SELECT key, sink FROM alert_routed").fetchall()
        found: dict[str, set[str]] = {}
        for key, sink in rows:
            found.setdefault(str(sink), set()).add(name_from_column(key))
        return found

    def saved_group(self) -> tuple[list[Alert], float]:
        """The group saved by ``save_group`` and when it was opened (``[]`` if none)."""
        with self._using("read"):
            row = self._db.execute("SELECT body, opened_at FROM alert_group").fetchone()
        if row is None:
            return [], 0.0
        return list(Notification.from_json(row[0]).alerts), float(row[1])

    def _select(self, clause: str, params: tuple[object, ...]) -> list[Delivery]:
        with self._using("read"):
            rows = self._db.execute(
                "SELECT d.id, n.id, n.body, d.sink, d.state, d.attempts, d.next_attempt_at,"
                " d.last_attempt_at, d.last_error, d.done_at FROM alert_deliveries d"
                f" JOIN alert_notifications n ON n.id = d.notification_id {clause}",
                params).fetchall()
        return [
            Delivery(int(r[0]), Notification.from_json(r[2], int(r[1])), str(r[3]), str(r[4]),
                     int(r[5]), float(r[6]), r[7], r[8], r[9])
            for r in rows
        ]
