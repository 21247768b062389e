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
        """A line start from which a restart reads nothing twice and loses nothing: the start
        of an open block's line, of a line being skipped, or after the last complete line."""
        if self._block is not None:
            return self._block.line_start
        if self._skipping_from is not None:
            return self._skipping_from
        return self._offset

    @property
    def pending(self) -> bool:
        """True while a traceback block is open."""
        return self._block is not None

    def take_notices(self) -> list[Notice]:
        """The notices since the last call (a follower hands them on as it reads)."""
        notices = self.notices
        if notices:
            self.notices = []
        return notices

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
        return self._finish_block() if self._block is not None else []

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
        headers = self._grammar.headers(buf, pos, end)
        # lines inside a block are read one by one: no folded sample event may straddle one
        found = self._grammar.events(buf, pos, end, self.source, base, fold=not headers)
        too_long = _long_lines(buf, pos, end, self._max_line)
        if too_long:  # complete lines over the limit are skipped too, wherever chunks end
            for start, stop in too_long:
                self.notices.append(Notice(
                    base + start, f"skipped a line of {stop - start} bytes (longer than the limit)"
                ))
            found = [e for e in found if not _inside(e.offset - base, too_long)]
            headers = [h for h in headers if not _inside(h, too_long)]
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
            line_start = buf.rfind(b"\n", 0, header) + 1
            header_line = buf[header:newline].rstrip(b"\r")
            self._block = Block(base + header, base + line_start, [header_line])
            pos = self._continue_block(buf, newline + 1, end, events)
        events += [event for event in found[index:] if event.offset >= base + pos]

    def _continue_block(self, buf: bytes, pos: int, end: int, events: list[Event]) -> int:
        """Feed lines to the open block until it ends (return that line's start) or ``end``."""
        base = self._offset
        prefix = self._grammar.program_prefix
        while pos < end:
            block = self._block
            assert block is not None
            newline = buf.index(b"\n", pos, end)
            # a message glued onto a traceback line (concurrent prints) is read on its own
            glued = prefix.search(buf, pos + 1, newline)
            cut = glued.start() if glued is not None else newline
            step = block.push(buf[pos:cut], prefix)
            if step is Step.ENDED:
                events += self._finish_block()
                return pos
            if step is Step.INTERLEAVED:  # another print inside the block: read it on its own
                block.held += self._grammar.events(buf, pos, newline, self.source, base)
            elif cut < newline:
                block.held += self._grammar.events(buf, cut, newline, self.source, base)
            pos = newline + 1
        return pos

    def _finish_block(self) -> list[Event]:
        """The block's event, then the events of lines printed inside it."""
        block = self._block
        assert block is not None
        self._block = None
        kind, fields = block.classify()
        event = Event(kind, self.source, block.offset, text=block.text(), **fields)  # type: ignore[arg-type]
        return [event, *block.held]


def _long_lines(buf: bytes, start: int, end: int, limit: int) -> list[tuple[int, int]]:
    """The (start, stop) of complete lines in ``buf[start:end]`` longer than ``limit`` (stop is
    past the newline). Steps from the last newline of each ``limit``-sized window, so a
    buffer of short lines costs a few searches."""
    found = []
    pos = start
    while end - pos > limit:
        newline = buf.rfind(b"\n", pos, pos + limit + 1)
        if newline >= 0:
            pos = newline + 1
            continue
        stop = buf.index(b"\n", pos, end) + 1
        found.append((pos, stop))
        pos = stop
    return found


def _inside(position: int, spans: list[tuple[int, int]]) -> bool:
    return any(start <= position < stop for start, stop in spans)

