"""Helpers shared by the alert tests: configs, scope healths and level changes."""

from __future__ import annotations

from typing import Any

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
    return ScopeHealth(scope, {}, {}, Verdict(level, reasons), None, None)


def change(scope: str, previous: Level, current: Level, at: float) -> LevelChange:
    """A level change of ``scope`` at ``at``."""
    return LevelChange(scope, previous, current, health(scope, current), at)
