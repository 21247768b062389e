"""The live source with time injected: placement, truncation, rewrites, copies, release,
flushing, handle limits. No threads: each test drives discover/read/maintain/commit itself."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from tail_helpers import batch_line, numbers_of

from threadwatch.config import load_config
from threadwatch.events import Event, Kind
from threadwatch.report.engine import counting_grammar
from threadwatch.sources.checkpoints import StateStore
from threadwatch.sources.discovery import Roots
from threadwatch.sources.followed import FollowedFiles, FollowSettings

CONFIG = load_config()
TRACEBACK = (
    "Exception ignored in thread started by: <bound method Thread._bootstrap of "
    "<Thread(worker, stopped daemon 140220759033536)>>\n"
    "Traceback (most recent call last):\n"
    '  File "/usr/lib/python3.11/threading.py", line 1081, in _delete\n'
    "    del _active[get_ident()]\n"
    "KeyError: 140220759033536\n"
)


class Harness:
    """A FollowedFiles over ``folder`` with a state file, driven step by step at given times."""

    def __init__(self, folder: Path, state: Path, **settings: object) -> None:
        self.folder = folder
        self.state = state
        self.settings = FollowSettings(**{  # type: ignore[arg-type]
            "flush_seconds": 2.0, "release_seconds": 5.0, "close_idle_seconds": 60.0,
            "max_open_files": 256, "max_line_bytes": 1 << 20, **settings,
        })
        self.store = StateStore(state)
        roots = Roots.parse([str(folder)], CONFIG.sources.include, CONFIG.sources.exclude)
        self.source = FollowedFiles(roots, counting_grammar(CONFIG), self.store, self.settings,
                                 lambda: None)

    def step(self, now: float = 0.0) -> list[Event]:
        """One loop round: discover, read everything, time-based work, save checkpoints."""
        self.source.discover(now)
        events = self.source.read(None, now) + self.source.maintain(now)
        self.source.commit()
        return events

    def restart(self, **settings: object) -> Harness:
        self.source.close()
        self.store.close()
        return Harness(self.folder, self.state, **{**self.settings.__dict__, **settings})

    def close(self) -> None:
        self.source.close()
        self.store.close()


@pytest.fixture
def logs(tmp_path: Path) -> Path:
    folder = tmp_path / "logs"
    folder.mkdir()
    return folder


@pytest.fixture
def harness(logs: Path, tmp_path: Path) -> Harness:
    made = Harness(logs, tmp_path / "state.db")
    yield made  # type: ignore[misc]
    made.close()


def append(path: Path, *numbers: int) -> None:
    with path.open("a") as stream:
        stream.write("".join(batch_line(n) for n in numbers))


def test_new_file_is_read_from_its_start(harness: Harness, logs: Path) -> None:
    append(logs / "a.log", 1, 2, 3)
    assert numbers_of(harness.step()) == [1, 2, 3]


def test_appended_lines_are_read_once(harness: Harness, logs: Path) -> None:
    append(logs / "a.log", 1)
    harness.step()
    append(logs / "a.log", 2, 3)
    assert numbers_of(harness.step()) == [2, 3]
    assert harness.step() == []


def test_file_created_later_is_followed(harness: Harness, logs: Path) -> None:
    harness.step()
    append(logs / "later.log", 7)
    assert numbers_of(harness.step()) == [7]


def test_excluded_and_compressed_files_are_not_followed(harness: Harness, logs: Path) -> None:
    append(logs / "a.log.1.gz", 1)
    append(logs / "notes.md", 2)
    assert harness.step() == []


def test_partial_last_line_waits_for_its_newline(harness: Harness, logs: Path) -> None:
    (logs / "a.log").write_text(batch_line(1) + batch_line(2)[:-10])
    assert numbers_of(harness.step()) == [1]
    with (logs / "a.log").open("a") as stream:
        stream.write(batch_line(2)[-10:])
    assert numbers_of(harness.step()) == [2]


def test_restart_resumes_at_the_checkpoint(harness: Harness, logs: Path) -> None:
    append(logs / "a.log", 1, 2)
    harness.step()
    append(logs / "a.log", 3)
    again = harness.restart()
    try:
        assert numbers_of(again.step()) == [3]
    finally:
        again.close()


def test_checkpoint_never_passes_a_partial_line(harness: Harness, logs: Path) -> None:
    (logs / "a.log").write_text(batch_line(1) + batch_line(2)[:-5])
    harness.step()
    with (logs / "a.log").open("a") as stream:
        stream.write(batch_line(2)[-5:])
    again = harness.restart()
    try:
        assert numbers_of(again.step()) == [2]
    finally:
        again.close()


def test_short_file_growing_past_the_fingerprint_resumes(harness: Harness, logs: Path) -> None:
    append(logs / "a.log", 1)  # shorter than the 256-byte fingerprint
    harness.step()
    append(logs / "a.log", *range(2, 20))
    harness.step()
    append(logs / "a.log", 20)
    again = harness.restart()
    try:
        assert numbers_of(again.step()) == [20]
    finally:
        again.close()


def test_truncation_restarts_from_the_start(harness: Harness, logs: Path) -> None:
    append(logs / "a.log", *range(10))
    harness.step()
    with (logs / "a.log").open("w") as stream:
        stream.write(batch_line(100))
    assert numbers_of(harness.step()) == [100]


def test_rewrite_longer_than_before_is_noticed(harness: Harness, logs: Path) -> None:
    """tee truncates and rewrites: by the next read the new content may be the longer one."""
    append(logs / "a.log", 1, 2)
    harness.step()
    (logs / "a.log").write_text("".join(batch_line(n) for n in range(100, 120)))
    assert numbers_of(harness.step()) == list(range(100, 120))


def test_rewrite_while_stopped_is_read_from_the_start(harness: Harness, logs: Path) -> None:
    append(logs / "a.log", *range(10))
    harness.step()
    (logs / "a.log").write_text("".join(batch_line(n) for n in range(100, 120)))
    again = harness.restart()
    try:
        assert numbers_of(again.step()) == list(range(100, 120))
    finally:
        again.close()


def test_renamed_file_is_read_to_its_end_and_not_again(harness: Harness, logs: Path) -> None:
    append(logs / "a.log", 1)
    harness.step()
    append(logs / "a.log", 2)
    (logs / "a.log").rename(logs / "a.log.1")
    append(logs / "a.log", 3)
    assert sorted(numbers_of(harness.step())) == [2, 3]
    assert harness.step() == []


def test_copy_resumes_where_the_original_was_left(harness: Harness, logs: Path) -> None:
    """copytruncate: the copy holds lines already read; only the unread ones count."""
    append(logs / "a.log", *range(20))
    harness.step()
    append(logs / "a.log", 20, 21)
    (logs / "a.log.1").write_bytes((logs / "a.log").read_bytes())
    assert numbers_of(harness.step()) == [20, 21]  # the copy waits: the original is read
    (logs / "a.log").write_text("")
    append(logs / "a.log", 30)
    seen = harness.step() + harness.step()
    assert sorted(numbers_of(seen)) == [30]


def test_copy_made_while_stopped_is_not_read_again(harness: Harness, logs: Path) -> None:
    append(logs / "a.log", *range(20))
    harness.step()
    append(logs / "a.log", 20)
    (logs / "a.log.1").write_bytes((logs / "a.log").read_bytes())
    (logs / "a.log").write_text(batch_line(30))
    again = harness.restart()
    try:
        assert sorted(numbers_of(again.step())) == [20, 30]
    finally:
        again.close()


def test_unrelated_file_with_the_same_start_is_read_whole(harness: Harness, logs: Path) -> None:
    append(logs / "a.log", *range(20))
    harness.step()
    (logs / "other.log").write_bytes((logs / "a.log").read_bytes())
    assert numbers_of(harness.step()) == list(range(20))


def test_deleted_file_is_drained_then_released(harness: Harness, logs: Path) -> None:
    append(logs / "a.log", 1)
    harness.step(0.0)
    append(logs / "a.log", 2)
    (logs / "a.log").unlink()
    drained = harness.step(1.0)
    assert numbers_of(drained) == [2]
    assert harness.source.followed == 1  # kept open while the writer may still append
    harness.step(1.0 + harness.settings.release_seconds)
    assert harness.source.followed == 0
    assert harness.source.take_released() == [str(logs / "a.log")]


def test_from_end_skips_existing_content_of_unknown_files(logs: Path, tmp_path: Path) -> None:
    append(logs / "a.log", 1, 2)
    harness = Harness(logs, tmp_path / "state.db", from_end=True)
    try:
        assert harness.step() == []
        append(logs / "a.log", 3)
        append(logs / "new.log", 4)
        assert sorted(numbers_of(harness.step())) == [3, 4]
    finally:
        harness.close()


def test_traceback_is_flushed_after_flush_seconds(harness: Harness, logs: Path) -> None:
    (logs / "a.err").write_text(TRACEBACK)
    assert harness.step(100.0) == []
    assert harness.step(101.9) == []
    flushed = harness.step(102.0)
    assert [e.kind for e in flushed] == [Kind.THREAD_CLEANUP_KEYERROR]


def test_open_traceback_is_reread_whole_after_restart(harness: Harness, logs: Path) -> None:
    (logs / "a.err").write_text(TRACEBACK)
    harness.step(0.0)
    again = harness.restart()
    try:
        again.step(0.0)
        assert [e.kind for e in again.step(10.0)] == [Kind.THREAD_CLEANUP_KEYERROR]
    finally:
        again.close()


def test_unreadable_file_is_reported_and_the_rest_followed(
    harness: Harness, logs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    append(logs / "bad.log", 1)
    append(logs / "good.log", 2)
    harness.step()
    bad = harness.source._by_path[str(logs / "bad.log")]
    real_pread = os.pread

    def failing_pread(fd: int, size: int, offset: int) -> bytes:
        if fd == bad._fd:
            raise OSError(5, "Input/output error")
        return real_pread(fd, size, offset)

    monkeypatch.setattr(os, "pread", failing_pread)
    append(logs / "bad.log", 3)
    append(logs / "good.log", 4)
    assert numbers_of(harness.step()) == [4]
    assert harness.source.problems == [
        f"{logs / 'bad.log'}: cannot read (Input/output error); skipped"
    ]


def test_open_handles_are_capped(logs: Path, tmp_path: Path) -> None:
    for index in range(40):
        append(logs / f"f{index}.log", index)
    harness = Harness(logs, tmp_path / "state.db", max_open_files=10)
    try:
        assert len(numbers_of(harness.step())) == 40
        followers = harness.source._followers.values()
        assert sum(1 for f in followers if f.is_open) <= 10
        append(logs / "f0.log", 100)
        append(logs / "f39.log", 139)
        assert sorted(numbers_of(harness.step())) == [100, 139]
    finally:
        harness.close()
