"""The SQLite state file of tail's checkpoints."""

from __future__ import annotations

from pathlib import Path

import pytest

from threadwatch.errors import StateError
from threadwatch.sources.identity import FileId, Fingerprint
from threadwatch.store import RETIRED_DAYS, Checkpoint, StateStore, default_state_path


def checkpoint(offset: int = 10, live: bool = True) -> Checkpoint:
    return Checkpoint(FileId(1, 2), Fingerprint(3, b"abc"), "/logs/a.log", offset, live)


def test_saved_checkpoints_load_back(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state.db")
    store.save([checkpoint(10)], now=1000.0)
    store.close()
    loaded = StateStore(tmp_path / "state.db").load(now=1000.0)
    assert [(c.file_id, c.fingerprint, c.path, c.offset, c.live) for c in loaded] == [
        (FileId(1, 2), Fingerprint(3, b"abc"), "/logs/a.log", 10, True)
    ]


def test_only_dirty_checkpoints_are_written(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state.db")
    saved = checkpoint(10)
    store.save([saved])
    saved.offset = 99  # changed without move_to: not dirty, so not written
    store.save([saved])
    assert store.load()[0].offset == 10
    saved.move_to(20)
    store.save([saved])
    assert store.load()[0].offset == 20


def test_retired_checkpoints_expire(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state.db")
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
