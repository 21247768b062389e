"""The one logger of ``tail`` (``threadwatch.tail``), made safe for a terminal.

Messages name files, and a file name can hold escape sequences (``run\\x1b]0;PWNED\\x07.log``):
every record this logger emits goes through ``safe_text`` before any handler sees it, whatever
the handler or format the caller set up. Modules of ``tail`` log through ``logger`` from here,
never through a logger of their own.
"""

from __future__ import annotations

import logging

from threadwatch.text import safe_text

LOGGER_NAME = "threadwatch.tail"


class SafeTextFilter(logging.Filter):
    """Rewrites a record's message (arguments merged) and traceback text through ``safe_text``."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = safe_text(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = safe_text(record.exc_text)
        if record.stack_info:
            record.stack_info = safe_text(record.stack_info)
        return True


def _safe_logger() -> logging.Logger:
    found = logging.getLogger(LOGGER_NAME)
    if not any(isinstance(f, SafeTextFilter) for f in found.filters):
        found.addFilter(SafeTextFilter())
    return found


logger = _safe_logger()
