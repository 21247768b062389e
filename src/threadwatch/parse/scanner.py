"""Bytes in, events out: the incremental scanner of one source, shared by ``report`` and ``tail``.

The compiled message table (``grammar.py``) finds the messages in a buffer; this module cuts the
input into complete lines, keeps a partial last line for later, and hands traceback blocks to
``tracebacks.py`` line by line until each block ends.

Input is bytes and never decoded as a whole: invalid UTF-8 or NUL bytes cannot stop a scan, and
only the fields of recognised messages are decoded (with replacement characters).
"""

from __future__ import annotations

from dataclasses import dataclass

from threadwatch.events import Event
from threadwatch.parse.grammar import Grammar
from threadwatch.parse.tracebacks import Block, Step

DEFAULT_MAX_LINE_BYTES = 1 << 20


@dataclass(frozen=True)
class Notice:
    """Something the scanner skipped, said in one line."""

    offset: int
    message: str


class Scanner:
    """Turns the bytes of one source, fed in pieces, into events.

    ``feed`` consumes complete lines only and keeps a partial last line for the next call.
    ``flush`` ends an open traceback block (a tailer calls it after a quiet spell); ``close``
    also reads a final line that has no newline. ``safe_offset`` is where a restart must resume
    so that nothing is read twice and nothing lost.

    Args:
        source: the name events carry.
        grammar: which messages to look for.
        start_offset: byte offset of the first fed byte in the source.
        max_line_bytes: a line still incomplete past this many bytes is skipped to its end.
    """

    def __init__(
        self,
        source: str,
        grammar: Grammar,
        *,
        start_offset: int = 0,
        max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    ) -> None:
        self.source = source
        self.notices: list[Notice] = []
        self._grammar = grammar
        self._offset = start_offset
        self._partial = b""
        self._skipping_from: int | None = None
        self._block: Block | None = None
        self._max_line = max_line_bytes

    @property
    def consumed(self) -> int:
        """Offset just past the last complete line consumed."""
        return self._offset

    @property
    def safe_offset(self) -> int:
        """Offset of the first byte not yet turned into an event (an open block's start)."""
        return self._block.offset if self._block is not None else self._offset

    @property
    def pending(self) -> bool:
        """True while a traceback block is open."""
        return self._block is not None

    def feed(self, data: bytes) -> list[Event]:
        """Consume the complete lines of ``data`` (after what was left over); return events."""
        events: list[Event] = []
        if self._skipping_from is not None:
            newline = data.find(b"\n")
            if newline < 0:
                self._offset += len(data)
                return events
            self._end_skip(newline + 1)
            data = data[newline + 1 :]
        buf = self._partial + data if self._partial else data
        end = buf.rfind(b"\n") + 1
        if end:
            self._scan(buf, end, events)
            self._offset += end
        self._partial = buf[end:]
        if len(self._partial) > self._max_line:
            self._skipping_from = self._offset
            self._offset += len(self._partial)
            self._partial = b""
        return events

    def flush(self) -> list[Event]:
        """End an open traceback block now (no more lines are coming soon)."""
        return [self._finish_block()] if self._block is not None else []

    def close(self) -> list[Event]:
        """End of input: read a final unterminated line and end any open block."""
        events: list[Event] = []
        if self._skipping_from is not None:
            self._end_skip(0)
        elif self._partial:
            data = self._partial + b"\n"
            self._partial = b""
            self._scan(data, len(data), events)
            self._offset += len(data) - 1
        events.extend(self.flush())
        return events

    def _end_skip(self, skipped_now: int) -> None:
        assert self._skipping_from is not None
        self._offset += skipped_now
        length = self._offset - self._skipping_from
        self.notices.append(
            Notice(self._skipping_from, f"skipped a line of {length} bytes (longer than the limit)")
        )
        self._skipping_from = None

    def _scan(self, buf: bytes, end: int, events: list[Event]) -> None:
        base = self._offset
        pos = self._continue_block(buf, 0, end, events) if self._block is not None else 0
        if pos >= end:
            return
        found = self._grammar.events(buf, pos, end, self.source, base)
        headers = self._grammar.headers(buf, pos, end)
        if not headers:
            events += found
            return
        # interleave blocks with messages: a block swallows the messages on its own lines
        index = 0
        for header in headers:
            if header < pos:
                continue
            limit = base + header
            while index < len(found) and found[index].offset < limit:
                if found[index].offset >= base + pos:
                    events.append(found[index])
                index += 1
            newline = buf.index(b"\n", header, end)
            self._block = Block(base + header, [buf[header:newline].rstrip(b"\r")])
            pos = self._continue_block(buf, newline + 1, end, events)
        events += [event for event in found[index:] if event.offset >= base + pos]

    def _continue_block(self, buf: bytes, pos: int, end: int, events: list[Event]) -> int:
        """Feed lines to the open block until it ends (return that line's start) or ``end``."""
        base = self._offset
        while pos < end:
            block = self._block
            assert block is not None
            newline = buf.index(b"\n", pos, end)
            step = block.push(buf[pos:newline], self._grammar.program_prefix)
            if step is Step.ENDED:
                events.append(self._finish_block())
                return pos
            if step is Step.INTERLEAVED:  # another print inside the block: read it on its own
                events += self._grammar.events(buf, pos, newline, self.source, base)
            pos = newline + 1
        return pos

    def _finish_block(self) -> Event:
        block = self._block
        assert block is not None
        self._block = None
        kind, fields = block.classify()
        return Event(kind, self.source, block.offset, text=block.text(), **fields)  # type: ignore[arg-type]

