"""The report table as a pipe gets it: the counts and a source's whole name on one line, each
reason on one line however long (grep finds it whole)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "logs"


def test_a_pipe_gets_whole_names_and_whole_reason_lines() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "threadwatch", "report", str(FIXTURES)],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert result.returncode == 2, result.stderr
    lines = result.stdout.splitlines()
    # the longest name, 38 characters, is not folded onto a second line
    assert any(line.rstrip().endswith("host-a/tmp_batt_k3J9xQ2mPa_run.log.1.gz") for line in lines)
    why = lines.index("why:")
    reasons = lines[why + 1 :]
    # a reason longer than the table is not wrapped: every line after "why:" is a reason
    assert any(len(line) > 140 for line in reasons), reasons
    assert all(line.startswith("  ") for line in reasons if line), reasons
