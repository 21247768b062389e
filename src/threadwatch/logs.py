"""Every ``threadwatch`` logger, made safe for a terminal.

Log messages name files, sinks and receivers' answers, and any of them can hold an escape
sequence, a bidi control or a newline (a file named ``a.log\\nthreadwatch: all clear`` would
forge a line of its own on stderr). ``SafeTextFilter`` rewrites a record before any formatter
sees it: the message, arguments merged, becomes one line through ``text.safe_text``; a
traceback keeps its lines, each escaped and indented, so none of them can pass for a message.

It is applied twice over, so that no path is left open:

* ``log_to_stderr`` (what the command line uses) installs one stderr handler, with the filter,
  on the ``threadwatch`` logger: every ``threadwatch.*`` logger's records pass through it,
  also those of a logger made with plain ``logging.getLogger``;
* ``get_logger`` gives a module its logger with the filter on the logger itself, so a library
  user's own handlers get safe records too.

Modules log only through ``get_logger`` (a test checks that none calls ``logging`` itself).
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO

from threadwatch.text import safe_block, safe_text

ROOT_LOGGER = "threadwatch"
TAIL_LOGGER = "threadwatch.tail"  # the modules of ``tail`` (sources, live) share this one
STDERR_FORMAT = "threadwatch: %(message)s"
_DONE = "threadwatch_safe"  # set on a record once rewritten (the second filter skips it)
_INDENT = "    "


def _indented(block: str) -> str:
    return "\n".join(_INDENT + line for line in safe_block(block.rstrip("\n")).split("\n"))


class SafeTextFilter(logging.Filter):
    """Rewrites a record's message (arguments merged) into one safe line, and its traceback and
    stack into escaped lines indented under it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, _DONE, False):
            return True
        try:
            message = record.getMessage()
        except Exception:  # bad arguments: say so rather than raise into the caller
            message = f"{record.msg!r} (log arguments did not fit)"
        record.msg = safe_text(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = _indented(record.exc_text)
        if record.stack_info:
            record.stack_info = _indented(record.stack_info)
        setattr(record, _DONE, True)
        return True


def get_logger(name: str) -> logging.Logger:
    """The logger ``name`` with a ``SafeTextFilter`` on it (added once)."""
    found = logging.getLogger(name)
    if not any(isinstance(f, SafeTextFilter) for f in found.filters):
        found.addFilter(SafeTextFilter())
    return found


class _StderrHandler(logging.StreamHandler[TextIO]):
    """The handler ``log_to_stderr`` installs (found again by its class, to replace it)."""


def log_to_stderr(level: int = logging.WARNING, stream: TextIO | None = None) -> logging.Handler:
    """Send every ``threadwatch.*`` record at ``level`` or above to ``stream`` (default
    stderr) as ``threadwatch: <message>``, through a ``SafeTextFilter``. Replaces a handler an
    earlier call installed; the records do not also go to the root logger's handlers."""
    handler = _StderrHandler(stream if stream is not None else sys.stderr)
    handler.addFilter(SafeTextFilter())
    handler.setFormatter(logging.Formatter(STDERR_FORMAT))
    root = logging.getLogger(ROOT_LOGGER)
    for old in [h for h in root.handlers if isinstance(h, _StderrHandler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    root.propagate = False
    return handler


def set_log_stream(stream: TextIO) -> TextIO | None:
    """Make the handler ``log_to_stderr`` installed write to ``stream`` from now on (a live
    view hands it the stream that prints above its frame); return the stream it wrote to, or
    None (and change nothing) when there is no such handler."""
    root = logging.getLogger(ROOT_LOGGER)
    for handler in root.handlers:
        if isinstance(handler, _StderrHandler):
            return handler.setStream(stream) or handler.stream
    return None
