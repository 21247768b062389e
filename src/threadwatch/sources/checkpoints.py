"""Checkpoints in the state file: how far ``tail`` has read each followed file content.

A checkpoint names a file by device+inode and a fingerprint of its first bytes (see
``sources/identity.py``) and says how far its events have been processed. When a file's content
is replaced (truncation, ``tee`` rewriting it, inode reuse) its checkpoint is *retired* rather
than deleted: a copy of that content (``copytruncate`` rotation) is then recognised and resumed
where the original stopped. Retired checkpoints expire after ``RETIRED_DAYS``.

The same file keeps the health window of each source (``window_state``, saved in the same
transaction as the checkpoints: see ``health/window.py``) and the alert outbox
(``alerts/outbox.py``).

SQLite runs in WAL mode with ``synchronous=NORMAL``: a commit survives a killed process (the
crash ``tail`` must survive), and other processes may read the file while ``tail`` writes it.
Opening, locking and read-only access of the file are ``statefile.py``'s.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from threadwatch.errors import StateError
from threadwatch.logs import TAIL_LOGGER, get_logger
from threadwatch.sources.identity import FileId, Fingerprint
from threadwatch.statefile import make_state_folder, name_column, name_from_column, open_sqlite

logger = get_logger(TAIL_LOGGER)

RETIRED_DAYS = 7.0
LIVE_DAYS = 90.0
_DAY = 86400.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS checkpoints (
    id INTEGER PRIMARY KEY,
    device INTEGER NOT NULL,
    inode INTEGER NOT NULL,
    fp_length INTEGER NOT NULL,
    fp_digest BLOB NOT NULL,
    path TEXT NOT NULL,
    offset INTEGER NOT NULL,
    live INTEGER NOT NULL,
    updated REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS checkpoints_inode ON checkpoints (device, inode);
CREATE TABLE IF NOT EXISTS window_state (
    source TEXT PRIMARY KEY,
    body TEXT NOT NULL,
    updated REAL NOT NULL
);
"""
BUSY_TIMEOUT_SECONDS = 2.0  # another process's write lock: wait this long, then retry later


@dataclass
class Checkpoint:
    """How far one file content has been processed.

    Attributes:
        file_id: device and inode of the file holding (or that held) the content.
        fingerprint: the content's first bytes.
        path: where the file was when last seen.
        offset: every complete line before this byte has been processed.
        live: False once the content was replaced or the file released.
        row: the row in the state file (None until first saved).
        dirty: changed since last saved.
    """

    file_id: FileId
    fingerprint: Fingerprint
    path: str
    offset: int
    live: bool = True
    row: int | None = None
    dirty: bool = True

    def move_to(self, offset: int) -> None:
        if offset != self.offset:
            self.offset = offset
            self.dirty = True

    def retire(self) -> None:
        self.live = False
        self.dirty = True


class StateStore:
    """The checkpoints and health windows of one state file.

    Opening it tries a write (and rolls it back): a state file ``tail`` cannot write (read-only,
    or locked by another process for longer than the busy timeout) is said at start-up, not
    at the first checkpoint.

    Args:
        path: the SQLite file (its folder is created if missing).
        busy_timeout_seconds: how long a write waits for another process's lock.

    Raises:
        StateError: it cannot be created, opened, written or is not a threadwatch state file.
    """

    def __init__(self, path: str | Path,
                 busy_timeout_seconds: float = BUSY_TIMEOUT_SECONDS) -> None:
        self.path = Path(path)
        make_state_folder(self.path)
        try:
            # used by one thread at a time, but not always the one that opened it
            self._db = open_sqlite(self.path, _prepare, isolation_level=None,
                                   check_same_thread=False, timeout=busy_timeout_seconds)
        except (OSError, sqlite3.Error) as exc:
            raise StateError(f"cannot use state file {self.path}: {exc}") from exc

    def load(self, now: float | None = None) -> list[Checkpoint]:
        """Every checkpoint still worth keeping (expired ones are deleted first)."""
        now = time.time() if now is None else now
        try:
            self._db.execute(
                "DELETE FROM checkpoints WHERE (live = 0 AND updated < ?) OR updated < ?",
                (now - RETIRED_DAYS * _DAY, now - LIVE_DAYS * _DAY),
            )
            rows = self._db.execute(
                "SELECT id, device, inode, fp_length, fp_digest, path, offset, live"
                " FROM checkpoints ORDER BY updated"
            ).fetchall()
        except sqlite3.Error as exc:
            raise StateError(f"cannot read state file {self.path}: {exc}") from exc
        return [
            Checkpoint(FileId(device, inode), Fingerprint(length, bytes(digest)),
                       name_from_column(path), offset, bool(live), row, dirty=False)
            for row, device, inode, length, digest, path, offset, live in rows
        ]

    def load_windows(self) -> dict[str, str]:
        """The saved health window of each source (see ``health/window.py``)."""
        try:
            rows = self._db.execute("SELECT source, body FROM window_state").fetchall()
        except sqlite3.Error as exc:
            raise StateError(f"cannot read state file {self.path}: {exc}") from exc
        return {name_from_column(source): str(body) for source, body in rows}

    def save(self, checkpoints: Iterable[Checkpoint], now: float | None = None,
             windows: Mapping[str, str | None] | None = None) -> None:
        """Write the dirty checkpoints and the ``windows`` given (source → saved window; None
        deletes it) in one transaction: a window always matches its checkpoints.

        Raises:
            StateError: the write failed (locked past the busy timeout, disk full, file
                removed, ...); nothing was written and the checkpoints stay dirty.
        """
        dirty = [checkpoint for checkpoint in checkpoints if checkpoint.dirty]
        if not dirty and not windows:
            return
        now = time.time() if now is None else now
        try:
            # the connection's own block: COMMIT, or ROLLBACK if SQLite has not ended the
            # transaction itself (it does when the file is full: its error is the one to say)
            with self._db:
                self._db.execute("BEGIN")
                for checkpoint in dirty:
                    self._write(checkpoint, now)
                for source, body in (windows or {}).items():
                    self._write_window(source, body, now)
        except sqlite3.Error as exc:
            raise StateError(f"cannot write state file {self.path}: {exc}") from exc
        for checkpoint in dirty:
            checkpoint.dirty = False

    def forget(self, checkpoint: Checkpoint) -> None:
        """Delete a checkpoint that can never be useful again."""
        if checkpoint.row is not None:
            try:
                self._db.execute("DELETE FROM checkpoints WHERE id = ?", (checkpoint.row,))
            except sqlite3.Error as exc:
                raise StateError(f"cannot write state file {self.path}: {exc}") from exc

    def close(self) -> None:
        self._db.close()

    def _write(self, checkpoint: Checkpoint, now: float) -> None:
        values = (
            checkpoint.file_id.device, checkpoint.file_id.inode, checkpoint.fingerprint.length,
            checkpoint.fingerprint.digest, name_column(checkpoint.path), checkpoint.offset,
            int(checkpoint.live), now,
        )
        if checkpoint.row is None:
            cursor = self._db.execute(
                "INSERT INTO checkpoints (device, inode, fp_length, fp_digest, path, offset,"
                " live, updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                values,
            )
            checkpoint.row = cursor.lastrowid
        else:
            self._db.execute(
                "UPDATE checkpoints SET device = ?, inode = ?, fp_length = ?, fp_digest = ?,"
                " path = ?, offset = ?, live = ?, updated = ? WHERE id = ?",
                (*values, checkpoint.row),
            )

    def _write_window(self, source: str, body: str | None, now: float) -> None:
        if body is None:
            self._db.execute("DELETE FROM window_state WHERE source = ?", (name_column(source),))
        else:
            self._db.execute(
                "INSERT OR REPLACE INTO window_state (source, body, updated) VALUES (?, ?, ?)",
                (name_column(source), body, now))



def _prepare(db: sqlite3.Connection) -> None:
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.executescript(_SCHEMA)
    # A read-only file (or folder) accepts all of the above when the tables exist already;
    # a write that changes nothing is refused the way a checkpoint would be.
    db.execute("BEGIN IMMEDIATE")
    db.execute("DELETE FROM checkpoints WHERE 0")
    db.execute("ROLLBACK")

