"""Helpers shared by the alert tests: configs, scope healths, level changes, a receiver."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from werkzeug import Request, Response

from threadwatch.alerts.settings import AlertsConfig
from threadwatch.health.levels import Level
from threadwatch.health.rules import Reason, Verdict
from threadwatch.health.window import LevelChange, ScopeHealth

OVERLOAD_RED = Reason(Level.RED, "overload", True, 0.62, ">", 0.5, "system overload")
OVERLOAD_YELLOW = Reason(Level.YELLOW, "overload", True, 0.3, ">", 0.25, "overload frequent")


def alerts_config(**overrides: Any) -> AlertsConfig:
    """An AlertsConfig with fixed times and host unless overridden."""
    values: dict[str, Any] = {"hold_seconds": 120, "repeat_seconds": 3600,
                              "group_wait_seconds": 10, "host": "test-host"}
    values.update(overrides)
    return AlertsConfig.model_validate(values)


def health(scope: str, level: Level) -> ScopeHealth:
    """A scope's health at ``level`` with a matching overload reason."""
    reasons = {Level.RED: (OVERLOAD_RED,), Level.YELLOW: (OVERLOAD_YELLOW,)}.get(level, ())
    return ScopeHealth(scope, {}, {}, Verdict(level, reasons))


def change(scope: str, previous: Level, current: Level, at: float) -> LevelChange:
    """A level change of ``scope`` at ``at``."""
    return LevelChange(scope, previous, current, health(scope, current), at)


class Receiver:
    """An HTTP handler (pytest-httpserver) that answers 503 while ``down``, else 200, and keeps
    what it accepted as (path, JSON body)."""

    def __init__(self) -> None:
        self.down = True
        self.accepted: list[tuple[str, dict[str, Any]]] = []
        self.lock = threading.Lock()

    def __call__(self, request: Request) -> Response:
        with self.lock:
            if self.down:
                return Response("down", status=503)
            self.accepted.append((request.path, json.loads(request.get_data())))
        return Response("ok")


class TricklingReceiver:
    """A real HTTP receiver on 127.0.0.1 that reads each request whole, then answers one byte
    every ``interval`` seconds (status line first, then an endless header), so every read of
    the client completes quickly and no answer ever does. It gives up on a connection after
    ``give_up_seconds`` (so a client without a deadline fails a test instead of hanging it).
    Use as a context manager; ``requests`` counts the requests read."""

    def __init__(self, interval: float = 1.0, give_up_seconds: float = 60.0) -> None:
        self._interval = interval
        self._give_up = give_up_seconds
        self._server = socket.create_server(("127.0.0.1", 0))
        self._server.settimeout(0.05)
        self.port = int(self._server.getsockname()[1])
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self.requests = 0

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def __enter__(self) -> TricklingReceiver:
        self._spawn(self._accept)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(10)
        self._server.close()

    def _spawn(self, target: Callable[..., None], *args: object) -> None:
        thread = threading.Thread(target=target, args=args, name="test-trickle", daemon=True)
        with self._lock:
            self._threads.append(thread)
        thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self._server.accept()
            except TimeoutError:
                continue
            self._spawn(self._trickle, connection)

    def _trickle(self, connection: socket.socket) -> None:
        with connection:
            connection.settimeout(5)
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = connection.recv(65536)
                if not chunk:
                    return
                data += chunk
            head, _, body = data.partition(b"\r\n\r\n")
            length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                           if line.lower().startswith(b"content-length:")), 0)
            while len(body) < length:
                chunk = connection.recv(65536)
                if not chunk:
                    return
                body += chunk
            with self._lock:
                self.requests += 1
            answer = b"HTTP/1.1 200 OK\r\nX-Slow: " + b"z" * 1_000_000
            started = time.monotonic()
            for byte in answer:
                if self._stop.wait(self._interval) or time.monotonic() - started > self._give_up:
                    return
                try:
                    connection.sendall(bytes([byte]))
                except OSError:  # the client gave up
                    return
