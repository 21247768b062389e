"""Following one file: read what was appended, notice when its content was replaced, keep the
checkpoint of the content being read.

The only per-file buffer is the scanner's partial last line. The file handle may be closed while
the file is idle (``close_handle``) and is reopened by path, checked to still be the same inode.
A content replaced under the same inode (truncation, ``copytruncate``, ``tee`` rewriting it) is
noticed by the size dropping below the read position, by the fingerprint of the first bytes
changing, or by the last newline read no longer being there; the old
content's checkpoint is then retired and the new content read from its start.
"""

from __future__ import annotations

import contextlib
import os

from threadwatch.events import Event
from threadwatch.parse.grammar import Grammar
from threadwatch.parse.scanner import Notice, Scanner
from threadwatch.sources.checkpoints import Checkpoint
from threadwatch.sources.files import NotRegularFile, open_regular
from threadwatch.sources.identity import (
    FileId,
    ends_line_at,
    has_prefix,
    take_fingerprint,
)

CHUNK_BYTES = 1 << 20


class Follower:
    """Reads one followed file.

    Args:
        name: the source name its events carry (the path it was first seen at).
        fd: the file, open for reading.
        checkpoint: the content being read and where to start.
        grammar: the messages to find.
        max_line_bytes: longer lines are skipped (and said so).
        now: observed time.
    """

    def __init__(
        self,
        name: str,
        fd: int,
        checkpoint: Checkpoint,
        grammar: Grammar,
        *,
        max_line_bytes: int,
        now: float,
    ) -> None:
        self.name = name
        self.checkpoint = checkpoint
        self.file_id = checkpoint.file_id
        self.last_data_at = now
        self.orphaned_at: float | None = None
        self.behind = False
        self.size_seen = checkpoint.offset  # the file's size at the last read
        self.retired: list[Checkpoint] = []
        self._fd: int | None = fd
        self._grammar = grammar
        self._max_line = max_line_bytes
        self._scanner = self._new_scanner(checkpoint.offset)
        self._position = checkpoint.offset
        # where the last newline read is: a rewritten file rarely has one at the same place
        self._last_newline = checkpoint.offset - 1
        self._mtime = os.fstat(fd).st_mtime_ns

    @property
    def path(self) -> str:
        return self.checkpoint.path

    @path.setter
    def path(self, path: str) -> None:
        if path != self.checkpoint.path:
            self.checkpoint.path = path
            self.checkpoint.dirty = True

    @property
    def is_open(self) -> bool:
        return self._fd is not None

    @property
    def pending(self) -> bool:
        """True while a traceback block waits for its end."""
        return self._scanner.pending

    def read(self, now: float, budget: int) -> list[Event]:
        """Events of what was appended since the last read (at most ``budget`` bytes read).

        Sets ``behind`` when the budget ran out before the end of the file.

        Raises:
            OSError: the file cannot be read any more (unreadable, I/O error).
        """
        fd = self._reopen()
        if fd is None:
            return []
        status = os.fstat(fd)
        size = self.size_seen = status.st_size
        events: list[Event] = []
        # a rewrite may leave the size unchanged (tee rounds of equal length): mtime tells
        if (size != self._position or status.st_mtime_ns != self._mtime) and self._replaced(
            fd, size
        ):
            events += self._restart(fd, size)
        self._mtime = status.st_mtime_ns
        start = self._position
        while budget > 0:
            chunk = os.pread(fd, min(CHUNK_BYTES, budget), self._position)
            if not chunk:
                break
            budget -= len(chunk)
            newline = chunk.rfind(b"\n")
            if newline >= 0:
                self._last_newline = self._position + newline
            self._position += len(chunk)
            events += self._scanner.feed(chunk)
        self.behind = budget <= 0
        if self._position != start:
            self.last_data_at = now
            if not self.checkpoint.fingerprint.complete:
                self._grow_fingerprint(fd)
        return events

    @property
    def lag_bytes(self) -> int:
        """Bytes not read yet, as of the last read."""
        return max(0, self.size_seen - self._position)

    def flush(self) -> list[Event]:
        """End an open traceback block (no line came for a while)."""
        return self._scanner.flush()

    def finish(self, now: float) -> list[Event]:
        """The file is gone: read what is left, end a final unterminated line, and let go."""
        events: list[Event] = []
        if self._fd is not None:
            with contextlib.suppress(OSError):  # nothing more can be read: end with what was
                events += self.read(now, 1 << 62)
        events += self._scanner.close()
        self.close_handle()
        return events

    def sync_checkpoint(self) -> None:
        """Move the checkpoint to what has been turned into events (call after delivering them)."""
        self.checkpoint.move_to(self._scanner.safe_offset)

    def take_notices(self) -> list[Notice]:
        return self._scanner.take_notices()

    def close_handle(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _new_scanner(self, offset: int) -> Scanner:
        return Scanner(self.name, self._grammar, start_offset=offset,
                       max_line_bytes=self._max_line)

    def _reopen(self) -> int | None:
        """The open file; reopened by path if it was closed while idle. None if the path no
        longer holds this file (or holds nothing new): discovery finds where it went."""
        if self._fd is not None:
            return self._fd
        try:
            status = os.stat(self.path)
        except FileNotFoundError:
            return None
        if FileId.of(status) != self.file_id or (
            status.st_size == self._position and status.st_mtime_ns == self._mtime
        ):
            return None
        try:
            fd = open_regular(self.path)
        except NotRegularFile:  # replaced by a FIFO or a device between stat and open
            return None
        if FileId.of(os.fstat(fd)) != self.file_id:  # replaced between stat and open
            os.close(fd)
            return None
        self._fd = fd
        return fd

    def _replaced(self, fd: int, size: int) -> bool:
        fingerprint = self.checkpoint.fingerprint
        return (
            size < self._position
            or not has_prefix(fd, fingerprint)
            or not ends_line_at(fd, self._last_newline + 1)
        )

    def _restart(self, fd: int, size: int) -> list[Event]:
        """The content was replaced: end the old one (its partial last line is gone with it)."""
        events = self._scanner.flush()
        old = self.checkpoint
        old.move_to(self._scanner.safe_offset)
        old.retire()
        self.retired.append(old)
        self.checkpoint = Checkpoint(self.file_id, take_fingerprint(fd, size), old.path, 0)
        self._scanner = self._new_scanner(0)
        self._position = 0
        self._last_newline = -1
        return events

    def _grow_fingerprint(self, fd: int) -> None:
        size = os.fstat(fd).st_size
        if size > self.checkpoint.fingerprint.length:
            self.checkpoint.fingerprint = take_fingerprint(fd, size)
            self.checkpoint.dirty = True


def open_file(path: str) -> int:
    """Open a file to follow, never blocking (a FIFO swapped in after discovery looked at the
    path is refused, not waited on).

    Raises:
        NotRegularFile: it is not a regular file.
        OSError: it cannot be opened.
    """
    return open_regular(path)
