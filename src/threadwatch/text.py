"""Text that is safe to show on a terminal.

A log line must never be able to drive the operator's terminal: escape sequences (colours,
cursor moves, window titles, hyperlinks) and control characters are removed before display.
"""

from __future__ import annotations

import re

_CONTROL = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI sequences (colours, cursor moves)
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC sequences (titles, hyperlinks)
    r"|\x1b[@-Z\\-_]?"  # other escapes
    r"|[\x00-\x08\x0b-\x1f\x7f-\x9f]"  # C0/C1 controls but tab and newline
)


def safe_text(text: str) -> str:
    """``text`` without escape sequences and control characters (tabs and newlines kept)."""
    return _CONTROL.sub("", text)
