"""``report --by-run`` and ``--last-run``: each run judged on its own, on fixtures whose
per-run counts are derived by hand below, and on the real logs."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from test_streams import EXPECTED as JOINED_COUNTS
from test_streams import GUARD, PROGRAM

from threadwatch.config import load_config
from threadwatch.health.levels import Level
from threadwatch.health.metrics import COUNT_KEYS
from threadwatch.report import engine
from threadwatch.report.model import Report, build_report
from threadwatch.report.runs import RunState, date_time

ROOT = Path(__file__).resolve().parents[2]
RUNS = ROOT / "fixtures" / "runs"
# run_card.sh's own output captured (`run_card.sh > run_card.log`): a `date` line, then the
# round's output as tee passes it on, three times
LOOP = RUNS / "loop" / "run_card.log"
# a program log written with `tee -a`: three rounds and no `date` line
APPEND = RUNS / "append" / "tmp_batt_Ap9nd0001_run.log"
REAL = ROOT / "fixtures" / "real-logs" / "run_batt-2025-11-15"
A_DAY = 86400.0


def counts(**nonzero: int) -> dict[str, int]:
    return dict.fromkeys(COUNT_KEYS, 0) | nonzero


# LOOP, by hand:
# round 1 (Fri Nov 27 16:00:01 UTC 2026): tasks aa000001 and aa000002, each overloaded (72
#   threads: over 60; 48: 40-60) → sequential; 4 samples each (demo 0-2, test 0): large
#   enough for a process pool (2 large batches, none on it); summary. Overload 100 % > 50 %
#   → red.
# round 2 (16:10:02): bb000001 with 4 samples → large, process pool; bb000002 starts (no
#   sample: not large), the program prints `CRITICAL: MemoryError …` and exits: no summary,
#   and the next `date` line comes with the run still open → cut off. A memory error and a
#   cut-off run → red.
# round 3 (16:20:03): cc000001-3, 4 samples each → large, process pool; summary → green.
LOOP_RUNS = [
    ("2026-11-27 16:00:01 UTC", RunState.COMPLETED, Level.RED,
     counts(batches=2, overload=2, sequential=2, threads_over_60=1, threads_40_60=1,
            samples=8, runs_completed=1, large_batches=2)),
    ("2026-11-27 16:10:02 UTC", RunState.CUT_OFF, Level.RED,
     counts(batches=2, process_pool_used=1, samples=4, memory_errors=1, cut_off_runs=1,
            large_batches=1)),
    ("2026-11-27 16:20:03 UTC", RunState.COMPLETED, Level.GREEN,
     counts(batches=3, process_pool_used=3, samples=12, runs_completed=1, large_batches=3)),
]
# APPEND, by hand (no date line: runs are numbered):
# run 1: dd000001, dd000002 (4 samples each → large, process pool), summary → green;
# run 2: ee000001 (4 → large, process), ee000002 starts and is never heard of again; then
#   task index 0 again (ff000001): a new run, and run 2 was cut off → red;
# run 3: ff000001 with 2 samples (demo 0, test 0: small, thread pool: no warning), ff000002
#   with 4 (large, process): a process-pool share of 1/1; no summary: the last run, cut off
#   (red) when its file has been quiet longer than [runs] stall_seconds, else running (green).
APPEND_RUNS = [
    ("run 1", RunState.COMPLETED, Level.GREEN,
     counts(batches=2, process_pool_used=2, samples=8, runs_completed=1, large_batches=2)),
    ("run 2", RunState.CUT_OFF, Level.RED,
     counts(batches=2, process_pool_used=1, samples=4, cut_off_runs=1, large_batches=1)),
    ("run 3", RunState.CUT_OFF, Level.RED,
     counts(batches=2, process_pool_used=1, thread_pool_used=1, samples=6, cut_off_runs=1,
            large_batches=1)),
]


def report_of(*paths: Path, now: float | None = None, **options: bool) -> Report:
    now = time.time() + A_DAY if now is None else now
    return build_report([str(p) for p in paths], load_config(), workers=1, now=now, **options)


def runs_seen(report: Report) -> list[tuple[str, RunState, Level, dict[str, int]]]:
    assert report.runs is not None
    return [(run.label, run.state, run.judged.verdict.level, run.judged.counts)
            for runs in report.runs for run in runs]


@pytest.mark.parametrize(("path", "expected"), [(LOOP, LOOP_RUNS), (APPEND, APPEND_RUNS)])
def test_by_run_judges_each_run_on_its_own_counts(path: Path, expected: list) -> None:  # type: ignore[type-arg]
    report = report_of(path, by_run=True)
    assert runs_seen(report) == expected
    # the source and the total stay the whole file's, as without --by-run
    whole = report_of(path)
    assert report.sources[0].counts == whole.sources[0].counts == report.total.counts
    total = counts()
    for *_, run_counts in expected:
        for key, value in run_counts.items():
            total[key] += value
    assert report.total.counts == total


def test_last_run_judges_only_the_last_run() -> None:
    report = report_of(LOOP, last_run=True)
    label, state, level, last_counts = LOOP_RUNS[-1]
    (source,) = report.sources
    assert (source.verdict.level, source.counts) == (level, last_counts)
    assert report.total.counts == last_counts and report.total.verdict.level is Level.GREEN
    assert source.notes[0] == f"last run only: run 3 of 3, began {label} ({state.value})"
    assert report_of(LOOP).total.verdict.level is Level.RED  # the whole file: red


def test_a_still_running_last_run_is_named_and_not_cut_off(tmp_path: Path) -> None:
    log = tmp_path / APPEND.name
    shutil.copy(APPEND, log)  # written just now: its last run may still be going on
    report = report_of(log, now=time.time(), last_run=True)
    assert report.runs is not None
    last = report.runs[0][-1]
    assert last.state is RunState.RUNNING
    assert report.sources[0].counts == counts(batches=2, process_pool_used=1,
                                               thread_pool_used=1, samples=6, large_batches=1)
    assert report.total.verdict.level is Level.GREEN
    assert report.sources[0].notes[1].startswith("run in progress: task ff000002 (#1) started")
    # the run before it was cut off by this one's start, whatever the time
    assert report.runs[0][1].state is RunState.CUT_OFF


def test_the_json_carries_the_runs(tmp_path: Path) -> None:
    data = report_of(LOOP, APPEND, by_run=True).as_json()
    assert data["last_run"] is False
    loop, append = data["sources"]
    assert [run["run"] for run in loop["runs"]] == [1, 2, 3]
    first = loop["runs"][0]
    assert list(first) == ["run", "date", "started", "state", "level", "reasons", "counts",
                           "rates", "notes"]
    assert (first["date"], first["started"], first["state"], first["level"]) == (
        "Fri Nov 27 16:00:01 UTC 2026", "2026-11-27T16:00:01Z", "completed", "red")
    assert first["counts"] == LOOP_RUNS[0][3] and first["rates"]["overload"] == 1.0
    assert loop["runs"][1]["notes"] == [
        "run cut off: task bb000002 (#1) started, no run summary before the next run began"]
    assert [(run["date"], run["started"], run["state"]) for run in append["runs"]] == [
        (None, None, "completed"), (None, None, "cut off"), (None, None, "cut off")]
    json.dumps(data)  # plain JSON data
    # the keys every source had keep their place; runs come last
    assert list(loop)[:-1] == list(report_of(LOOP).as_json()["sources"][0])


def test_date_lines_are_read_as_the_time_they_say() -> None:
    assert date_time("Fri Nov 27 17:41:33 UTC 2026") == datetime(2026, 11, 27, 17, 41, 33,
                                                                 tzinfo=UTC)
    assert date_time("Mon Dec  1 01:02:03 CET 2026") == datetime(2026, 12, 1, 1, 2, 3)
    assert date_time("Mon Feb 30 01:02:03 UTC 2026") is None


def test_a_run_spanning_parallel_parts_is_one_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    big = tmp_path / "run_card.log"
    body = LOOP.read_text()
    with big.open("w") as out:
        for _ in range(4000):
            out.write(body)
    serial = report_of(big, by_run=True)
    monkeypatch.setattr(engine, "PARALLEL_MIN_BYTES", 1 << 20)  # split even this small file
    parallel = build_report([str(big)], load_config(), workers=3, now=time.time() + A_DAY,
                            by_run=True)
    assert runs_seen(parallel) == runs_seen(serial) == LOOP_RUNS * 4000
    assert parallel.total.counts == serial.total.counts == report_of(big).total.counts


def test_a_runs_log_and_err_read_as_one_source_split_into_runs(tmp_path: Path) -> None:
    log, err = tmp_path / "tmp_batt_X_run.log", tmp_path / "tmp_batt_X_run.err"
    # two rounds of the loop appended to the program's log (other tasks in round 1); the
    # guard's stderr holds the last round's lines (`2>` rewrites it each round): its named
    # batches join round 2's tasks
    earlier = PROGRAM.replace("0ca9ddb6", "1ca9ddb6").replace("269e22fb", "369e22fb")
    log.write_text("Fri Nov 27 16:00:01 UTC 2026\n" + earlier
                   + "Fri Nov 27 16:10:01 UTC 2026\n" + PROGRAM)
    err.write_text(GUARD)
    report = report_of(tmp_path, by_run=True)
    assert report.runs is not None
    (source,), (runs,) = report.sources, report.runs
    assert source.scope == str(log)
    # round 2 is the joined run of test_streams; round 1 the program's lines alone, in which
    # demo[1] failed and the 4 + 3 samples ran on the process and the thread pool
    assert runs[1].judged.counts == JOINED_COUNTS
    assert runs[0].judged.counts == counts(batches=2, process_pool_used=1, thread_pool_used=1,
                                           large_batches=1,
                                           samples=7, sample_failures=1, runs_completed=1)


# -- the real logs ------------------------------------------------------------------------


def test_on_the_real_logs_each_file_is_one_round_and_last_run_judges_it() -> None:
    # `tee` and `2>` rewrite each file every round, so each holds its last round only (the
    # live_loop folder's README: round 1 completed, round 2 killed; only round 2 is left)
    whole = report_of(REAL)
    last = report_of(REAL, last_run=True)
    assert last.runs is not None
    assert all(len(runs) == 1 for runs in last.runs)
    assert [s.counts for s in last.sources] == [s.counts for s in whole.sources]
    assert [s.verdict for s in last.sources] == [s.verdict for s in whole.sources]
    assert last.total.counts == whole.total.counts


def test_live_loop_s_last_round_is_the_killed_one() -> None:
    folder = REAL / "live_loop"
    report = report_of(folder, last_run=True)
    err, log = report.sources
    assert report.runs is not None
    # 46f33fce: demo 0, 2, 1 and test 0 → process pool; de493100 started, then `timeout -v`
    # killed the run (the TERM notice is in the .err): no summary, no date line → run 1,
    # cut off
    assert log.counts == counts(batches=2, process_pool_used=1, samples=4, cut_off_runs=1,
                                large_batches=1)
    assert (report.runs[1][0].label, report.runs[1][0].state) == ("run 1", RunState.CUT_OFF)
    assert err.counts == counts(script_timeouts=1)
    assert report.runs[0][0].state is RunState.NO_PROGRESS
    assert report.total.verdict.level is Level.RED


def test_real_rounds_appended_with_date_lines_judge_the_last_round(tmp_path: Path) -> None:
    # what `run_card.sh > run_card.log` would hold for three real rounds: a completed run of
    # six tasks, live_loop's killed round, and a completed run of two tasks
    rounds = [REAL / "normal" / "tmp_batt_N0rmal0001_run.log",
              REAL / "live_loop" / "tmp_batt_L1veLoop03_run.log",
              REAL / "normal" / "tmp_batt_Ab12Cd34Ef_run.log"]
    capture = tmp_path / "run_card.log"
    capture.write_text("".join(f"Sun Nov 30 19:{10 * i:02d}:00 UTC 2026\n" + path.read_text()
                               for i, path in enumerate(rounds, start=1)))
    report = report_of(capture, by_run=True, last_run=True)
    # test_real_logs.py's counts of each file, by hand there
    assert runs_seen(report) == [
        ("2026-11-30 19:10:00 UTC", RunState.COMPLETED, Level.GREEN,
         counts(batches=6, process_pool_used=6, samples=26, runs_completed=1, large_batches=6)),
        ("2026-11-30 19:20:00 UTC", RunState.CUT_OFF, Level.RED,
         counts(batches=2, process_pool_used=1, samples=4, cut_off_runs=1, large_batches=1)),
        ("2026-11-30 19:30:00 UTC", RunState.COMPLETED, Level.GREEN,
         counts(batches=2, process_pool_used=2, samples=11, runs_completed=1, large_batches=2)),
    ]
    assert report.total.verdict.level is Level.GREEN
    assert report_of(capture).total.verdict.level is Level.RED


# -- the command line ---------------------------------------------------------------------


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "threadwatch", "report", *args],
                          capture_output=True, text=True, timeout=120, check=False)


def test_last_run_exits_with_the_last_run_s_level_in_every_format() -> None:
    assert run(str(LOOP)).returncode == 2
    table = run("--last-run", str(LOOP))
    assert table.returncode == 0, table.stderr
    note = "last run only: run 3 of 3, began 2026-11-27 16:20:03 UTC (completed)"
    assert note in " ".join(table.stdout.split())  # the note wraps where the path is long
    data = json.loads(run("--last-run", "-f", "json", str(LOOP)).stdout)
    assert (data["level"], data["last_run"], data["counts"]["batches"]) == ("green", True, 3)
    assert len(data["sources"][0]["runs"]) == 3
    nagios = run("--last-run", "-f", "nagios", str(LOOP))
    assert nagios.returncode == 0 and nagios.stdout.startswith("THREADWATCH GREEN - 3 batches")
    assert "last run of each" in nagios.stdout
    prometheus = run("--last-run", "-f", "prometheus", str(LOOP))
    assert prometheus.returncode == 0
    assert 'threadwatch_report_level{scope="total"} 0.0' in prometheus.stdout
    assert 'threadwatch_report_events{count="batches",scope="total"} 3.0' in prometheus.stdout


def test_by_run_prints_one_row_per_run_with_its_time_and_why(tmp_path: Path) -> None:
    for fixture in (LOOP, APPEND):
        copy = tmp_path / fixture.parent.name / fixture.name
        copy.parent.mkdir()
        shutil.copy(fixture, copy)
        os.utime(copy, (time.time() - A_DAY, time.time() - A_DAY))  # APPEND's last run: over
    result = run("--by-run", str(tmp_path))
    assert result.returncode == 2
    out = " ".join(result.stdout.split())  # a row may wrap in its column
    for row in ("2026-11-27 16:00:01 UTC, completed", "2026-11-27 16:10:02 UTC, cut off",
                "2026-11-27 16:20:03 UTC, completed", "run 1, completed", "run 2, cut off",
                "run 3, cut off"):
        assert row in out
    assert "source / run" in out
    assert "loop/run_card.log [2026-11-27 16:00:01 UTC]: RED overload rate 100.0% > 50.0%" in out
    assert "loop/run_card.log [2026-11-27 16:10:02 UTC]: RED memory_errors 1 >= 1" in out


def test_help_documents_both_options() -> None:
    out = run("--help").stdout
    assert "--last-run" in out and "--by-run" in out


def test_a_last_run_just_begun_is_unknown_and_says_why(tmp_path: Path) -> None:
    # the loop has printed the next round's date line and card.py is still generating: the
    # last run holds nothing to judge (exit 3), and the note says so rather than call the file
    # a stderr capture
    log = tmp_path / "run_card.log"
    log.write_text(LOOP.read_text() + "Fri Nov 27 16:30:04 UTC 2026\nGenerating batt: x\n")
    report = report_of(log, last_run=True)
    assert report.total.verdict.level is Level.UNKNOWN
    assert report.sources[0].notes[-1].startswith(
        "the last run has printed no progress line yet (a round that has just begun")
    assert report.runs is not None and report.runs[0][-1].state is RunState.NO_PROGRESS
