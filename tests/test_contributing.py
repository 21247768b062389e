"""CONTRIBUTING.md's recipes name files and names that exist (the ones a recipe creates aside),
and the README sends a contributor there."""

from __future__ import annotations

import re
from pathlib import Path

from threadwatch.alerts.sinks import registry
from threadwatch.health import metrics
from threadwatch.parse import patterns

REPO = Path(__file__).resolve().parents[1]
GUIDE = (REPO / "CONTRIBUTING.md").read_text("utf-8")
MADE_BY_THE_RECIPES = {"src/threadwatch/alerts/sinks/ntfy.py", "tests/alerts/test_alert_ntfy.py"}


def test_every_path_the_guide_names_exists() -> None:
    paths = set(re.findall(r"`((?:src|tests|docs|benchmarks|config|\.ci)/[\w./-]+)", GUIDE))
    assert len(paths) > 10
    missing = sorted(p for p in paths - MADE_BY_THE_RECIPES if not (REPO / p).exists())
    assert missing == []


def test_the_names_the_recipes_use_exist() -> None:
    for module, name in [(patterns, "CountKey"), (patterns, "PATTERNS"),
                         (patterns, "MessagePattern"), (metrics, "_SPECIAL"),
                         (registry, "register_sink"), (registry, "SinkSettings")]:
        assert hasattr(module, name), name
    assert hasattr(registry.SinkSettings, "conflict")
    assert {"counts", "routine"} <= set(patterns.MessagePattern.__dataclass_fields__)


def test_the_readme_points_to_the_guide() -> None:
    assert "CONTRIBUTING.md" in (REPO / "README.md").read_text("utf-8")
