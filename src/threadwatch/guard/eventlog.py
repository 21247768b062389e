"""The guard's log lines: one stable, greppable format that ``threadwatch`` parses back.

Every event is one log *message* (logger ``threadwatch.guard``) of the form::

    threadwatch-guard event=<name> key=value key=value ...

- Keys come in a fixed order per event (below); the parser finds ``threadwatch-guard event=``
  anywhere in a line, so any logging format prefix (time, level, thread) may precede it.
- Values are logfmt: a value containing whitespace, ``"``, ``=`` or ``\\`` (or an empty one) is
  written in double quotes; the free-text values ``message`` and ``thread`` are always quoted.
  Inside quotes exactly five characters are escaped, each as a backslash and one character:

  =================  ==========
  character          written as
  =================  ==========
  ``\\``             ``\\\\``
  ``"``              ``\\"``
  newline (LF)       ``\\n``
  carriage return    ``\\r``
  tab                ``\\t``
  =================  ==========

  Each is escaped on its own (a CR LF pair becomes ``\\r\\n``), so an event never spans two
  lines, holds no tab, and a reader that maps ``\\n``, ``\\r``, ``\\t`` back and drops the
  backslash of any other pair (``parse/guardline.py``) gets the value back unchanged.

Events, keys in order, and level:

``decision`` (INFO; WARNING when ``reason=overload``) -- exactly one per batch, first::

    batch=<pid>-<seq> items=<n> threads=<t> executor=<process|thread|sequential> workers=<w>
    reason=<overload|small_batch|large_batch> pool=<stdlib|loky|factory name|->
    context=<forkserver|spawn|fork|loky|->

  ``batch`` is the name the program gave (``run_batch(..., batch="0ca9ddb6-3")``) or
  ``<pid>-<seq>``. ``pool`` is whose pool runs the batch; ``context`` the process pool's start
  method (``loky`` for loky's own), ``-`` for threads.

``fallback`` (WARNING) -- a pool failed; ``remaining`` items are run on the next executor::

    batch=<id> from=<process|thread> to=<thread|sequential> error=<ExceptionTypeName>
    message="<str(exc)>" remaining=<n>

``pool_creation_retry`` / ``submit_retry`` (WARNING) -- creating a pool, or handing it item
``i``, failed; the guard pauses ``delay`` seconds (``gc.collect()`` meanwhile) and tries again::

    batch=<id> executor=<process|thread> attempt=<k> attempts=<n> delay=<s.sss>
    error=<ExceptionTypeName> message="<str(exc)>"
    batch=<id> index=<i> executor=... attempt=<k> attempts=<n> delay=<s.sss> error=... message=...

``pool_creation_failed`` / ``submit_failed`` (WARNING) -- the last attempt failed too; a
``fallback`` follows::

    batch=<id> [index=<i>] executor=<process|thread> attempts=<n> error=... message="..."

``item_failed`` (WARNING) -- one per item that raised::

    batch=<id> index=<i> error=<ExceptionTypeName> message="<str(exc)>"

``item_timed_out`` (WARNING) -- an item past its timeout, or unfinished at the batch deadline::

    batch=<id> index=<i> seconds=<s.sss>

``memory_error`` (ERROR) -- an item raised ``MemoryError``; ``action=stop`` ends the batch::

    batch=<id> index=<i> action=<stop|continue> error=MemoryError message="<str(exc)>"

``batch_timeout`` (WARNING) -- the batch deadline passed with ``unfinished`` items open::

    batch=<id> seconds=<limit> unfinished=<n>

``batch_done`` (INFO) -- exactly one per batch, last, also when an exception ends the batch;
``ok + failed + timed_out + cancelled + memory_errors = items``::

    batch=<id> executor=<final executor> items=<n> ok=<n> failed=<n> seconds=<s.sss>
    timed_out=<n> cancelled=<n> memory_errors=<n> stopped=<-|memory_error|batch_timeout|<reason>>

``thread_cleanup_suppressed`` (WARNING) -- one per thread-cleanup ``KeyError`` swallowed::

    thread="<thread name>" status=<initial|started|stopped|...> ident=<int> python=<X.Y.Z>

Example::

    threadwatch-guard event=fallback batch=4242-7 from=process to=thread error=BrokenProcessPool
    message="A process in the process pool was terminated abruptly ..." remaining=1
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the aliases use 3.10+ syntax; the guard stays importable on 3.9
    from collections.abc import Iterable
    from typing import TextIO

    Field = tuple[str, str | int | float]

__all__ = ["LOGGER_NAME", "PREFIX", "emit", "format_event", "log_lines_to", "logger"]

LOGGER_NAME = "threadwatch.guard"
PREFIX = "threadwatch-guard event="

logger = logging.getLogger(LOGGER_NAME)

_ALWAYS_QUOTED = frozenset({"message", "thread"})
_NEEDS_QUOTES = frozenset(' \t\f\v"=\\')
_ESCAPES = str.maketrans({"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"})


def _escape(text: str) -> str:
    return text.translate(_ESCAPES)


def _render(key: str, value: str | int | float) -> str:
    text = value if isinstance(value, str) else str(value)
    if (
        key in _ALWAYS_QUOTED
        or not text
        or "\n" in text
        or "\r" in text
        or not _NEEDS_QUOTES.isdisjoint(text)
    ):
        return f'{key}="{_escape(text)}"'
    return f"{key}={text}"


def format_event(name: str, fields: Iterable[Field]) -> str:
    """Return the message for event ``name`` with ``fields`` (key, value) in the given order."""
    return PREFIX + name + "".join(" " + _render(key, value) for key, value in fields)


def emit(level: int, name: str, *fields: Field) -> None:
    """Log event ``name`` at ``level``; formatting is skipped when the level is disabled."""
    if logger.isEnabledFor(level):
        logger.log(level, format_event(name, fields))


class _Installed:
    handler: logging.Handler | None = None


def log_lines_to(stream: TextIO) -> logging.Handler:
    """Write the guard's lines, message only, to ``stream`` from now on; return the handler.

    Give it the program's standard output (``sys.stdout``) and the guard's lines land in the
    program's own log, in the order they happened, where ``tail`` and ``report`` join them with
    the program's lines. INFO and up are written; the lines no longer also reach the root
    logger's handlers. A second call replaces the first one's handler.
    """
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(message)s"))
    if _Installed.handler is not None:
        logger.removeHandler(_Installed.handler)
    _Installed.handler = handler
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    return handler
