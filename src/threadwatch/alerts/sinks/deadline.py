"""A total deadline for one HTTP request: connecting, TLS, sending, the status line, the headers
and the body must all be done by it, however the receiver paces its answer.

httpx and httpcore only have per-operation timeouts: a receiver that trickles its answer a byte
a second completes every read well within the read timeout and so holds the request open
forever. Checking a deadline between body chunks is not enough (the status line and headers
can be trickled too, and no chunk is ever returned); closing the client from a watchdog thread
does not wake a thread blocked in ``poll`` on Linux. So the deadline sits where every blocking
call is made: a network backend (httpcore's documented extension point) whose streams give each
connect, read and write ``min(its own timeout, time left)`` and refuse to start one when no
time is left. Nothing blocks past the deadline by more than one kernel call's rounding, and no
extra thread is needed.

Two limits, said here: name resolution (``getaddrinfo``) cannot be bounded from Python without a
thread, and a single ``write`` is cut into pieces so that a receiver reading slowly is noticed
between them.
"""

from __future__ import annotations

import math
import ssl
import time
import typing
from collections.abc import Iterable

import httpcore

_WRITE_PIECE = 16384  # bytes written per blocking call, so the deadline is checked between


class Deadline:
    """The monotonic end time of the request in flight (``inf`` between requests)."""

    def __init__(self) -> None:
        self.at = math.inf

    def start(self, seconds: float) -> None:
        self.at = time.monotonic() + seconds

    def clear(self) -> None:
        self.at = math.inf

    @property
    def passed(self) -> bool:
        return time.monotonic() >= self.at

    def left(self, timeout: float | None, error: type[Exception]) -> float | None:
        """``timeout`` cut to the time left; raises ``error`` when none is left (a timeout of
        0 would make the socket non-blocking, not fail it)."""
        remaining = self.at - time.monotonic()
        if remaining <= 0:
            raise error("deadline passed")
        if math.isinf(remaining):
            return timeout
        return remaining if timeout is None else min(timeout, remaining)


class DeadlineStream(httpcore.NetworkStream):
    """A network stream whose every blocking call ends by the deadline."""

    def __init__(self, stream: httpcore.NetworkStream, deadline: Deadline) -> None:
        self._stream = stream
        self._deadline = deadline

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, self._deadline.left(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        view = memoryview(buffer)
        for start in range(0, len(view), _WRITE_PIECE):
            piece = bytes(view[start:start + _WRITE_PIECE])
            self._stream.write(piece, self._deadline.left(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(self, ssl_context: ssl.SSLContext, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        # CPython bounds the whole handshake by the socket timeout it starts with
        left = self._deadline.left(timeout, httpcore.ConnectTimeout)
        return DeadlineStream(self._stream.start_tls(ssl_context, server_hostname, left),
                              self._deadline)

    def get_extra_info(self, info: str) -> typing.Any:
        return self._stream.get_extra_info(info)


class DeadlineBackend(httpcore.NetworkBackend):
    """httpcore's synchronous backend, its connections and streams bounded by ``deadline``."""

    def __init__(self, deadline: Deadline) -> None:
        self._backend = httpcore.SyncBackend()
        self._deadline = deadline

    def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                    local_address: str | None = None,
                    socket_options: Iterable[typing.Any] | None = None) -> httpcore.NetworkStream:
        left = self._deadline.left(timeout, httpcore.ConnectTimeout)
        return DeadlineStream(
            self._backend.connect_tcp(host, port, left, local_address, socket_options),
            self._deadline)

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: Iterable[typing.Any] | None = None
                            ) -> httpcore.NetworkStream:
        left = self._deadline.left(timeout, httpcore.ConnectTimeout)
        return DeadlineStream(self._backend.connect_unix_socket(path, left, socket_options),
                              self._deadline)

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)
