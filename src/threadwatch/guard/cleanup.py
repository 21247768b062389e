"""A narrow guard for the thread-cleanup ``KeyError`` that CPython 3.11+ prints
(a forked child's threads bookkeeping, see docs/guard.md).

When a thread ends, ``Thread._bootstrap_inner`` calls ``Thread._delete``, which runs
``del _active[get_ident()]``. If the thread was never registered in ``threading._active`` (it
failed during start-up, or it was started in a forked child before threading's own after-fork
hook rebuilt the table), that raises ``KeyError: <the thread's ident>`` and 3.11+ print it as
``Exception ignored in thread started by: ...`` (3.9/3.10 stay silent).

:func:`install_thread_cleanup_guard` wraps ``Thread._delete`` and swallows exactly that error --
a ``KeyError`` whose key is the current thread's ident -- and nothing else. Each suppression is
counted, kept as a :class:`SuppressedCleanupError` record and logged as a
``thread_cleanup_suppressed`` event, so a monitor still sees it. The root-cause fix for process
pools is a ``forkserver``/``spawn`` context, which :func:`threadwatch.guard.run_batch` uses.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import sys
import threading
from typing import TYPE_CHECKING, Any, NamedTuple

from threadwatch.guard.eventlog import format_event

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

__all__ = [
    "SuppressedCleanupError",
    "install_thread_cleanup_guard",
    "is_thread_cleanup_guard_installed",
    "suppressed_count",
    "suppressed_records",
    "thread_cleanup_guard",
    "uninstall_thread_cleanup_guard",
]

PYTHON_VERSION = "{}.{}.{}".format(*sys.version_info[:3])
# bpo-44422 (3.11) made _bootstrap_inner call _delete() where the error gets printed.
_PRINTS_THE_ERROR = sys.version_info >= (3, 11)

_log = logging.getLogger("threadwatch.guard")
_lock = threading.Lock()
# list.append is atomic, so the teardown path needs no lock (one lock fewer to hold at fork).
_records: list[SuppressedCleanupError] = []


class _Installed:
    """The wrapper while installed and the method it wraps; changed only under ``_lock``."""

    wrapper: Callable[[threading.Thread], None] | None = None
    original: Callable[[threading.Thread], None] | None = None


class SuppressedCleanupError(NamedTuple):
    """One swallowed cleanup ``KeyError``: which thread, in which state, on which Python."""

    thread_name: str
    status: str  # from repr(thread): initial | started | stopped (| unknown)
    ident: int
    python_version: str


def suppressed_count() -> int:
    """Return how many cleanup ``KeyError``\\ s the guard has swallowed in this process."""
    return len(_records)


def suppressed_records() -> tuple[SuppressedCleanupError, ...]:
    """Return every suppression recorded in this process, oldest first."""
    return tuple(_records)


def _status_of(thread: threading.Thread) -> str:
    # repr is "<Thread(name, stopped daemon 123)>"; the status is the first word after the
    # last ", " (a thread name may itself contain ", ").
    text = repr(thread)
    cut = text.rfind(", ")
    words = text[cut + 2 :].split() if cut >= 0 else []
    return words[0] if words and words[0].isalpha() else "unknown"


def _log_suppression(thread: threading.Thread, record: SuppressedCleanupError) -> None:
    if not _log.isEnabledFor(logging.WARNING):
        return
    message = format_event(
        "thread_cleanup_suppressed",
        (
            ("thread", record.thread_name),
            ("status", record.status),
            ("ident", record.ident),
            ("python", record.python_version),
        ),
    )
    # logging asks threading.current_thread(), which for a thread missing from _active creates
    # a _DummyThread that stays in _active (inflating active_count()). Put the thread back for
    # the duration of the call instead.
    active: dict[int, threading.Thread] | None = getattr(threading, "_active", None)
    table_lock: Any = getattr(threading, "_active_limbo_lock", None)
    if active is None or table_lock is None:
        _log.warning(message)
        return
    with table_lock:
        reinserted = record.ident not in active
        if reinserted:
            active[record.ident] = thread
    try:
        _log.warning(message)
    finally:
        if reinserted:
            with table_lock:
                if active.get(record.ident) is thread:
                    del active[record.ident]


def _record(thread: threading.Thread, ident: int) -> None:
    try:
        record = SuppressedCleanupError(thread.name, _status_of(thread), ident, PYTHON_VERSION)
        _records.append(record)
        _log_suppression(thread, record)
    except Exception:
        pass  # we run in thread teardown, where raising would print the very noise we remove


def _make_wrapper(
    original: Callable[[threading.Thread], None],
) -> Callable[[threading.Thread], None]:
    @functools.wraps(original)
    def _delete(self: threading.Thread) -> None:
        try:
            original(self)
        except KeyError as error:
            ident = threading.get_ident()
            key = error.args[0] if error.args else None
            if type(key) is not int or key != ident:
                raise
            _record(self, ident)

    return _delete


def _guard_in_chain(method: object) -> bool:
    # True if our wrapper is `method` or is wrapped (functools.wraps) by it.
    while method is not None:
        if method is _Installed.wrapper:
            return True
        method = getattr(method, "__wrapped__", None)
    return False


def is_thread_cleanup_guard_installed() -> bool:
    """Return True while the guard wraps ``threading.Thread._delete``."""
    return _Installed.wrapper is not None and _guard_in_chain(
        getattr(threading.Thread, "_delete", None)
    )


def install_thread_cleanup_guard() -> bool:
    """Wrap ``threading.Thread._delete`` so the cleanup ``KeyError`` is recorded, not printed.

    Idempotent and thread-safe. Returns True if the guard is installed (now or before), False
    where it does nothing: Python < 3.11, which never prints the error, or a ``threading``
    without ``Thread._delete``. Either case is logged at INFO.
    """
    if not _PRINTS_THE_ERROR:
        _log.info(
            "threadwatch.guard: thread-cleanup guard not installed: Python %s does not print "
            "the cleanup KeyError",
            PYTHON_VERSION,
        )
        return False
    with _lock:
        current = getattr(threading.Thread, "_delete", None)
        if current is None:
            _log.info("threadwatch.guard: thread-cleanup guard not installed: no Thread._delete")
            return False
        if _Installed.wrapper is not None and _guard_in_chain(current):
            return True
        _Installed.original = current
        _Installed.wrapper = _make_wrapper(current)
        threading.Thread._delete = _Installed.wrapper  # type: ignore[attr-defined]  # private, wrapped
        return True


def uninstall_thread_cleanup_guard() -> bool:
    """Restore the original ``Thread._delete``; return True if it was restored.

    Nothing is changed (False) when the guard is not installed, or when someone replaced
    ``Thread._delete`` after it -- restoring then would drop their wrapper too.
    """
    with _lock:
        if _Installed.wrapper is None:
            return False
        if getattr(threading.Thread, "_delete", None) is not _Installed.wrapper:
            _log.warning(
                "threadwatch.guard: thread-cleanup guard left in place: Thread._delete was "
                "replaced after it was installed"
            )
            return False
        threading.Thread._delete = _Installed.original  # type: ignore[attr-defined]  # private
        _Installed.wrapper = None
        return True


@contextlib.contextmanager
def thread_cleanup_guard() -> Iterator[bool]:
    """Install the guard for the ``with`` block; yields what install returned.

    On exit the guard is removed only if this block installed it.
    """
    was_installed = is_thread_cleanup_guard_installed()
    installed = install_thread_cleanup_guard()
    try:
        yield installed
    finally:
        if installed and not was_installed:
            uninstall_thread_cleanup_guard()
