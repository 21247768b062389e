"""Counts are typed: a count or rate key that does not exist is a type error (mypy), not a
KeyError at run time; rules name their metric from the same keys."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CHECKED = '''from threadwatch.health.levels import Level
from threadwatch.health.metrics import Counts, Rates
from threadwatch.health.settings import Rule

def read(counts: Counts, rates: Rates) -> float:
    return counts["{count}"] + (rates["{rate}"] or 0.0)

RULE = Rule(level=Level.RED, count="{count}", at_least=1)
'''


def _mypy(tmp_path: Path, count: str, rate: str) -> list[str]:
    source = tmp_path / "uses_counts.py"
    source.write_text(CHECKED.format(count=count, rate=rate))
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--config-file",
         str(REPO / "pyproject.toml"), "--cache-dir", str(tmp_path / "cache"), str(source)],
        capture_output=True, text=True, cwd=tmp_path, check=False)
    return [line for line in result.stdout.splitlines() if ": error:" in line]


@pytest.mark.parametrize(("count", "rate", "wrong_lines"), [
    ("memory_errors", "sample_failures", set()),
    ("memory_erors", "sample_failures", {6, 8}),  # the read and the rule
    ("memory_errors", "sample_failure", {6}),
])
def test_a_misspelt_key_is_a_type_error(
    tmp_path: Path, count: str, rate: str, wrong_lines: set[int]
) -> None:
    errors = _mypy(tmp_path, count, rate)
    assert {int(line.split(":")[1]) for line in errors} == wrong_lines, errors
