"""The state file: one SQLite file per ``tail`` (``$XDG_STATE_HOME/threadwatch/state.db``)
holding its checkpoints and health windows (``sources/checkpoints.py``) and the alert outbox
(``alerts/outbox.py``). This module makes its folder, locks it for the one ``tail`` allowed to
use it, and opens it, also read-only for readers (``threadwatch alerts``) that must change
nothing, not even its folder.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

from threadwatch.errors import StateError, StateInUseError
from threadwatch.logs import get_logger

logger = get_logger("threadwatch.state")


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
                   *, warn: bool = True, **options: Any) -> sqlite3.Connection:
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
        warn: say the fallback on the log (a second reader of the same file need not).
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
        if not warn:
            return open_sqlite(immutable, ready, uri=True, **options)
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


def stand_in_tables(schema: str) -> Callable[[sqlite3.Connection], None]:
    """A ``prepare`` for ``open_read_only``: each table of ``schema`` (``CREATE TABLE``
    statements separated by ``;``) the file lacks is made empty as a TEMP table, in memory,
    never in the file, so a reader finds every table whatever wrote the file."""

    def prepare(db: sqlite3.Connection) -> None:
        present = {name for (name,) in db.execute(
            "SELECT name FROM main.sqlite_master WHERE type = 'table'")}
        for statement in schema.split(";"):
            words = statement.split()
            if words[:2] == ["CREATE", "TABLE"] and words[5] not in present:
                db.execute(statement.replace("CREATE TABLE", "CREATE TEMP TABLE", 1))

    return prepare


def name_column(name: str) -> str | bytes:
    """A file path, or a name made from one (a scope, an alert's key), as the state file
    stores it: text, or its bytes when it is not UTF-8. A file name in another encoding is
    decoded with ``surrogateescape`` (``/logs/\\udce9t\\udce9.log``), which SQLite's text
    refuses; stored as bytes, it reads back as the same name (``name_from_column``)."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return os.fsencode(name)
    return name


def name_from_column(value: str | bytes) -> str:
    """A name stored by ``name_column``, as it was."""
    return os.fsdecode(value) if isinstance(value, bytes) else str(value)
