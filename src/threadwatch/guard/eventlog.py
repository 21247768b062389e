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
    reason=<overload|small_batch|large_batch> context=<forkserver|spawn|fork|->

``fallback`` (WARNING) -- a pool failed; ``remaining`` items are run on the next executor::

    batch=<id> from=<process|thread> to=<thread|sequential> error=<ExceptionTypeName>
    message="<str(exc)>" remaining=<n>

``item_failed`` (WARNING) -- one per item that raised::

    batch=<id> index=<i> error=<ExceptionTypeName> message="<str(exc)>"

``batch_done`` (INFO)::

    batch=<id> executor=<final executor> items=<n> ok=<n> failed=<n> seconds=<s.sss>

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

    Field = tuple[str, str | int | float]

__all__ = ["LOGGER_NAME", "PREFIX", "emit", "format_event", "logger"]

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
