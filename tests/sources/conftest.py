"""Fixtures for the source tests: real logrotate (required in CI), and no leaked threads."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

_HERE = str(Path(__file__).parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)


@pytest.fixture
def logrotate() -> str:
    """The logrotate program; skips without it, but fails when CI is set."""
    path = shutil.which("logrotate") or next(
        (p for p in ("/usr/sbin/logrotate", "/sbin/logrotate") if os.path.exists(p)), None
    )
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("logrotate is required in CI (apt-get install logrotate)")
        pytest.skip("logrotate is not installed (apt-get install logrotate)")
    return path
