"""``report`` on real logs of the run_batt of 2025-11-15 (``fixtures/real-logs``; each folder's
README.txt says how the run was made). Every expectation is derived by hand from the log text
and the count definitions in the README; the reasoning is next to it.

The program's own output (``.log``) and its stderr capture (``.err``) are separate sources.
The ``guard_*`` runs are a port of that run_batt onto ``threadwatch.guard``: the program's lines
are in ``.log`` and the guard's in ``.err``, so each execution is counted in both files (the two
cannot be joined across files: guard batch ids there name no task).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from threadwatch.config import load_config
from threadwatch.health.levels import Level
from threadwatch.health.metrics import COUNT_KEYS
from threadwatch.report.model import Report, build_report

REAL = Path(__file__).resolve().parents[1] / "fixtures" / "real-logs" / "run_batt-2025-11-15"
A_DAY = 86400.0  # judged a day after checkout: a run without its summary is cut off
STDERR_ONLY = "but no run_batt progress line"


def counts(**nonzero: int) -> dict[str, int]:
    full = dict.fromkeys(COUNT_KEYS, 0)
    full.update(nonzero)
    return full


EXPECTED: dict[str, tuple[Level, dict[str, int]]] = {
    # two tasks: 0ca9ddb6 demo0-2 + test0 = 4 samples → process; 269e22fb 5 demo + 2 test = 7
    # → process; the summary `2 tasks - timeouts = 0 - …` is a completed run; both large
    "normal/tmp_batt_Ab12Cd34Ef_run.log": (
        Level.GREEN,
        counts(batches=2, process_pool_used=2, large_batches=2, samples=11, runs_completed=1),
    ),
    # six tasks of 4, 4, 6, 4, 4, 4 samples: all large, all process; one summary
    "normal/tmp_batt_N0rmal0001_run.log": (
        Level.GREEN,
        counts(batches=6, process_pool_used=6, large_batches=6, samples=26, runs_completed=1),
    ),
    # dd2401ed 5 samples → process; 2037f2c7 started, killed before any sample: a batch with
    # no executor and no size (not large), and a run without summary in a file long
    # unchanged: cut off
    "killed/tmp_batt_K1lledAsc2_run.log": (
        Level.RED,
        counts(batches=2, process_pool_used=1, large_batches=1, samples=5, cut_off_runs=1),
    ),
    # `timeout -v` under LC_ALL=C: `sending signal TERM to command 'python'`
    "killed/tmp_batt_K1lledAsc2_run.err": (Level.RED, counts(script_timeouts=1)),
    # `timeout` without -v, as the operators' loop runs it: one start line, then nothing
    "killed/tmp_batt_K1lledNoV3_run.log": (Level.RED, counts(batches=1, cut_off_runs=1)),
    # feca6190 6 samples, 3bd292e8 4 → large, process; e729b7be started and killed: cut off
    "killed/tmp_batt_K1lledUtf8_run.log": (
        Level.RED,
        counts(batches=3, process_pool_used=2, large_batches=2, samples=10, cut_off_runs=1),
    ),
    # UTF-8 locale: typographic quotes (U+2018, U+2019) around python
    "killed/tmp_batt_K1lledUtf8_run.err": (Level.RED, counts(script_timeouts=1)),
    # 981571dc: demo0 failed due to MemoryError (a failed sample), then the CRITICAL line
    # (one memory error), then test0 and demo3 finished: 3 distinct samples (< 4 → thread
    # pool by the rule, although the program had started a process pool for its 7; not
    # large, so no process-pool share); the program exited without a summary: cut off
    "inject_memerr/tmp_batt_InjMem0003_run.log": (
        Level.RED,
        counts(batches=1, thread_pool_used=1, samples=3, sample_failures=1, memory_errors=1,
               cut_off_runs=1),
    ),
    # three tasks, each overloaded (46, 50, 50 threads: 40-60) → sequential; 4 + 4 + 5 samples:
    # all three large
    "inject_overload/tmp_batt_InjOvl0001_run.log": (
        Level.RED,
        counts(batches=3, overload=3, threads_40_60=3, sequential=3, large_batches=3,
               samples=13, runs_completed=1),
    ),
    # 17b866bd started; demo0 could not get a thread (one retry line), then the run hung
    # until its timeout killed it: cut off
    "ulimit_v_tight/tmp_batt_UlimV220k1_run.log": (
        Level.RED,
        counts(batches=1, creation_retries=1, cut_off_runs=1),
    ),
    "ulimit_v_tight/tmp_batt_UlimV220k1_run.err": (Level.RED, counts(script_timeouts=1)),
    # 6e19193c: demo0, demo1, test0 each failed due to nested thread exhaustion (3 failed
    # samples; demo0 and demo1 also printed outputs) → 3 samples, thread; c8f0f002 4 samples
    # → process (the one large batch); then 64 inline_differ items retried thread creation
    # (+ demo1's retry = 65)
    # and 63 gave up after 3 retries (inner work, not samples); killed: cut off.
    # failed 3 / 7 samples = 43 %: yellow by share, red by the cut-off run
    "ulimit_v_tight/tmp_batt_UlimV250k2_run.log": (
        Level.RED,
        counts(batches=2, process_pool_used=1, thread_pool_used=1, large_batches=1, samples=7,
               sample_failures=3, nested_thread_exhaustion=3, creation_retries=65,
               thread_creation_failures=63, cut_off_runs=1),
    ),
    "ulimit_v_tight/tmp_batt_UlimV250k2_run.err": (Level.RED, counts(script_timeouts=1)),
    # completed, but 11 of its 12 samples timed out (92 % > 50 %): red, never green; 3
    # batches of 4 samples: large, process
    "ulimit_v_tight/tmp_batt_UlimV290k3_run.log": (
        Level.RED,
        counts(batches=3, process_pool_used=3, large_batches=3, samples=12, sample_timeouts=11,
               runs_completed=1),
    ),
    # round 2 of the loop: 46f33fce 4 samples → large, process; de493100 started, killed
    "live_loop/tmp_batt_L1veLoop03_run.log": (
        Level.RED,
        counts(batches=2, process_pool_used=1, large_batches=1, samples=4, cut_off_runs=1),
    ),
    "live_loop/tmp_batt_L1veLoop03_run.err": (Level.RED, counts(script_timeouts=1)),
    # guard port, loky given unwrapped: 4 samples → large, process, then the program died
    "guard_loky_raw/tmp_batt_GrdRaw0001_run.log": (
        Level.RED,
        counts(batches=1, process_pool_used=1, large_batches=1, samples=4, cut_off_runs=1),
    ),
    # one guard decision (4 items, process) and no batch_done: the decision's executor counts
    "guard_loky_raw/tmp_batt_GrdRaw0001_run.err": (
        Level.GREEN,
        counts(batches=1, process_pool_used=1, large_batches=1, samples=4),
    ),
    # 4 tasks: 4, 3, 4, 5 samples (process, thread, process, process: 3 large, all on the
    # process pool); 13 of 16 timed out
    "guard_normal/tmp_batt_GrdNrm0002_run.log": (
        Level.RED,
        counts(batches=4, process_pool_used=3, thread_pool_used=1, large_batches=3,
               samples=16, sample_timeouts=13, runs_completed=1),
    ),
    # the guard's view of the same 4 batches: decisions process, thread, process, process
    "guard_normal/tmp_batt_GrdNrm0002_run.err": (
        Level.GREEN,
        counts(batches=4, process_pool_used=3, thread_pool_used=1, large_batches=3,
               samples=16),
    ),
    "guard_oomkill/tmp_batt_GrdOom0005_run.log": (
        Level.GREEN,
        counts(batches=2, process_pool_used=2, large_batches=2, samples=11, runs_completed=1),
    ),
    # both process batches (large) lost a worker (SIGKILL) and fell back to threads: process
    # pool in 0 % of the large batches, yellow
    "guard_oomkill/tmp_batt_GrdOom0005_run.err": (
        Level.YELLOW,
        counts(batches=2, pool_fallback=2, process_pool_fallback=2, thread_pool_used=2,
               large_batches=2, samples=11),
    ),
    # the program's lines alone infer process, process, thread (5, 4, 3 samples): the 2 large
    # batches on the process pool (100 %), the small one rightly on threads: green
    "guard_overload/tmp_batt_GrdOvl0004_run.log": (
        Level.GREEN,
        counts(batches=3, process_pool_used=2, thread_pool_used=1, large_batches=2, samples=12,
               runs_completed=1),
    ),
    # ... while the guard says every batch ran sequentially for overload (47, 51, 51 threads);
    # its decisions' items (5, 4, 3) make 2 large
    "guard_overload/tmp_batt_GrdOvl0004_run.err": (
        Level.RED,
        counts(batches=3, overload=3, threads_40_60=3, sequential=3, large_batches=2,
               samples=12),
    ),
    "guard_stdlib/tmp_batt_GrdStd0003_run.log": (
        Level.GREEN,
        counts(batches=2, process_pool_used=2, large_batches=2, samples=11, runs_completed=1),
    ),
    "guard_stdlib/tmp_batt_GrdStd0003_run.err": (
        Level.GREEN,
        counts(batches=2, process_pool_used=2, large_batches=2, samples=11),
    ),
}
# stderr captures with only `CuPy not available` lines or a traceback: nothing to judge, and
# the report says why in words
UNKNOWN = {
    "normal/tmp_batt_Ab12Cd34Ef_run.err",
    "normal/tmp_batt_N0rmal0001_run.err",
    "killed/tmp_batt_K1lledNoV3_run.err",
    "inject_memerr/tmp_batt_InjMem0003_run.err",
    "inject_overload/tmp_batt_InjOvl0001_run.err",
    "ulimit_v_tight/tmp_batt_UlimV290k3_run.err",
}


@pytest.fixture(scope="module")
def report() -> Report:
    return build_report([str(REAL)], load_config(), workers=1, now=time.time() + A_DAY)


def _source(report: Report, name: str):  # type: ignore[no-untyped-def]
    (source,) = [s for s in report.sources if s.scope.endswith(name)]
    return source


def test_every_log_and_stderr_capture_is_read_and_nothing_else(report: Report) -> None:
    names = {str(Path(s.scope).relative_to(REAL)) for s in report.sources}
    assert names == set(EXPECTED) | UNKNOWN  # no README.txt, COMMANDS, .card_stdout, .time


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_real_log_counts_and_level_match_the_hand_derivation(report: Report, name: str) -> None:
    source = _source(report, name)
    level, expected = EXPECTED[name]
    assert source.counts == expected
    assert source.verdict.level is level


def test_no_source_with_task_lines_is_unknown(report: Report) -> None:
    for source in report.sources:
        if source.counts["batches"]:
            assert source.verdict.level is not Level.UNKNOWN, source.scope


@pytest.mark.parametrize("name", sorted(UNKNOWN))
def test_a_source_without_progress_lines_says_why_it_is_unknown(
    report: Report, name: str
) -> None:
    source = _source(report, name)
    assert source.verdict.level is Level.UNKNOWN
    assert any(STDERR_ONLY in note and "DO_PRINT" in note for note in source.notes)


def test_a_cut_off_run_is_named() -> None:
    path = REAL / "killed" / "tmp_batt_K1lledUtf8_run.log"
    now = path.stat().st_mtime + A_DAY  # exactly a day after its last line
    (source,) = build_report([str(path)], load_config(), now=now).sources
    assert source.notes == (
        "run cut off: task e729b7be (#2) started, no run summary, no line for 24 h"
        " (killed, hung or crashed)",
    )


def test_a_run_whose_file_changed_recently_is_running_not_cut_off() -> None:
    path = REAL / "killed" / "tmp_batt_K1lledNoV3_run.log"
    now = path.stat().st_mtime + 30  # 30 s after its last line: under stall_seconds
    (source,) = build_report([str(path)], load_config(), now=now).sources
    assert source.counts["cut_off_runs"] == 0
    assert source.notes == ("run in progress: task e760a62e (#0) started, last change 30 s ago",)


def test_the_total_of_all_real_logs_is_red(report: Report) -> None:
    assert report.total.verdict.level is Level.RED
    assert report.total.counts["cut_off_runs"] == 8


def test_the_reason_of_a_script_timeout_claims_no_duration_the_log_does_not_say() -> None:
    # the runs in killed/ were stopped by `timeout 11s` and `timeout 14s`; the reason said
    # "the 600 s script timeout fired" (the loop's usual limit, which the log never prints)
    report = build_report([str(REAL / "killed")], load_config(None), now=time.time() + A_DAY)
    [reason] = [r for r in report.total.verdict.reasons if r.metric == "script_timeouts"]
    assert reason.value == 2
    assert "600" not in reason.why and "timeout" in reason.why, reason.why
