"""Untrusted text made safe to show: on a terminal, in a log line, in a receiver's payload.

File names, log lines, receivers' answers and config strings may hold characters that drive a
terminal or fool its reader: escape sequences (colours, cursor moves, window titles, links),
other C0 and C1 controls, CR and LF (a newline in a file name forges a line of its own on
stderr), DEL, and the bidirectional-text controls that reorder what is shown (U+202E makes
``gol.exe`` read ``exe.log``). ``safe_text`` writes every one of them as a visible escape
(``\\x1b``, ``\\n``, ``\\u202e``), so nothing is silently lost, and the result is one line of
printable text. ``safe_block`` does the same but keeps newlines and tabs, for text that is a
block of lines by nature (a traceback sample).

Backslashes are not doubled: the output is for reading, not for parsing back (the JSON outputs
carry the exact text). Both functions are idempotent: their output holds nothing to escape.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

# C0 controls, DEL, C1 controls; bidi embeddings/overrides/isolates and marks; the Unicode
# line and paragraph separators (some viewers break lines there); lone surrogates (an
# undecodable file name under surrogateescape, which a strict encoder would refuse).
_UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069"
    "\ud800-\udfff]"
)
_UNSAFE_IN_BLOCK = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069"
    "\ud800-\udfff]"
)
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _visible(match: re.Match[str]) -> str:
    char = match.group()
    named = _NAMED.get(char)
    if named is not None:
        return named
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def safe_text(text: str) -> str:
    """``text`` as one line of printable text: every control (C0, C1, DEL, CR, LF, tab),
    bidi control and line separator written as a visible escape such as ``\\x1b``."""
    return _UNSAFE.sub(_visible, text)


def safe_block(text: str) -> str:
    """Like ``safe_text``, but newlines and tabs are kept (a block of lines)."""
    return _UNSAFE_IN_BLOCK.sub(_visible, text)


def common_start(texts: Sequence[str]) -> str:
    """The longest start all ``texts`` share, character by character ("" for none)."""
    if not texts:
        return ""
    first, last = min(texts), max(texts)  # the most different two bound all the others
    size = 0
    for a, b in zip(first, last, strict=False):
        if a != b:
            break
        size += 1
    return first[:size]
