"""When to look at the files again: inotify (through watchdog) when it works, polling otherwise.

The choice is made once, at start, and said once in the log (like watchdog's own observer
selection): inotify is unavailable off Linux, and can fail for lack of watches or instances
(``fs.inotify.max_user_watches``, ``max_user_instances``). With inotify, a change wakes the
reader at once and names the file; a full sweep still runs every ``sweep_seconds`` as a safety
net for events lost by an overflowing queue. With polling, every sweep is a full one.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import NamedTuple, Protocol

from watchdog.events import (
    DirCreatedEvent,
    DirDeletedEvent,
    DirMovedEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)

from threadwatch.logs import TAIL_LOGGER, get_logger

logger = get_logger(TAIL_LOGGER)


def _not_a_stop_race(record: logging.LogRecord) -> bool:
    # watchdog logs this error when its emitter is stopped while it waits for an event (a
    # race in its own stop, harmless: nothing is lost); a tail that stops soon after it
    # started (a bad --metrics-listen) would print it as a stray line on stderr
    return "called when the thread is inactive" not in record.getMessage()


get_logger("watchdog.observers.inotify").addFilter(_not_a_stop_race)

INOTIFY = "inotify"
POLLING = "polling"
_LAYOUT_EVENTS = (FileCreatedEvent, FileMovedEvent, FileDeletedEvent, DirCreatedEvent,
                  DirMovedEvent, DirDeletedEvent)
# open/close/attribute events are frequent and say nothing new: filtered out in the kernel side
_WANTED_EVENTS: list[type[FileSystemEvent]] = [FileModifiedEvent, *_LAYOUT_EVENTS]


class Wake(NamedTuple):
    """Why the reader woke up.

    Attributes:
        paths: files that changed.
        sweep: look at every file (polling tick, safety sweep, or start).
        rescan: the set of files may have changed: discover again.
    """

    paths: frozenset[str]
    sweep: bool
    rescan: bool


class Observer(Protocol):
    """The part of a watchdog observer used here."""

    def start(self) -> None: ...
    def schedule(self, event_handler: FileSystemEventHandler, path: str, *, recursive: bool = ...,
                 event_filter: list[type[FileSystemEvent]] | None = ...) -> object: ...
    def stop(self) -> None: ...
    def join(self, timeout: float | None = ...) -> None: ...


def _inotify_observer() -> Observer:
    from watchdog.observers.inotify import InotifyObserver  # noqa: PLC0415 (Linux only)

    return InotifyObserver()


class _Handler(FileSystemEventHandler):
    def __init__(self, waker: Waker) -> None:
        self._waker = waker

    def on_any_event(self, event: FileSystemEvent) -> None:
        self._waker.changed(event)


class Waker:
    """Wakes the reader when files change.

    Args:
        watch_dirs: folders to watch, each with whether recursively.
        poll_seconds: the polling interval (polling mode).
        sweep_seconds: the safety-sweep interval (inotify mode).
        use_inotify: False forces polling.
        observer_factory: makes the inotify observer (tests inject failures).
    """

    def __init__(
        self,
        watch_dirs: Sequence[tuple[str, bool]],
        *,
        poll_seconds: float,
        sweep_seconds: float,
        use_inotify: bool = True,
        observer_factory: Callable[[], Observer] = _inotify_observer,
    ) -> None:
        self._lock = threading.Lock()
        self._event = threading.Event()
        self._paths: set[str] = set()
        self._rescan = False
        self._observer: Observer | None = None
        self._interval: float = poll_seconds
        self.mode = POLLING
        reason = "disabled"
        if use_inotify and watch_dirs:
            reason = self._start_inotify(watch_dirs, observer_factory)
        if self._observer is not None:
            self.mode = INOTIFY
            self._interval = sweep_seconds
            logger.info("following changes with inotify")
        elif watch_dirs:
            logger.warning("inotify unavailable (%s): polling every %g s", reason, poll_seconds)
        self._next_sweep = time.monotonic() + self._interval

    def _start_inotify(
        self, watch_dirs: Sequence[tuple[str, bool]], factory: Callable[[], Observer]
    ) -> str:
        observer: Observer | None = None
        try:
            observer = factory()
            observer.start()
            handler = _Handler(self)
            for folder, recursive in watch_dirs:
                observer.schedule(handler, folder, recursive=recursive,
                                  event_filter=_WANTED_EVENTS)
        except (OSError, ImportError) as exc:
            if observer is not None:
                observer.stop()
                observer.join()
            if isinstance(exc, OSError) and exc.strerror:
                return exc.strerror
            return str(exc) or type(exc).__name__
        self._observer = observer
        return ""

    def changed(self, event: FileSystemEvent) -> None:
        """A file system event (called from watchdog's thread)."""
        with self._lock:
            self._paths.add(_text(event.src_path))
            if isinstance(event, _LAYOUT_EVENTS):
                self._rescan = True
                if event.dest_path:
                    self._paths.add(_text(event.dest_path))
        self._event.set()

    def watch(self, folder: str, *, recursive: bool = True) -> None:
        """Watch ``folder`` too from now on (a folder waited for has appeared); with polling,
        nothing to do: every sweep looks everywhere."""
        if self._observer is None:
            return
        try:
            self._observer.schedule(_Handler(self), folder, recursive=recursive,
                                    event_filter=_WANTED_EVENTS)
        except OSError as exc:
            logger.warning("%s: cannot watch with inotify (%s); it is looked at every %g s",
                           folder, exc.strerror or exc, self._interval)
        self.notify()

    def notify(self) -> None:
        """Wake the reader now (another source has data, or it must stop)."""
        self._event.set()

    def wait(self, timeout: float) -> Wake:
        """Wait at most ``timeout`` seconds for a change, or until the next sweep is due."""
        now = time.monotonic()
        self._event.wait(max(0.0, min(timeout, self._next_sweep - now)))
        self._event.clear()
        with self._lock:
            paths, self._paths = frozenset(self._paths), set()
            rescan, self._rescan = self._rescan, False
        sweep = time.monotonic() >= self._next_sweep
        if sweep:
            self._next_sweep = time.monotonic() + self._interval
        return Wake(paths, sweep, rescan or sweep)

    def stop(self) -> None:
        if self._observer is not None:
            self._observer.stop()
            self._observer.join()
            self._observer = None


def _text(path: str | bytes) -> str:
    return path.decode("utf-8", "surrogateescape") if isinstance(path, bytes) else path
