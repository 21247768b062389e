"""Fixtures for the guard tests: captured guard lines, and a check that no test leaks threads."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

# Process-pool workers import test items by module name; they inherit sys.path, so putting
# this folder on it works whatever pytest import mode is in use.
_HERE = str(Path(__file__).parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

GUARD_PREFIX = "threadwatch-guard event="


@pytest.fixture
def guard_lines(caplog: pytest.LogCaptureFixture) -> Callable[[], list[str]]:
    """Return a function giving the guard event messages logged so far, in order."""
    caplog.set_level(logging.INFO, logger="threadwatch.guard")

    def lines() -> list[str]:
        return [
            record.getMessage()
            for record in caplog.records
            if record.name == "threadwatch.guard" and record.getMessage().startswith(GUARD_PREFIX)
        ]

    return lines


@pytest.fixture
def guard_records(caplog: pytest.LogCaptureFixture) -> Callable[[], list[logging.LogRecord]]:
    """Return a function giving the guard event log records (with their levels)."""
    caplog.set_level(logging.INFO, logger="threadwatch.guard")
    return lambda: [r for r in caplog.records if r.getMessage().startswith(GUARD_PREFIX)]


@pytest.fixture
def count_daemon_threads() -> bool:
    """The guard's tests start and stop every thread they make, daemon or not."""
    return True
