"""The SQLite state file: where ``tail`` keeps a checkpoint per followed file content.

A checkpoint names a file by device+inode and a fingerprint of its first bytes (see
``sources/identity.py``) and says how far its events have been processed. When a file's content
is replaced (truncation, ``tee`` rewriting it, inode reuse) its checkpoint is *retired* rather
than deleted: a copy of that content (``copytruncate`` rotation) is then recognised and resumed
where the original stopped. Retired checkpoints expire after ``RETIRED_DAYS``.

SQLite runs in WAL mode with ``synchronous=NORMAL``: a commit survives a killed process (the
crash ``tail`` must survive), and other processes may read the file while ``tail`` writes it.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from threadwatch.errors import StateError
from threadwatch.sources.identity import FileId, Fingerprint

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
"""


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


def default_state_path() -> Path:
    """``$XDG_STATE_HOME/threadwatch/state.db`` (``~/.local/state`` when the variable is unset)."""
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(Path.home(), ".local", "state")
    return Path(base) / "threadwatch" / "state.db"


def make_state_folder(path: str | Path) -> None:
    """Create the folder of the state file ``path`` and any missing parents, each with mode
    0o700 (as the XDG base directory spec asks); existing folders are left as they are.

    Raises:
        StateError: a folder cannot be created.
    """
    folder = Path(path).parent
    missing = []
    while not folder.is_dir():
        missing.append(folder)
        if folder.parent == folder:
            break
        folder = folder.parent
    try:
        for one in reversed(missing):
            one.mkdir(mode=0o700, exist_ok=True)
    except OSError as exc:
        raise StateError(f"cannot create the state folder of {path}: {exc}") from exc


def open_sqlite(path: Path, prepare: Callable[[sqlite3.Connection], None],
                **options: Any) -> sqlite3.Connection:
    """``sqlite3.connect(path, **options)`` then ``prepare(connection)``; when preparing fails
    the connection is closed before the error propagates (an unclosed connection is a
    ``ResourceWarning``, and holds a file descriptor, until it is collected)."""
    db: sqlite3.Connection = sqlite3.connect(path, **options)
    try:
        prepare(db)
    except BaseException:
        db.close()
        raise
    return db


class StateStore:
    """The checkpoints of one state file.

    Args:
        path: the SQLite file (its folder is created if missing).

    Raises:
        StateError: it cannot be created, opened or is not a threadwatch state file.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        make_state_folder(self.path)
        try:
            # used by one thread at a time, but not always the one that opened it
            self._db = open_sqlite(self.path, _prepare, isolation_level=None,
                                   check_same_thread=False)
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
            Checkpoint(FileId(device, inode), Fingerprint(length, bytes(digest)), path, offset,
                       bool(live), row, dirty=False)
            for row, device, inode, length, digest, path, offset, live in rows
        ]

    def save(self, checkpoints: Iterable[Checkpoint], now: float | None = None) -> None:
        """Write the dirty checkpoints in one transaction.

        Raises:
            StateError: the write failed (disk full, file removed, ...).
        """
        dirty = [checkpoint for checkpoint in checkpoints if checkpoint.dirty]
        if not dirty:
            return
        now = time.time() if now is None else now
        try:
            with self._transaction():
                for checkpoint in dirty:
                    self._write(checkpoint, now)
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

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)

    def _write(self, checkpoint: Checkpoint, now: float) -> None:
        values = (
            checkpoint.file_id.device, checkpoint.file_id.inode, checkpoint.fingerprint.length,
            checkpoint.fingerprint.digest, checkpoint.path, checkpoint.offset,
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


def _prepare(db: sqlite3.Connection) -> None:
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.executescript(_SCHEMA)


class _Transaction:
    """``BEGIN``/``COMMIT`` (``ROLLBACK`` on error) on an autocommit connection."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN")

    def __exit__(self, kind: object, error: object, trace: object) -> None:
        self._db.execute("COMMIT" if error is None else "ROLLBACK")
