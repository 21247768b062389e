"""The console-script entry point: the cyclic garbage collector is paused for one-shot commands
(their start-up makes only objects that live as long as the process) and on for ``tail``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "logs"


def collector_at_exit(*args: str) -> str:
    """What the collector was doing when the command ended (an atexit handler, which runs on
    the way out of main), as ``enabled=…, frozen=…``."""
    code = (
        "import atexit, gc, sys\n"
        "atexit.register(lambda: print(f'enabled={gc.isenabled()},"
        " frozen={gc.get_freeze_count() > 0}', file=sys.stderr))\n"
        f"sys.argv = ['threadwatch', *{list(args)!r}]\n"
        "from threadwatch.cli import main\n"
        "main()\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            stdin=subprocess.DEVNULL, timeout=60, check=False)
    return result.stderr.splitlines()[-1]


def test_a_report_runs_without_the_collector() -> None:
    host = FIXTURES / "host-a" / "tmp_batt_k3J9xQ2mPa_run.log"
    assert collector_at_exit("report", str(host)) == "enabled=False, frozen=False"


def test_tail_runs_with_the_collector_and_start_up_left_out(tmp_path: Path) -> None:
    # tail on standard input alone ends when it does (here at once: it is empty)
    state = str(tmp_path / "state.db")
    said = collector_at_exit("tail", "--format", "jsonl", "--state", state, "-")
    assert said == "enabled=True, frozen=True"


@pytest.mark.parametrize("args", [["--help"], ["report", "--no-such-option"]])
def test_help_and_usage_errors_end_as_usual(args: list[str]) -> None:
    assert collector_at_exit(*args).startswith("enabled=False")
