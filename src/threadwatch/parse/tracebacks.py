"""Grouping multi-line traceback blocks into one event and classifying them (CPython's
``Exception ignored in thread started by`` and ``Exception in thread`` blocks).

A block starts at a header (``Exception ignored in thread started by…``, ``Exception in thread
NAME:``, ``Traceback (most recent call last):``) and takes the lines that belong to a traceback:
indented frame, source and caret lines, chained-exception separators and the final
``Type: message`` line. Python 3.13's header form (colon after the repr) and the optional caret
line need no special case because they are recognised by shape, not by position.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field

from threadwatch.events import Event, Kind

HEADER_REGEXES = (
    r"Exception ignored in thread started by",
    r"Exception in thread [^\n]*:",
    r"Traceback \(most recent call last\):",
)

_MAX_KEPT_LINES = 60
# A final line names an exception class: a dotted name that reads like one. Anything else that
# is not indented (``hits: 12``, ``Running: …`` printed by a 2>&1 neighbour) is not the end.
_EXCEPTION_LINE = re.compile(
    rb"(?P<type>(?:[A-Za-z_]\w*\.)*(?:[A-Za-z_]\w*(?:Error|Exception|Warning|Exit|Interrupt"
    rb"|Iteration|Group|Failure|timeout)|Broken\w*))(?::(?P<message> [^\n]*)?)?\Z"
)
_HEADERS = (b"Exception ignored in thread started by", b"Exception in thread ")
_MAX_STRAY_LINES = 5  # unrecognised lines inside an unfinished block before it is given up
_CHAIN = (b"During handling of the above exception", b"The above exception was the direct cause")
_TRACEBACK = b"Traceback (most recent call last):"
_THREAD_REPR = re.compile(
    rb"<\w+\((?P<name>.*), (?P<status>initial|started|stopped)(?: daemon)?(?: (?P<ident>\d+))?\)>"
)
_EXCEPTION_IN_THREAD = re.compile(rb"Exception in thread (?P<name>.*):\Z")
_PYTHON_PATH = re.compile(rb"python(\d\.\d+)[/\\]")


class Step(enum.Enum):
    """What a line did to the open block."""

    TAKEN = "taken"  # the line belongs to the block
    INTERLEAVED = "interleaved"  # another program's line inside the block: read it on its own
    ENDED = "ended"  # the block ended before this line


@dataclass
class Block:
    """An open traceback block.

    ``offset`` is where the header starts, ``line_start`` where its line starts (a restart
    resumes there); ``held`` keeps the events of other programs' lines printed inside the
    block, given out after it so that nothing past ``line_start`` is out before the block is.
    """

    offset: int
    line_start: int
    lines: list[bytes]
    held: list[Event] = field(default_factory=list)
    final: bytes | None = None
    line_count: int = 1
    frames_seen: bool = False
    delete_frame: bool = False
    python_version: str | None = None
    _after_chain: bool = False
    _stray: int = 0

    def push(self, line: bytes, interleaved_prefix: re.Pattern[bytes]) -> Step:
        """Offer the next line (without its newline) to the block."""
        stripped = line.rstrip(b"\r")
        if stripped[:1] in (b" ", b"\t"):
            self._take(stripped)
            self.frames_seen = True
            if b"_delete" in stripped:
                self.delete_frame = True
            if self.python_version is None and (m := _PYTHON_PATH.search(stripped)):
                self.python_version = m[1].decode()
            return Step.TAKEN
        if not stripped or stripped.startswith(_CHAIN):
            self._take(stripped)
            if stripped:
                self.final = None
                self._after_chain = True
            return Step.TAKEN
        if stripped == _TRACEBACK:
            if self.final is None and (self.line_count == 1 or self._after_chain):
                self._after_chain = False
                self._take(stripped)
                return Step.TAKEN
            return Step.ENDED  # a new traceback
        if self.final is not None or stripped.startswith(_HEADERS):
            return Step.ENDED
        if interleaved_prefix.match(stripped):
            return Step.INTERLEAVED
        if _EXCEPTION_LINE.match(stripped):
            self.final = stripped
            self._take(stripped)
            return Step.TAKEN
        self._stray += 1  # a neighbour's line (2>&1) inside the block, or the block was cut
        return Step.INTERLEAVED if self._stray <= _MAX_STRAY_LINES else Step.ENDED

    def _take(self, line: bytes) -> None:
        self.line_count += 1
        if len(self.lines) < _MAX_KEPT_LINES:
            self.lines.append(line)

    def classify(self) -> tuple[Kind, dict[str, object]]:
        """The block's kind and fields, also for a block cut off before its last line."""
        header = self.lines[0]
        fields: dict[str, object] = {"python_version": self.python_version}
        final = _EXCEPTION_LINE.match(self.final) if self.final is not None else None
        if final is not None:
            fields["error_type"] = final["type"].decode("ascii", "replace")
            if final["message"] is not None:
                fields["message"] = final["message"][1:].decode("utf-8", "replace")
        started_by = header.startswith(b"Exception ignored in thread started by")
        if started_by:
            repr_match = _THREAD_REPR.search(header)
            if repr_match is not None:
                fields["thread_name"] = repr_match["name"].decode("utf-8", "replace")
                fields["thread_status"] = repr_match["status"].decode()
                if repr_match["ident"] is not None:
                    fields["thread_ident"] = int(repr_match["ident"])
            if self._is_cleanup_keyerror(fields):
                return Kind.THREAD_CLEANUP_KEYERROR, fields
            return Kind.THREAD_ERROR, fields
        if (named := _EXCEPTION_IN_THREAD.match(header)) is not None:
            fields["thread_name"] = named["name"].decode("utf-8", "replace")
            return Kind.THREAD_ERROR, fields
        return Kind.TRACEBACK, fields

    def _is_cleanup_keyerror(self, fields: dict[str, object]) -> bool:
        if self.final is None:  # cut off: trust the frame that raises it
            return self.delete_frame
        message = fields.get("message")
        if fields.get("error_type") != "KeyError" or not isinstance(message, str):
            return False
        return message.isdigit() and (self.delete_frame or not self.frames_seen)

    def text(self) -> str:
        """The block's kept lines as text."""
        kept = b"\n".join(self.lines)
        if self.line_count > len(self.lines):
            kept += b"\n[... %d more lines]" % (self.line_count - len(self.lines))
        return kept.decode("utf-8", "replace")
