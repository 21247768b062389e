"""Helpers for the tail tests: numbered run_batt lines, a recording consumer, a tail running on
a thread, a numbered-line writer, and waiting on conditions with a deadline."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from threadwatch.config import Config, load_config
from threadwatch.events import Event, Kind
from threadwatch.health.window import LevelChange, ScopeHealth
from threadwatch.live.loop import Tail, TailOptions


def batch_line(number: int) -> str:
    """A run_batt batch line whose event carries ``number`` as its batch index."""
    return f"run_batt.py:475: -- {number:08x} - {number} --\n"


def numbers_of(events: Sequence[Event]) -> list[int]:
    return [e.batch_index for e in events if e.kind is Kind.BATCH and e.batch_index is not None]


def numbers_on_disk(folder: Path) -> list[int]:
    """The numbers of every batch line in every file of ``folder``."""
    found = []
    for path in sorted(folder.iterdir()):
        for line in path.read_text().splitlines():
            if line.startswith("run_batt.py:475: -- ") and line.endswith(" --"):
                found.append(int(line.split(" - ")[1].split()[0]))
    return found


def config_with(**tail: Any) -> Config:
    """The default config with some ``[tail]`` settings changed."""
    config = load_config()
    return config.model_copy(update={"tail": config.tail.model_copy(update=tail)})


FAST = {"sweep_seconds": 0.2, "poll_seconds": 0.05, "release_seconds": 0.5,
        "refresh_seconds": 0.1}


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    """Wait for ``condition`` to hold; fail the test with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.01)


class RecordingConsumer:
    """Keeps everything it is given (thread-safe to read from the test)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._events: list[Event] = []
        self.changes: list[LevelChange] = []
        self.ticks = 0
        self.closed = False

    kinds: frozenset[Kind] = frozenset()  # what health reads is enough

    def on_events(self, events: Sequence[Event], at: float) -> None:
        with self._lock:
            self._events.extend(events)

    def on_changes(self, changes: Sequence[LevelChange], health: Sequence[ScopeHealth]) -> None:
        with self._lock:
            self.changes.extend(changes)

    def tick(self, now: float) -> None:
        self.ticks += 1

    def close(self) -> None:
        self.closed = True

    @property
    def events(self) -> list[Event]:
        with self._lock:
            return list(self._events)

    def numbers(self) -> list[int]:
        return numbers_of(self.events)


@contextmanager
def running_tail(
    paths: Sequence[str], state: Path, config: Config | None = None, **options: Any
) -> Iterator[tuple[Tail, RecordingConsumer]]:
    """A ``Tail`` following ``paths`` on a thread; stopped and joined on exit."""
    tail = Tail(paths, config or config_with(**FAST), TailOptions(state_path=state, **options))
    consumer = RecordingConsumer()
    errors: list[BaseException] = []

    def run() -> None:
        try:
            tail.run([consumer])
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=run, name="test-tail")
    thread.start()
    try:
        yield tail, consumer
    finally:
        tail.stop()
        thread.join(10)
    assert not thread.is_alive(), "tail did not stop"
    if errors:
        raise errors[0]


def rescanned(tail: Tail, times: int = 2) -> Callable[[], bool]:
    """A condition: ``tail`` looked for files ``times`` more times than now."""
    target = tail.discoveries + times
    return lambda: tail.discoveries >= target


class NumberedWriter(threading.Thread):
    """Appends numbered batch lines to ``path``, reopening it every ``reopen_every`` lines (a
    program that keeps its file open for a while, as loggers do)."""

    def __init__(self, path: Path, count: int, *, reopen_every: int = 50,
                 pause: float = 0.0005) -> None:
        super().__init__(name="test-writer")
        self.path = path
        self.count = count
        self.written = 0
        self._reopen_every = reopen_every
        self._pause = pause

    def run(self) -> None:
        number = 0
        while number < self.count:
            with self.path.open("a") as stream:
                for _ in range(self._reopen_every):
                    if number >= self.count:
                        break
                    stream.write(batch_line(number))
                    stream.flush()
                    number += 1
                    self.written = number
                    time.sleep(self._pause)  # a producer's pace, not a wait for a condition
