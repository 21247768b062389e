"""The one logger of ``tail`` (``threadwatch.tail``), made safe for a terminal.

Messages name files, and a file name can hold escape sequences or a newline
(``run\\x1b]0;PWNED\\x07.log``): every record this logger emits goes through
``safelog.SafeTextFilter`` before any handler sees it, whatever the handler or format the
caller set up. Modules of ``tail`` log through ``logger`` from here, never through a logger of
their own.
"""

from __future__ import annotations

from threadwatch.safelog import SafeTextFilter, safe_logger

__all__ = ["LOGGER_NAME", "SafeTextFilter", "logger"]

LOGGER_NAME = "threadwatch.tail"

logger = safe_logger(LOGGER_NAME)
