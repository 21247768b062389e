"""Silences: an operator's "do not notify about this for a while", kept in the state file.

A silence matches alerts by scope (a glob, see ``scope_matches``) and, optionally, by rule
(a glob over the alert's rule: ``level`` or an event rule's name); it is active from its start
until its end. ``threadwatch silence add`` writes one, ``silence expire`` ends it now, and
``tail`` reads the active ones on its tick (``alerts/muting.py`` holds back what they match).

Tables (created if missing; the other tables of the file are ``outbox.py``'s and the tail
store's):

    alert_silences(id, scope, rule, starts_at, ends_at, created_by, comment, expired_by)
    alert_silenced(key, body, silenced_by, since, updated_at)
        the alerts a silence holds back now (their last held-back state, JSON) and which
        silences match them (a JSON list of ids): what ``threadwatch alerts`` shows

Every transaction is one short statement or two, so ``silence add`` writes while ``tail``
runs (WAL; a busy timeout covers ``tail``'s own short writes). A silence ended more than
``KEEP_ENDED_DAYS`` ago is deleted by the next ``silence add``.
"""

from __future__ import annotations

import getpass
import json
import os
import re
import secrets
import socket
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from threadwatch.alerts.model import Alert, Notification, iso_time
from threadwatch.errors import OutboxError, SilenceError, ThreadwatchError
from threadwatch.statefile import (
    make_state_folder,
    name_column,
    open_read_only,
    open_sqlite,
    stand_in_tables,
)

KEEP_ENDED_DAYS = 30.0
MAX_DURATION_SECONDS = 366 * 86400.0  # a year and a day: longer is a mistake, not a silence
_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_DURATION = re.compile(r"(\d+)([smhd])")
_ID_BYTES = 4  # 8 hex digits: short to type, and checked unique when made

_SCHEMA = """
CREATE TABLE IF NOT EXISTS alert_silences (
    id TEXT PRIMARY KEY,
    scope TEXT NOT NULL,
    rule TEXT,
    starts_at REAL NOT NULL,
    ends_at REAL NOT NULL,
    created_by TEXT NOT NULL,
    comment TEXT NOT NULL,
    expired_by TEXT
);
CREATE INDEX IF NOT EXISTS alert_silences_ends ON alert_silences(ends_at);
CREATE TABLE IF NOT EXISTS alert_silenced (
    key TEXT PRIMARY KEY,
    body TEXT NOT NULL,
    silenced_by TEXT NOT NULL,
    since REAL NOT NULL,
    updated_at REAL NOT NULL
);
"""


def parse_duration(text: str) -> float:
    """Seconds in ``text``: a number and a unit (``90s``, ``30m``, ``2h``, ``1d``), or several
    (``1h30m``); more than zero and at most a year.

    Raises:
        SilenceError: it is none of these.
    """
    spelled = text.strip().lower()
    parts = _DURATION.findall(spelled)
    if not spelled or "".join(number + unit for number, unit in parts) != spelled:
        raise SilenceError(f"bad duration {text!r}: expected e.g. 90s, 30m, 2h, 1d or 1h30m")
    seconds = sum(int(number) * _UNITS[unit] for number, unit in parts)
    if seconds <= 0:
        raise SilenceError(f"bad duration {text!r}: must be more than zero")
    if seconds > MAX_DURATION_SECONDS:
        raise SilenceError(f"bad duration {text!r}: at most 366d")
    return seconds


def check_glob(glob: str, what: str = "scope") -> str:
    """``glob`` if it is a usable fnmatch pattern (``*``, ``?``, ``[...]``).

    Raises:
        SilenceError: it is empty, holds a control character, or has a ``[`` never closed.
    """
    if not glob.strip():
        raise SilenceError(f"bad {what} glob: empty")
    if any(ord(char) < 32 or ord(char) == 127 for char in glob):
        raise SilenceError(f"bad {what} glob {glob!r}: holds a control character")
    rest = glob
    while "[" in rest:
        rest = rest[rest.index("[") + 1:]
        # as fnmatch reads it: a leading ! or ] is part of the set, not its end
        body = rest[1:] if rest[:1] == "!" else rest
        if "]" not in body[1:]:
            raise SilenceError(f"bad {what} glob {glob!r}: '[' is never closed")
        rest = body[body.index("]", 1) + 1:]
    return glob


def scope_matches(glob: str, scope: str) -> bool:
    """Whether the scope glob ``glob`` matches ``scope`` (a source path, or ``total``).

    A glob without ``/`` matches the scope's last part, the file name (``*.log``,
    ``tmp_batt_*``, ``total``). A glob with ``/`` matches the whole path; a relative one also
    matches its end at a ``/`` (``host1/*.log`` matches ``/var/log/batt/host1/a.log``). As in
    fnmatch, ``*`` in a glob with ``/`` also matches ``/``. Case counts.
    """
    if "/" not in glob:
        return fnmatchcase(scope.rsplit("/", 1)[-1], glob)
    if fnmatchcase(scope, glob):
        return True
    return not glob.startswith("/") and fnmatchcase(scope, f"*/{glob}")


@dataclass(frozen=True)
class Silence:
    """One silence.

    Attributes:
        id: short and unique in its state file (8 hex digits).
        scope: the scope glob (``scope_matches``).
        rule: a glob over the alert's rule (``level``, an event rule's name); None: any rule.
        starts_at: when it began (seconds since the epoch).
        ends_at: when it ends, or ended (``silence expire`` sets it to that moment).
        created_by: ``user@host`` of whoever made it.
        comment: why (may be empty).
        expired_by: ``user@host`` of whoever ended it early, else None.
    """

    id: str
    scope: str
    rule: str | None
    starts_at: float
    ends_at: float
    created_by: str
    comment: str
    expired_by: str | None = None

    def active(self, now: float) -> bool:
        return self.starts_at <= now < self.ends_at

    def matches(self, alert: Alert) -> bool:
        """Whether this silence covers ``alert`` (when it is active)."""
        if self.rule is not None and not fnmatchcase(alert.rule, self.rule):
            return False
        return scope_matches(self.scope, alert.scope)

    def as_dict(self, now: float) -> dict[str, Any]:
        return {
            "id": self.id, "scope": self.scope, "rule": self.rule,
            "starts_at": iso_time(self.starts_at), "ends_at": iso_time(self.ends_at),
            "starts_at_epoch": self.starts_at, "ends_at_epoch": self.ends_at,
            "active": self.active(now), "seconds_left": max(0.0, self.ends_at - now),
            "created_by": self.created_by, "comment": self.comment,
            "expired_by": self.expired_by,
        }


@dataclass(frozen=True)
class SilencedAlert:
    """An alert a silence holds back: its last held-back state, which silences match it,
    since when; ``sent_before``: its firing was sent before the silence began (only its
    repeats are held back)."""

    alert: Alert
    silenced_by: tuple[str, ...]
    since: float
    updated_at: float
    sent_before: bool = False


def _silence(row: Sequence[Any]) -> Silence:
    return Silence(str(row[0]), str(row[1]), None if row[2] is None else str(row[2]),
                   float(row[3]), float(row[4]), str(row[5]), str(row[6]),
                   None if row[7] is None else str(row[7]))


_COLUMNS = "id, scope, rule, starts_at, ends_at, created_by, comment, expired_by"


class SilenceStore:
    """The silence tables of a state file.

    Args:
        path: the SQLite state file (it and its folder are made if missing, unless
            ``read_only``).
        busy_timeout_seconds: how long a write waits for another process's (``tail``'s) lock.
        read_only: only read (``silence list``, ``threadwatch alerts``): nothing is written
            to the file or made beside it; a file without silence tables reads as none.
        warn: say on the log when a read-only open reads without the write-ahead log.

    Raises:
        OutboxError: from the constructor and every method, when SQLite fails.
    """

    def __init__(self, path: str | Path, busy_timeout_seconds: float = 5.0, *,
                 read_only: bool = False, warn: bool = True) -> None:
        self._path = Path(path)

        def prepare(db: sqlite3.Connection) -> None:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(f"PRAGMA busy_timeout={int(busy_timeout_seconds * 1000)}")
            db.executescript(_SCHEMA)

        try:
            # used by one thread at a time, not always the one that opened it (tail)
            if read_only:
                self._db = open_read_only(self._path, stand_in_tables(_SCHEMA), warn=warn,
                                          timeout=busy_timeout_seconds, isolation_level=None,
                                          check_same_thread=False)
            else:
                make_state_folder(self._path)
                self._db = open_sqlite(self._path, prepare, timeout=busy_timeout_seconds,
                                       isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise OutboxError(f"cannot open silences in {path}: {exc}") from exc

    @contextmanager
    def _using(self, action: str, write: bool = False) -> Iterator[sqlite3.Connection]:
        try:
            if write:
                with self._db:  # BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on error
                    self._db.execute("BEGIN IMMEDIATE")
                    yield self._db
            else:
                yield self._db
        except sqlite3.Error as exc:
            raise OutboxError(f"cannot {action} silences in {self._path}: {exc}") from exc

    def close(self) -> None:
        self._db.close()

    # -- silences ---------------------------------------------------------------------------

    def add(self, scope: str, *, rule: str | None, seconds: float, created_by: str,
            comment: str, now: float) -> Silence:
        """A new silence of ``scope`` (and ``rule``) from ``now`` for ``seconds``; silences
        ended more than ``KEEP_ENDED_DAYS`` ago are deleted in the same transaction.

        Raises:
            SilenceError: a glob is bad or the duration is not positive.
            OutboxError: it cannot be stored.
        """
        check_glob(scope)
        if rule is not None:
            check_glob(rule, "rule")
        if not 0 < seconds <= MAX_DURATION_SECONDS:
            raise SilenceError(f"bad duration: {seconds:g} s")
        with self._using("write", write=True) as db:
            db.execute("DELETE FROM alert_silences WHERE ends_at < ?",
                       (now - KEEP_ENDED_DAYS * 86400.0,))
            while True:
                silence = Silence(secrets.token_hex(_ID_BYTES), scope, rule, now,
                                  now + seconds, created_by, comment)
                try:
                    db.execute(f"INSERT INTO alert_silences ({_COLUMNS})"
                               " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                               (silence.id, scope, rule, now, silence.ends_at, created_by,
                                comment, None))
                except sqlite3.IntegrityError:  # that id is taken: draw another
                    continue
                return silence

    def expire(self, silence_id: str, expired_by: str, now: float) -> tuple[Silence, bool]:
        """End silence ``silence_id`` at ``now``; return it, and whether it was still active
        (ending an ended one changes nothing).

        Raises:
            SilenceError: no silence has that id.
            OutboxError: it cannot be written.
        """
        with self._using("write", write=True) as db:
            row = db.execute(f"SELECT {_COLUMNS} FROM alert_silences WHERE id = ?",
                             (silence_id.strip().lower(),)).fetchone()
            if row is None:
                raise SilenceError(f"no silence {silence_id!r} (see: threadwatch silence list"
                                   " --all)")
            silence = _silence(row)
            if not silence.active(now):
                return silence, False
            db.execute("UPDATE alert_silences SET ends_at = ?, expired_by = ? WHERE id = ?",
                       (now, expired_by, silence.id))
        return Silence(silence.id, silence.scope, silence.rule, silence.starts_at, now,
                       silence.created_by, silence.comment, expired_by), True

    def silences(self, now: float, *, ended: bool = False) -> list[Silence]:
        """The silences active at ``now`` (and ``ended`` ones too), ending soonest first."""
        where = "" if ended else "WHERE ends_at > ? AND starts_at <= ? "
        params = () if ended else (now, now)
        with self._using("read") as db:
            rows = db.execute(f"SELECT {_COLUMNS} FROM alert_silences {where}"
                              "ORDER BY ends_at, id", params).fetchall()
        return [_silence(row) for row in rows]

    # -- the alerts they hold back ----------------------------------------------------------

    def hold(self, alerts: Iterable[tuple[Alert, Sequence[str]]], now: float) -> None:
        """Record each alert as held back by the silences named with it (its ``since`` is
        kept if it was held already)."""
        rows = [(name_column(alert.key), Notification((alert,), now, "").to_json(),
                 json.dumps(list(ids)),
                 now, now) for alert, ids in alerts]
        if not rows:
            return
        with self._using("write", write=True) as db:
            db.executemany(
                "INSERT INTO alert_silenced (key, body, silenced_by, since, updated_at)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET body = excluded.body,"
                " silenced_by = excluded.silenced_by, updated_at = excluded.updated_at", rows)

    def release(self, keys: Iterable[str]) -> None:
        """The alerts of ``keys`` are held back no more."""
        rows = [(name_column(key),) for key in keys]
        if rows:
            with self._using("write", write=True) as db:
                db.executemany("DELETE FROM alert_silenced WHERE key = ?", rows)

    def held(self) -> list[SilencedAlert]:
        """The alerts held back now, by key."""
        with self._using("read") as db:
            rows = db.execute("SELECT body, silenced_by, since, updated_at FROM alert_silenced"
                              " ORDER BY key").fetchall()
        return [SilencedAlert(Notification.from_json(body).alerts[0],
                              tuple(str(one) for one in json.loads(ids)), float(since),
                              float(updated)) for body, ids, since, updated in rows]


def user_at_host() -> str:
    """``user@host`` of this process, for ``created_by`` and ``expired_by``."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no login name and no passwd entry (a bare container)
        user = str(os.getuid())
    return f"{user}@{socket.gethostname()}"


def read_silences(state_path: str | Path, now: float, *, ended: bool = False,
                  missing_ok: bool = False) -> list[Silence]:
    """The silences of the state file active at ``now`` (and ended ones too, if ``ended``);
    the file is only read.

    Raises:
        ThreadwatchError: the file does not exist (unless ``missing_ok``: none) or cannot be
            read.
    """
    path = Path(state_path)
    if not path.exists():
        if missing_ok:
            return []
        raise ThreadwatchError(f"no state file at {path}")
    if not path.is_file():
        raise ThreadwatchError(f"{path} is not a state file")
    store = SilenceStore(path, read_only=True)
    try:
        return store.silences(now, ended=ended)
    finally:
        store.close()


def time_left(seconds: float) -> str:
    """``seconds`` in the two largest units, cut down as the smaller units are: ``1d2h``,
    ``1h59m`` (a 2h silence a moment after it began), ``4m10s``, ``9s``."""
    whole = max(0, int(seconds))
    parts = [(whole // 86400, "d"), (whole % 86400 // 3600, "h"), (whole % 3600 // 60, "m"),
             (whole % 60, "s")]
    while len(parts) > 1 and parts[0][0] == 0:
        parts.pop(0)
    return "".join(f"{number}{unit}" for number, unit in parts[:2])


def format_silences(silences: Sequence[Silence], now: float) -> list[str]:
    """A table, one silence a line: id, scope, rule, end, time left, who, comment."""
    if not silences:
        return ["(no silences)"]
    rows = [("ID", "SCOPE", "RULE", "ENDS", "LEFT", "BY", "COMMENT")]
    for silence in silences:
        left = time_left(silence.ends_at - now) if silence.active(now) else (
            f"expired by {silence.expired_by}" if silence.expired_by else "ended")
        rows.append((silence.id, silence.scope, silence.rule or "*",
                     iso_time(silence.ends_at)[:19] + "Z", left, silence.created_by,
                     silence.comment))
    widths = [max(len(row[column]) for row in rows) for column in range(6)]
    return [("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False))
            + "  " + row[6]).rstrip() for row in rows]
