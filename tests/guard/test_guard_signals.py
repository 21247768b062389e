"""Cancellation: a real SIGTERM mid-batch, through the guard's handler or the program's own."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from guard_items import sleep_then_double

from threadwatch.guard import GuardPolicy, ItemStatus, cancel_running_batches, run_batch

SRC = str(Path(__file__).resolve().parents[2] / "src")
ITEMS = str(Path(__file__).parent)

PROGRAM = """
import logging, os, signal, sys
from pathlib import Path
from threadwatch.guard import GuardPolicy, cancel_on_signals, cancel_running_batches, log_lines_to
from threadwatch.guard import run_batch
from guard_items import record_pid_then_sleep

def own_handler(signum, frame):  # run_batt's handler, with the guard's hook first
    cancel_running_batches(signal.Signals(signum).name)
    raise KeyboardInterrupt

if __name__ == "__main__":
    log_lines_to(sys.stdout)
    folder, pool, style = sys.argv[1:4]
    work = [(folder, k, 0.05 if k == 0 else 30) for k in range(5)]
    if style == "own":
        signal.signal(signal.SIGTERM, own_handler)
        run_batch(record_pid_then_sleep, work, GuardPolicy(pool=pool))
    else:
        with cancel_on_signals():
            run_batch(record_pid_then_sleep, work, GuardPolicy(pool=pool))
"""


def _dead(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split(") ")[1].startswith("Z")


@pytest.mark.parametrize(
    ("pool", "style", "exit_code"),
    [("loky", "guard", 128 + signal.SIGTERM), ("stdlib", "own", None)],
    ids=["loky-cancel_on_signals", "stdlib-programs-own-handler"],
)
def test_sigterm_mid_batch_cancels_open_items_ends_workers_and_logs_batch_done(
    pool: str, style: str, exit_code: int | None, tmp_path: Path
) -> None:
    script = tmp_path / "program.py"
    script.write_text(PROGRAM)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([SRC, ITEMS])}
    program = subprocess.Popen(
        [sys.executable, "-u", str(script), str(tmp_path), pool, style],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    try:
        deadline = time.monotonic() + 30
        # three workers (max_workers) have started an item each: items 0, 1, 2
        while len(list(tmp_path.glob("*.pid"))) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.2)
        program.send_signal(signal.SIGTERM)
        stdout, stderr = program.communicate(timeout=20)
    finally:
        if program.poll() is None:
            program.kill()
            program.wait()
    if exit_code is not None:
        assert program.returncode == exit_code
    else:  # KeyboardInterrupt raised by the program's handler ends it
        assert "KeyboardInterrupt" in stderr
    done = [line for line in stdout.splitlines() if " event=batch_done " in line]
    assert len(done) == 1
    # item 0 finished; item 1 and 2 were running, 3 and 4 waiting: four cancelled
    assert done[0].endswith(" timed_out=0 cancelled=4 memory_errors=0 stopped=SIGTERM")
    assert " ok=1 failed=0 " in done[0]
    for pid_file in tmp_path.glob("*.pid"):
        worker = int(pid_file.read_text())
        assert worker != program.pid
        end = time.monotonic() + 5
        while not _dead(worker) and time.monotonic() < end:
            time.sleep(0.05)
        assert _dead(worker), pid_file.name


def test_cancelling_a_thread_batch_returns_at_once_with_cancelled_items() -> None:
    timer = threading.Timer(0.3, cancel_running_batches, args=("operator",))
    timer.start()
    started = time.monotonic()
    result = run_batch(sleep_then_double, [(0.01, 0), (0.8, 1), (0.8, 2)], GuardPolicy())
    timer.join()
    assert time.monotonic() - started < 0.7
    assert result.stopped == "operator"
    assert [o.status for o in result.outcomes] == [
        ItemStatus.OK, ItemStatus.CANCELLED, ItemStatus.CANCELLED
    ]


def test_cancelling_with_no_batch_running_does_nothing() -> None:
    assert cancel_running_batches() == 0
