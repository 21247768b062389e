"""The helpers run_batt.py takes from its utils.py, as they are there (2025-11-15)."""

from __future__ import annotations

import inspect
import os
import sys
import threading
from queue import Empty, Queue
from typing import Any

# run_batt prints its progress only on the hosts its author works on (utils.DO_PRINT); this
# example prints everywhere unless BATT_QUIET=1 makes it behave as on any other host.
DO_PRINT = os.environ.get("BATT_QUIET") != "1"


def print_l(msg: str) -> None:
    """Print ``<file>:<line>: msg``, the caller's file and line (run_batt's line prefix)."""
    frame = inspect.currentframe()
    caller = frame.f_back if frame is not None else None
    file_name = os.path.basename(caller.f_code.co_filename) if caller else "?"
    line_number = caller.f_lineno if caller else 0
    # one write per line: worker processes share the pipe, and a write of less than PIPE_BUF
    # bytes is never cut by another's (print() writes the text and the newline apart)
    sys.stdout.write(f"{file_name}:{line_number}: {msg}\n")


def call_with_timeout(func: Any, args: list[Any], timeout: float = 5) -> tuple[bool, Any]:
    """Call ``func(*args)`` in a daemon thread; ``(timed_out, result)``. A MemoryError is
    raised here (run_batt re-raises MemoryError and SystemError so they are not lost)."""
    results: Queue[Any] = Queue()
    errors: Queue[BaseException] = Queue()

    def worker() -> None:
        try:
            results.put(func(*args))
        except Exception as error:
            errors.put(error)

    thread = threading.Thread(target=worker, daemon=True)
    thread.start()
    thread.join(timeout=timeout)
    if thread.is_alive():
        return True, None
    try:
        error = errors.get_nowait()
    except Empty:
        pass
    else:
        if isinstance(error, (MemoryError, SystemError)):
            raise error
        print_l(f"Exception in timeout thread: {type(error).__name__}: {error}")
        return True, None
    try:
        return False, results.get_nowait()
    except Empty:
        return True, None
