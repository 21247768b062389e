"""The inotify-or-polling choice, made once and said once."""

from __future__ import annotations

import errno
import logging
from pathlib import Path

import pytest

from threadwatch.sources.wakeup import INOTIFY, POLLING, Observer, Waker


class _FullObserver:
    """An inotify observer that has run out of watches, as at max_user_watches."""

    def start(self) -> None:
        pass

    def schedule(self, *args: object, **kwargs: object) -> object:
        raise OSError(errno.ENOSPC, "inotify watch limit reached")

    def stop(self) -> None:
        pass

    def join(self, timeout: float | None = None) -> None:
        pass


def _full() -> Observer:
    return _FullObserver()


def test_watch_limit_falls_back_to_polling_and_says_so_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="threadwatch.tail")
    waker = Waker([(str(tmp_path), True)], poll_seconds=1, sweep_seconds=10,
                  observer_factory=_full)
    waker.stop()
    assert waker.mode == POLLING
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == ["inotify unavailable (inotify watch limit reached): polling every 1 s"]


def test_inotify_names_the_changed_file(tmp_path: Path) -> None:
    waker = Waker([(str(tmp_path), True)], poll_seconds=1, sweep_seconds=60)
    try:
        assert waker.mode == INOTIFY
        (tmp_path / "a.log").write_text("x\n")
        seen: set[str] = set()
        for _ in range(100):
            seen |= waker.wait(0.1).paths
            if str(tmp_path / "a.log") in seen:
                break
        assert str(tmp_path / "a.log") in seen
    finally:
        waker.stop()
