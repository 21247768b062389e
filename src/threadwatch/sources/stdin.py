"""Standard input as a followed source (``threadwatch tail -``).

A pipe cannot be polled like a file, so a daemon thread blocks on it and hands chunks over; it
is a daemon because a blocked ``read`` cannot be interrupted, and nothing is lost by abandoning
it at exit (standard input has no checkpoint: it cannot be re-read after a restart).
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable

from threadwatch.events import Event
from threadwatch.parse.grammar import Grammar
from threadwatch.parse.scanner import Notice, Scanner
from threadwatch.sources.files import STDIN

_CHUNK = 1 << 16
_EOF = b""


class StdinFollower:
    """Reads a file descriptor (standard input by default) on a background thread.

    Args:
        grammar: the messages to find.
        max_line_bytes: longer lines are skipped.
        wake: called (from the reader thread) when data or the end arrived.
        fd: the descriptor to read.
    """

    name = STDIN

    def __init__(
        self, grammar: Grammar, max_line_bytes: int, wake: Callable[[], None], fd: int = 0
    ) -> None:
        self._scanner = Scanner(STDIN, grammar, max_line_bytes=max_line_bytes)
        self._chunks: queue.SimpleQueue[bytes] = queue.SimpleQueue()
        self._wake = wake
        self._fd = fd
        self.last_data_at = 0.0
        self.finished = False
        self._thread = threading.Thread(target=self._pump, name="threadwatch-stdin", daemon=True)
        self._thread.start()

    @property
    def pending(self) -> bool:
        return self._scanner.pending

    def read(self, now: float) -> list[Event]:
        """Events of the chunks that arrived; at the end of input, also the last line."""
        events: list[Event] = []
        while not self.finished:
            try:
                chunk = self._chunks.get_nowait()
            except queue.Empty:
                break
            if chunk == _EOF:
                events += self._scanner.close()
                self.finished = True
            else:
                events += self._scanner.feed(chunk)
                self.last_data_at = now
        return events

    def flush(self) -> list[Event]:
        return self._scanner.flush()

    def take_notices(self) -> list[Notice]:
        return self._scanner.take_notices()

    def _pump(self) -> None:
        while True:
            try:
                chunk = os.read(self._fd, _CHUNK)
            except OSError:
                chunk = _EOF
            self._chunks.put(chunk)
            self._wake()
            if chunk == _EOF:
                return
