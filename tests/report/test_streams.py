"""A run's .log (the program's lines) and .err (the guard's, named after tasks) are one source."""

from __future__ import annotations

import time
from pathlib import Path

from threadwatch.config import load_config
from threadwatch.health.metrics import COUNT_KEYS
from threadwatch.report.model import build_report
from threadwatch.report.streams import run_stem

A_DAY = 86400.0

# What the worked port printed with its guard lines on standard error (BATT_FAULT=kill_worker@0
# -s): task 0's worker was killed and its four samples ran again in a thread.
PROGRAM = """\
run_batt.py:162: -- 0ca9ddb6 - 0 start --
run_batt.py:106: demo[0] - 0ca9ddb6 - 4
run_batt.py:106: demo[1] - 0ca9ddb6 - 4
run_batt.py:106: demo[2] - 0ca9ddb6 - 4
run_batt.py:106: test[0] - 0ca9ddb6 - 4
run_batt.py:150: -- 0ca9ddb6 - demo[1] failed: 5
run_batt.py:166: -- 0ca9ddb6 - 0 done - 16 candidates scored
run_batt.py:162: -- 269e22fb - 1 start --
run_batt.py:106: demo[0] - 269e22fb - 4
run_batt.py:106: demo[1] - 269e22fb - 4
run_batt.py:106: test[0] - 269e22fb - 4
run_batt.py:166: -- 269e22fb - 1 done - 12 candidates scored
2 tasks - timeouts = 0 - tot_d_score = 11 in 0.889s
"""
GUARD = """\
threadwatch-guard event=decision batch=0ca9ddb6-0 items=4 threads=1 executor=process workers=3\
 reason=large_batch pool=loky context=loky
threadwatch-guard event=fallback batch=0ca9ddb6-0 from=process to=thread\
 error=TerminatedWorkerError message="A worker process managed by the executor was unexpectedly\
 terminated." remaining=4
threadwatch-guard event=item_failed batch=0ca9ddb6-0 index=1 error=KeyError message="5"
threadwatch-guard event=batch_done batch=0ca9ddb6-0 executor=thread items=4 ok=3 failed=1\
 seconds=0.286
threadwatch-guard event=decision batch=269e22fb-1 items=3 threads=2 executor=thread workers=3\
 reason=small_batch pool=stdlib context=-
threadwatch-guard event=batch_done batch=269e22fb-1 executor=thread items=3 ok=3 failed=0\
 seconds=0.002
"""
# by hand: two batches (one per task, each said by a start line and a guard decision); task 0
# fell back process -> thread, so both ran in threads; 4 + 3 samples; demo[1]'s failure is
# said by the guard and by the program: once; one completed run; task 0 (4 samples) is the
# one large batch
EXPECTED = dict.fromkeys(COUNT_KEYS, 0) | {
    "batches": 2,
    "pool_fallback": 1,
    "process_pool_fallback": 1,
    "thread_pool_used": 2,
    "large_batches": 1,
    "samples": 7,
    "sample_failures": 1,
    "runs_completed": 1,
}


def _report(*paths: Path):  # type: ignore[no-untyped-def]
    return build_report([str(p) for p in paths], load_config(), now=time.time() + A_DAY)


def test_a_runs_log_and_err_are_read_as_one_source(tmp_path: Path) -> None:
    log, err = tmp_path / "tmp_batt_X_run.log", tmp_path / "tmp_batt_X_run.err"
    log.write_text(PROGRAM)
    err.write_text("CuPy not available, using CPU only\n" + GUARD)
    report = _report(tmp_path)
    (source,) = report.sources
    assert source.scope == str(log)
    assert source.counts == EXPECTED
    assert report.total.counts == EXPECTED
    assert source.notes == (f"read with the same run's guard lines in {err}",)


def test_the_same_lines_in_one_stream_count_the_same(tmp_path: Path) -> None:
    guard = GUARD.splitlines(keepends=True)
    program = PROGRAM.splitlines(keepends=True)
    # the order the port writes them in when the guard's lines go to standard output
    one = program[:1] + guard[:3] + guard[3:4] + program[1:7] + program[7:8] + guard[4:] \
        + program[8:]
    log = tmp_path / "tmp_batt_Y_run.log"
    log.write_text("".join(one))
    (source,) = _report(log).sources
    assert source.counts == EXPECTED


def test_guard_batches_not_named_after_tasks_are_not_joined(tmp_path: Path) -> None:
    log, err = tmp_path / "tmp_batt_Z_run.log", tmp_path / "tmp_batt_Z_run.err"
    log.write_text(PROGRAM)
    err.write_text(GUARD.replace("0ca9ddb6-0", "1106-1").replace("269e22fb-1", "1106-2"))
    report = _report(tmp_path)
    assert sorted(s.scope for s in report.sources) == [str(err), str(log)]
    assert report.total.counts["batches"] == 4  # each file counts its own view


def test_streams_of_another_run_are_not_joined(tmp_path: Path) -> None:
    (tmp_path / "tmp_batt_A_run.log").write_text(PROGRAM)
    (tmp_path / "tmp_batt_B_run.err").write_text(GUARD)
    assert len(_report(tmp_path).sources) == 2


def test_the_run_stem_ignores_the_last_suffix_and_compression() -> None:
    assert run_stem("/l/tmp_batt_X_run.log") == run_stem("/l/tmp_batt_X_run.err.gz")
    assert run_stem("/l/tmp_batt_X_run.log") != run_stem("/m/tmp_batt_X_run.err")
