"""Helpers shared by the alert tests: configs, scope healths, level changes, a receiver."""

from __future__ import annotations

import json
import threading
from typing import Any

from werkzeug import Request, Response

from threadwatch.alerts.settings import AlertsConfig
from threadwatch.health.rules import Level, Reason, Verdict
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
