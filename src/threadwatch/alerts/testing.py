"""Test doubles we use ourselves and ship for users' tests: a fake clock and a memory sink."""

from __future__ import annotations

from collections import deque

from threadwatch.alerts.model import Notification
from threadwatch.errors import DeliveryError


class FakeClock:
    """A clock that moves only when told: ``clock()`` is the time, ``advance(s)`` moves it."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        """Move forward ``seconds``; return the new time."""
        self.now += seconds
        return self.now


class MemorySink:
    """A sink that keeps what it is sent; ``failures`` (raised in order, first) simulate
    an outage."""

    def __init__(self) -> None:
        self.sent: list[Notification] = []
        self.failures: deque[DeliveryError] = deque()
        self.closed = False

    def fail_next(self, times: int = 1, error: DeliveryError | None = None) -> None:
        """Make the next ``times`` sends raise ``error`` (default: a retryable HTTP 503)."""
        for _ in range(times):
            self.failures.append(error or DeliveryError("HTTP 503", retryable=True))

    def send(self, notification: Notification) -> None:
        if self.failures:
            raise self.failures.popleft()
        self.sent.append(notification)

    def close(self) -> None:
        self.closed = True
