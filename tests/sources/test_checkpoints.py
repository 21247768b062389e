"""The SQLite state file of tail's checkpoints."""

from __future__ import annotations

import gc
import os
import sqlite3
import stat
import warnings
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from threadwatch.errors import StateError, StateInUseError
from threadwatch.sources.checkpoints import RETIRED_DAYS, Checkpoint, StateStore
from threadwatch.sources.identity import FileId, Fingerprint
from threadwatch.statefile import StateLock, default_state_path, make_state_folder, open_read_only


def checkpoint(offset: int = 10, live: bool = True) -> Checkpoint:
    return Checkpoint(FileId(1, 2), Fingerprint(3, b"abc"), "/logs/a.log", offset, live)


def test_saved_checkpoints_load_back(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state.db")
    store.save([checkpoint(10)], now=1000.0)
    store.close()
    with closing(StateStore(tmp_path / "state.db")) as again:
        loaded = again.load(now=1000.0)
    assert [(c.file_id, c.fingerprint, c.path, c.offset, c.live) for c in loaded] == [
        (FileId(1, 2), Fingerprint(3, b"abc"), "/logs/a.log", 10, True)
    ]


def test_only_dirty_checkpoints_are_written(tmp_path: Path) -> None:
    with closing(StateStore(tmp_path / "state.db")) as store:
        saved = checkpoint(10)
        store.save([saved])
        saved.offset = 99  # changed without move_to: not dirty, so not written
        store.save([saved])
        assert store.load()[0].offset == 10
        saved.move_to(20)
        store.save([saved])
        assert store.load()[0].offset == 20


def test_retired_checkpoints_expire(tmp_path: Path) -> None:
    with closing(StateStore(tmp_path / "state.db")) as store:
        store.save([checkpoint(live=False)], now=0.0)
        assert len(store.load(now=RETIRED_DAYS * 86400 - 1)) == 1
        assert store.load(now=RETIRED_DAYS * 86400 + 1) == []


def test_default_state_path_follows_xdg_state_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    assert default_state_path() == tmp_path / "threadwatch" / "state.db"


def test_unusable_state_file_is_a_state_error(tmp_path: Path) -> None:
    (tmp_path / "state.db").write_text("not a database, just text " * 100)
    with pytest.raises(StateError, match=r"state\.db"):
        StateStore(tmp_path / "state.db")


def test_a_state_file_that_cannot_be_opened_leaves_no_connection_open(
    tmp_path: Path, sqlite_connections: Any
) -> None:
    (tmp_path / "state.db").write_text("not a database, just text " * 100)
    with pytest.raises(StateError):
        StateStore(tmp_path / "state.db")
    assert sqlite_connections.made, "the connection was never made: the test tests nothing"
    assert sqlite_connections.still_open() == []


def test_a_failed_open_leaves_nothing_to_warn_about_when_collected(tmp_path: Path) -> None:
    # Python 3.13+ warns (ResourceWarning) when an unclosed connection is collected; under the
    # suite's filterwarnings = error that fails some later test.
    (tmp_path / "state.db").write_text("not a database, just text " * 100)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        with pytest.raises(StateError):
            StateStore(tmp_path / "state.db")
        gc.collect()
    assert [str(w.message) for w in seen if issubclass(w.category, ResourceWarning)] == []


def test_the_state_folder_and_its_missing_parents_are_made_private(tmp_path: Path) -> None:
    os.chmod(tmp_path, 0o755)
    path = tmp_path / "state" / "threadwatch" / "state.db"
    with closing(StateStore(path)):
        pass
    for folder in (tmp_path / "state", tmp_path / "state" / "threadwatch"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
    assert stat.S_IMODE(tmp_path.stat().st_mode) == 0o755  # an existing folder is left alone
    make_state_folder(path)  # again: nothing to do


def test_a_state_folder_that_cannot_be_made_is_a_state_error(tmp_path: Path) -> None:
    (tmp_path / "state").write_text("a file where the folder should be")
    with pytest.raises(StateError, match="state folder"):
        StateStore(tmp_path / "state" / "threadwatch" / "state.db")


def test_the_lock_file_is_private_and_names_the_holder(tmp_path: Path) -> None:
    state = tmp_path / "state.db"
    lock = StateLock(state)
    try:
        assert Path(f"{state}.lock").read_text() == f"{os.getpid()}\n"
        assert Path(f"{state}.lock").stat().st_mode & 0o777 == 0o600
        expected = (f"state file {state} is in use by another threadwatch tail"
                    f" (pid {os.getpid()})")
        with pytest.raises(StateInUseError) as refused:
            StateLock(state)  # a second open file description: refused, even in one process
        assert str(refused.value) == expected
    finally:
        lock.release()
    StateLock(state).release()  # free again


def test_windows_are_saved_with_the_checkpoints_and_none_deletes_one(tmp_path: Path) -> None:
    with closing(StateStore(tmp_path / "state.db")) as store:
        store.save([checkpoint(10)], windows={"a.log": '{"v": 1}', "b.log": '{"v": 2}'})
        store.save([], windows={"a.log": None})
    with closing(StateStore(tmp_path / "state.db")) as again:
        assert again.load_windows() == {"b.log": '{"v": 2}'}
        assert [c.offset for c in again.load()] == [10]


def test_a_save_refused_by_another_writer_keeps_everything_dirty_for_the_next(
    tmp_path: Path
) -> None:
    path = tmp_path / "state.db"
    with closing(StateStore(path, busy_timeout_seconds=0.05)) as store:
        saved = checkpoint(10)
        store.save([saved])
        saved.move_to(20)
        with closing(sqlite3.connect(path, isolation_level=None)) as other:
            other.execute("BEGIN EXCLUSIVE")
            with pytest.raises(StateError, match="database is locked"):
                store.save([saved], windows={"a.log": "{}"})
            other.execute("COMMIT")
        assert saved.dirty
        store.save([saved], windows={"a.log": "{}"})
        assert store.load()[0].offset == 20 and store.load_windows() == {"a.log": "{}"}


def test_a_state_file_locked_at_start_up_is_a_state_error(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    StateStore(path).close()
    with closing(sqlite3.connect(path, isolation_level=None)) as other:
        other.execute("BEGIN EXCLUSIVE")
        with pytest.raises(StateError, match="database is locked"):
            StateStore(path, busy_timeout_seconds=0.05)
        other.execute("ROLLBACK")


def test_a_read_only_open_reads_the_wal_of_a_running_writer_and_writes_nothing(
    tmp_path: Path
) -> None:
    path = tmp_path / "state.db"
    with closing(StateStore(path)) as store:
        store.save([checkpoint(10)])  # in the -wal file only, while the store is open
        assert Path(f"{path}-wal").exists()
        with closing(open_read_only(path)) as reader:
            assert reader.execute("SELECT offset FROM checkpoints").fetchall() == [(10,)]
            with pytest.raises(sqlite3.OperationalError, match="readonly"):
                reader.execute("DELETE FROM checkpoints")


def test_a_read_only_open_of_a_closed_state_file_makes_no_file_beside_it(
    tmp_path: Path
) -> None:
    path = tmp_path / "state.db"
    with closing(StateStore(path)) as store:
        store.save([checkpoint(10)])
    before = sorted(os.listdir(tmp_path))
    with closing(open_read_only(path)) as reader:
        assert reader.execute("SELECT offset FROM checkpoints").fetchall() == [(10,)]
        assert sorted(os.listdir(tmp_path)) == before == ["state.db"]
    (tmp_path / "text.db").write_text("not a database, just text " * 100)
    with pytest.raises(sqlite3.DatabaseError):
        open_read_only(tmp_path / "text.db")


def test_a_full_state_file_says_so(tmp_path: Path) -> None:
    # SQLite ends the transaction itself when the file is full: the error said is that one,
    # not a failed ROLLBACK of a transaction that is already gone
    with closing(StateStore(tmp_path / "state.db")) as store:
        (pages,) = store._db.execute("PRAGMA page_count").fetchone()
        store._db.execute(f"PRAGMA max_page_count = {pages + 2}")  # the file can hardly grow
        with pytest.raises(StateError, match="database or disk is full"):
            store.save([checkpoint(10)], windows={"a.log": "x" * 100_000})
        store._db.execute(f"PRAGMA max_page_count = {pages + 1000}")
        store.save([checkpoint(10)], windows={"a.log": "y"})  # and the next write works
        assert store.load_windows() == {"a.log": "y"}
