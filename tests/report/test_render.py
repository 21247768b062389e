"""The report table as a pipe gets it: the counts and a source's whole name on one line, each
reason on one line however long (grep finds it whole)."""

from __future__ import annotations

import contextlib
import fcntl
import os
import pty
import re
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest

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


def _on_a_terminal(columns: int, *args: str) -> list[str]:
    """``threadwatch report ARGS`` with its output on a pseudo-terminal ``columns`` wide: the
    lines it shows, colours taken out."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
    env = {key: value for key, value in os.environ.items() if key not in ("COLUMNS", "LINES")}
    process = subprocess.Popen([sys.executable, "-m", "threadwatch", "report", *args],
                               stdout=follower, stderr=subprocess.DEVNULL, env=env)
    os.close(follower)
    shown = b""
    with contextlib.suppress(OSError):  # EIO once the process has closed the terminal
        while chunk := os.read(leader, 65536):
            shown += chunk
    os.close(leader)
    assert process.wait(60) == 2
    return [re.sub(r"\x1b\[[0-9;]*m", "", line) for line in shown.decode().splitlines()]


@pytest.mark.parametrize("columns", [80, 60])
def test_a_narrow_terminal_cuts_no_level_and_no_number(columns: int) -> None:
    # on 80 columns the level was cut ("YEL…", "GRE…"), 100% read "10…", and a name was
    # folded 4 characters a line; on 60 the names were gone
    lines = _on_a_terminal(columns, str(FIXTURES))
    table = lines[: lines.index("why:")]
    rows = [line.split() for line in table if line.split()[:1] in (["YELLOW"], ["GREEN"],
                                                                    ["RED"])]
    assert len(rows) == 8, table  # seven sources and the total, each level whole
    assert not any("…" in line for line in table), table
    assert ["RED", "8", "38%", "62%", "20%", "3%", "7%", "0", "0", "0", "0", "1"] in [
        row[:12] for row in rows]
    # the names fold into their column, whole
    start = next(line for line in table if "source" in line).index("source")
    names = "".join(line[start:].strip() for line in table)
    assert "host-a/tmp_batt_k3J9xQ2mPa_run.log.1.gz" in names, table
    assert names.endswith("total")
