"""Leaving the process once a command is done, without tearing every module down.

After its last line, a one-shot command (``report`` from cron or Nagios, every minute on every
host) would spend another 25-30 ms in the interpreter's finalization, freeing every object of
pydantic, typer and rich one at a time; the operating system frees a process's memory at once.
So once the command has given its exit code, ``leave`` flushes stdout and stderr, runs the
``atexit`` handlers (what a normal exit runs), and ends the process with ``os._exit``.

It takes the ordinary way (re-raising the ``SystemExit``) whenever that could differ: another
thread is alive (a normal exit joins it), the exit "code" is a message, or stdout cannot be
flushed (a reader gone: Python reports it as it always does). A stream that is ``None`` (the
process started with that descriptor closed, ``>&-``) has nothing to flush.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
import threading
from typing import NoReturn


def leave(done: SystemExit) -> NoReturn:
    """End the process with ``done``'s exit code, skipping the interpreter's finalization."""
    code = 0 if done.code is None else done.code
    if not isinstance(code, int) or threading.active_count() > 1:
        raise done
    try:
        if sys.stdout is not None:
            sys.stdout.flush()
    except (OSError, ValueError):  # reader gone, or stdout closed
        raise done from None
    atexit._run_exitfuncs()  # what a normal exit runs (private, but declared by typeshed)
    for stream in (sys.stdout, sys.stderr):
        if stream is None:
            continue
        with contextlib.suppress(OSError, ValueError):  # an atexit handler may have written
            stream.flush()
    os._exit(code)
