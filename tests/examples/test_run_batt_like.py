"""The worked port (examples/run_batt_like) run for real under injected faults, as operators
run it (run_card.sh: timeout, python -u, tee), then `threadwatch report --format json` on its
logs. Every expected count is derived by hand from what the program does; the reasoning is
next to it.

The program runs three tasks (run_batt.py's TASKS):

====  ========  =======================  ========================================
 i    task      samples                  executor by run_batt's rule (guard)
====  ========  =======================  ========================================
 0    0ca9ddb6  demo 0-2, test 0 (4)     process pool (loky): 4 or more samples
 1    269e22fb  demo 0-1, test 0 (3)     thread pool: fewer than 4
 2    3bd292e8  demo 0-3, test 0 (5)     process pool (loky)
====  ========  =======================  ========================================

3bd292e8's demo[3] has a grid whose batt takes 30 s: its `-t 0.5` call times out and the sample
prints `-- 3bd292e8 - demo[3] timed out` (one sample timeout in every run that reaches task 2).
"""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from threadwatch.health.metrics import COUNT_KEYS

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "run_batt_like"
A_DAY = 86400


def counts(**nonzero: int) -> dict[str, int]:
    full = dict.fromkeys(COUNT_KEYS, 0)
    full.update(nonzero)
    return full


def run_card(folder: Path, fault: str = "", *options: str,
             preexec: Callable[[], None] | None = None) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHON": sys.executable, "BATT_FAULT": fault}
    return subprocess.Popen(
        ["bash", str(EXAMPLE / "run_card.sh"), *options, "tmp_batt_T3st"],
        cwd=folder, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        # setrlimit only, between fork and exec: nothing that could wait on a lock
        preexec_fn=preexec,  # noqa: PLW1509
    )


def finish(card: subprocess.Popen[str]) -> str:
    try:
        out, _ = card.communicate(timeout=120)
    finally:
        if card.poll() is None:
            card.kill()
            card.wait()
    return out.strip().splitlines()[-1]  # run_card.sh's "exit=<python's exit code>"


def report(folder: Path) -> dict[str, Any]:
    """`threadwatch report --format json` on the run's folder, judged as a day later (every
    log file's time is set back a day: a run without its summary is then cut off, not running)."""
    past = time.time() - A_DAY
    for path in folder.iterdir():
        os.utime(path, (past, past))
    done = subprocess.run(
        [sys.executable, "-m", "threadwatch", "report", "--format", "json", str(folder)],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert done.stdout, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def log_of(folder: Path) -> str:
    return (folder / "tmp_batt_T3st_run.log").read_text()


def guard_lines(folder: Path, event: str) -> list[str]:
    text = log_of(folder) + (folder / "tmp_batt_T3st_run.err").read_text()
    return [line for line in text.splitlines() if f"threadwatch-guard event={event} " in line]


# -- runs to the end --------------------------------------------------------------------------

RUNS = {
    # 3 batches, each named by its start line and joined by the guard decision of the same
    # name; process, thread, process as the rule says; 4 + 3 + 5 = 12 samples; demo[3] of
    # task 2 timed out in its worker; the summary line: one completed run. Tasks 0 and 2 are
    # large (4 and 5 samples) and both ran on the process pool: 100 %; task 1 (3 samples)
    # rightly ran on threads and does not count. 1 timeout in 12 samples (8 %): green.
    "": ("green", counts(batches=3, process_pool_used=2, thread_pool_used=1, large_batches=2,
                         samples=12, sample_timeouts=1, runs_completed=1)),
    # task 0's demo[0] SIGKILLs its loky worker: loky breaks (TerminatedWorkerError), the
    # guard falls back process -> thread and runs the 4 samples again (demo[0] does not kill
    # the program's own process): one process-pool fallback, task 0 ends on threads. A large
    # batch fell back to threads: process pool in 1 of the 2 large batches (50 %): yellow.
    "kill_worker@0": ("yellow", counts(batches=3, pool_fallback=1, process_pool_fallback=1,
                                       process_pool_used=1, thread_pool_used=2, large_batches=2,
                                       samples=12, sample_timeouts=1, runs_completed=1)),
    # no loky pool can be made: tasks 0 and 2 each try 3 times (2 retries, then give up: a
    # pool creation failure) and fall back to a thread pool; task 1 needs no process pool.
    # 4 retries, 2 creation failures (yellow), 2 process-pool fallbacks, all 3 on threads
    # (the 2 large batches too: process pool in 0 % of them, yellow as well).
    "pool_creation": ("yellow", counts(batches=3, pool_fallback=2, process_pool_fallback=2,
                                       thread_pool_used=3, large_batches=2, samples=12,
                                       sample_timeouts=1, runs_completed=1, creation_retries=4,
                                       pool_creation_failures=2)),
    # 45 idle threads + the main thread (46, between 40 and 60): every batch sequential for
    # overload; overload and sequential rates 100 %: red. Tasks 0 and 2 are large by their
    # size all the same (the guard's decisions say 4 and 5 items).
    "overload": ("red", counts(batches=3, overload=3, threads_40_60=3, sequential=3,
                               large_batches=2, samples=12, sample_timeouts=1,
                               runs_completed=1)),
}


@pytest.mark.parametrize("fault", list(RUNS), ids=[f or "no-fault" for f in RUNS])
def test_a_faulted_run_is_counted_as_derived_by_hand(fault: str, tmp_path: Path) -> None:
    assert finish(run_card(tmp_path, fault)) == "exit=0"
    level, expected = RUNS[fault]
    judged = report(tmp_path)
    assert judged["counts"] == expected
    assert judged["level"] == level


def test_guard_lines_on_stderr_count_once_with_the_program_s_lines_on_stdout(
    tmp_path: Path,
) -> None:
    """Run with the guard's lines in tmp_batt_T3st_run.err (-s): the report reads the .log and
    the .err of the run as one source, so the counts are those of the one-stream run."""
    assert finish(run_card(tmp_path, "kill_worker@0", "-s")) == "exit=0"
    assert "threadwatch-guard" not in log_of(tmp_path)
    judged = report(tmp_path)
    assert judged["counts"] == RUNS["kill_worker@0"][1]
    assert [source["path"] for source in judged["sources"]] == [
        str(tmp_path / "tmp_batt_T3st_run.log")
    ]


# -- runs that stop ---------------------------------------------------------------------------

def _limit_address_space() -> None:
    # `ulimit -v 1 GiB` for run_card.sh and all it starts (python, loky's workers)
    resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))


def test_a_memory_error_under_ulimit_v_stops_the_run_and_is_counted(tmp_path: Path) -> None:
    card = run_card(tmp_path, "memory@0", preexec=_limit_address_space)
    assert finish(card) == "exit=1"  # the program's own sys.exit(1) after its CRITICAL line
    # task 0 only: its demo[0] asks for 16 GiB in a loky worker -> MemoryError; the guard logs
    # memory_error and stops the batch (the other samples cancelled); the program prints
    # `failed due to MemoryError` and `CRITICAL: MemoryError ...` and exits. One batch
    # (process, from the guard's batch_done); 4 samples (the guard's decision: how many of
    # them printed before the stop does not matter); one memory error and one failed sample,
    # each said by the guard and by the program, counted once; no summary: cut off. Red.
    judged = report(tmp_path)
    assert judged["counts"] == counts(batches=1, process_pool_used=1, large_batches=1,
                                      samples=4, sample_failures=1, memory_errors=1,
                                      cut_off_runs=1)
    assert judged["level"] == "red"
    (done,) = guard_lines(tmp_path, "batch_done")
    assert " memory_errors=1 stopped=memory_error" in done


def _python_of(card: subprocess.Popen[str]) -> int:
    """The pid of run_batt.py under run_card.sh's bash and timeout (not a loky worker)."""
    parent_of: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parent_of[int(stat.parent.name)] = int(fields[1])

    def descends(pid: int) -> bool:
        while pid > 1:
            if pid == card.pid:
                return True
            pid = parent_of.get(pid, 0)
        return False

    for pid in sorted(parent_of):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if (
            descends(pid)
            and Path(command[0].decode()).name.startswith("python")  # not `timeout ... run_batt.py`
            and any(part.endswith(b"run_batt.py") for part in command)
        ):
            return pid
    raise AssertionError("run_batt.py is not running")


def test_sigterm_mid_batch_cancels_the_batch_and_the_run_is_cut_off(tmp_path: Path) -> None:
    card = run_card(tmp_path, "slow@0")
    try:
        deadline = time.monotonic() + 60
        # demo[0] of task 0 hangs; wait for the three other samples of the batch
        while time.monotonic() < deadline:
            log = log_of(tmp_path) if (tmp_path / "tmp_batt_T3st_run.log").exists() else ""
            if all(f"{s} - 0ca9ddb6 - 4" in log for s in ("demo[1]", "demo[2]", "test[0]")):
                break
            time.sleep(0.05)
        os.kill(_python_of(card), signal.SIGTERM)  # what `timeout` sends
    finally:
        status = finish(card)
    assert status != "exit=0"  # the handler's KeyboardInterrupt ends the program
    (done,) = guard_lines(tmp_path, "batch_done")
    assert " ok=3 failed=0 " in done
    assert done.endswith(" cancelled=1 memory_errors=0 stopped=SIGTERM")
    # task 0 only: one batch, process (batch_done); 4 samples; the hung sample was cancelled,
    # which is neither a failure nor a timeout; no summary: cut off. Red.
    judged = report(tmp_path)
    assert judged["counts"] == counts(batches=1, process_pool_used=1, large_batches=1,
                                      samples=4, cut_off_runs=1)
    assert judged["level"] == "red"
