"""The SQLite state file: where ``tail`` keeps a checkpoint per followed file content.

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
Only one ``tail`` may use a state file at a time (``StateLock``); readers (``threadwatch
alerts``) open it read-only (``open_read_only``) and change nothing, not even its folder.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from threadwatch.errors import StateError, StateInUseError
from threadwatch.sources.identity import FileId, Fingerprint
from threadwatch.sources.logs import logger

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


class StateLock:
    """The one ``tail`` allowed on a state file: an exclusive ``flock`` on ``<state>.lock``
    beside it, which holds the holder's pid. The kernel drops the lock when its process ends,
    however it ends (kill -9 too), so a stale lock file never blocks anyone. The file is left
    in place on release: unlinking a lock file races with the next process taking it.

    Args:
        state_path: the state file (its folder must exist).

    Raises:
        StateInUseError: another process holds the lock (the message names its pid).
        StateError: the lock file cannot be made or locked.
    """

    def __init__(self, state_path: str | Path) -> None:
        self.path = Path(f"{state_path}.lock")
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise StateError(f"cannot lock state file {state_path}: {exc}") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_pid(fd)
            os.close(fd)
            raise StateInUseError(
                f"state file {state_path} is in use by another threadwatch tail "
                f"(pid {holder or 'unknown'})") from None
        except OSError as exc:
            os.close(fd)
            raise StateError(f"cannot lock state file {state_path}: {exc}") from exc
        self._fd: int | None = fd
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        except OSError:  # the pid is for the message only; the lock itself is held
            pass

    def release(self) -> None:
        """Let the next ``tail`` have the state file (again: nothing happens)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _read_pid(fd: int) -> str | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return None
    return text if text.isdigit() else None


def open_read_only(path: Path, prepare: Callable[[sqlite3.Connection], None] | None = None,
                   **options: Any) -> sqlite3.Connection:
    """Open the SQLite file ``path`` for reading only: nothing is written to it, and no file is
    made beside it, so a state file in a folder the reader cannot write can be read.

    Without a ``-wal`` file beside it (``tail`` is not running, or stopped cleanly) the file
    holds everything and is opened ``immutable``: no ``-shm`` file is made and no lock taken.
    With one, it is opened ``mode=ro`` to see what the WAL holds (using the ``-shm`` file
    there); if that is impossible (no ``-shm`` and a folder the reader cannot write) it falls
    back to ``immutable`` and says on the log that the newest changes may be missing.

    Args:
        path: the SQLite file.
        prepare: called with the connection once it is open (e.g. to check the schema).
        options: for ``sqlite3.connect``.

    Raises:
        sqlite3.Error: it cannot be opened or is not an SQLite file.
    """
    uri = path.absolute().as_uri()

    def ready(db: sqlite3.Connection) -> None:
        # opening is lazy: the first read says whether the file can be read at all
        db.execute("SELECT count(*) FROM sqlite_master").fetchone()
        if prepare is not None:
            prepare(db)

    immutable = f"{uri}?mode=ro&immutable=1"
    if not Path(f"{path}-wal").exists():
        return open_sqlite(immutable, ready, uri=True, **options)
    try:
        return open_sqlite(f"{uri}?mode=ro", ready, uri=True, **options)
    except sqlite3.OperationalError as exc:
        logger.warning("%s: read without its write-ahead log (%s): the newest changes may be"
                       " missing", path, exc)
    return open_sqlite(immutable, ready, uri=True, **options)


def open_sqlite(path: Path | str, prepare: Callable[[sqlite3.Connection], None],
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
            Checkpoint(FileId(device, inode), Fingerprint(length, bytes(digest)), path, offset,
                       bool(live), row, dirty=False)
            for row, device, inode, length, digest, path, offset, live in rows
        ]

    def load_windows(self) -> dict[str, str]:
        """The saved health window of each source (see ``health/window.py``)."""
        try:
            rows = self._db.execute("SELECT source, body FROM window_state").fetchall()
        except sqlite3.Error as exc:
            raise StateError(f"cannot read state file {self.path}: {exc}") from exc
        return {str(source): str(body) for source, body in rows}

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
            with self._transaction():
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


    def _write_window(self, source: str, body: str | None, now: float) -> None:
        if body is None:
            self._db.execute("DELETE FROM window_state WHERE source = ?", (source,))
        else:
            self._db.execute(
                "INSERT OR REPLACE INTO window_state (source, body, updated) VALUES (?, ?, ?)",
                (source, body, now))


def _prepare(db: sqlite3.Connection) -> None:
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.executescript(_SCHEMA)
    # A read-only file (or folder) accepts all of the above when the tables exist already;
    # a write that changes nothing is refused the way a checkpoint would be.
    db.execute("BEGIN IMMEDIATE")
    db.execute("DELETE FROM checkpoints WHERE 0")
    db.execute("ROLLBACK")


class _Transaction:
    """``BEGIN``/``COMMIT`` (``ROLLBACK`` on error) on an autocommit connection."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN")

    def __exit__(self, kind: object, error: object, trace: object) -> None:
        self._db.execute("COMMIT" if error is None else "ROLLBACK")
