"""``report`` on the bundled fixtures: counts derived by hand from the message table and the
count definitions (README), not copied.

How each expectation was derived is written next to it; the fixture files say the rest.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from threadwatch.config import load_config
from threadwatch.errors import NothingReadError
from threadwatch.health.levels import Level
from threadwatch.health.metrics import COUNT_KEYS
from threadwatch.report import engine as scan
from threadwatch.report.model import build_report

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "logs"


def counts(**nonzero: int) -> dict[str, int]:
    full = dict.fromkeys(COUNT_KEYS, 0)
    full.update(nonzero)
    return full


EXPECTED = {
    # 5 batches: 1a2b3c4d has demo0-3 + test0 (demo3 printed after the next batch line) = 5
    # samples → process; 2b3c4d5e demo0, demo1 (timed out, glued line), demo2, test0 = 4 →
    # process; 3c4d5e6f 3 samples → thread; 4d5e6f70 6 samples (test1 failed) → process;
    # 5e6f7081 5 → process. One summary line. Each task prints its start line and then the
    # bare batch line (the 2025-10-09 to 10-14 versions): one batch each, not two.
    # samples 5 + 4 + 3 + 6 + 5 = 23; 1 failed and 1 timed out: 4 % each, under 10 %.
    # Large (4 samples or more): all but 3c4d5e6f = 4, all 4 on the process pool.
    "host-a/tmp_batt_k3J9xQ2mPa_run.log": (
        Level.GREEN,
        counts(
            samples=23,
            batches=5,
            process_pool_used=4,
            thread_pool_used=1,
            large_batches=4,
            sample_timeouts=1,
            sample_failures=1,
            runs_completed=1,
        ),
    ),
    # one 3.11 cleanup KeyError (caret line); the user traceback ending KeyError: 'x' is not one
    "host-a/tmp_batt_k3J9xQ2mPa_run.err": (Level.YELLOW, counts(thread_keyerror=1)),
    # rotated previous round: 4 and 5 samples → both large, both process
    "host-a/tmp_batt_k3J9xQ2mPa_run.log.1.gz": (
        Level.GREEN,
        counts(batches=2, process_pool_used=2, large_batches=2, runs_completed=1,
               samples=4 + 5),
    ),
    # 8 batches: overload 47/72/65 → 3 sequential (one 40-60, two over 60); c3d4e5f6 process
    # failed → thread; d4e5f607 process failed then thread also failed → sequential; e5f60718
    # parallel failed → sequential; f6071829 5 samples → process; 18293a4b killed before a
    # complete sample line → unknown. sequential = 3 + 1 + 1 = 5.
    # samples 5 + 3 + 4 + 5 + 5 + 5 + 2 = 29 (the cut line `demo[0] - 18293a4b -` is none).
    # No run summary after task 7 and the file unchanged for over stall_seconds: cut off.
    # Large (4 samples or more): a1b2c3d4 (5, sequential for overload), c3d4e5f6 (4),
    # d4e5f607 (5), e5f60718 (5), f6071829 (5) = 5; not b2c3d4e5 (3), 0718293a (2),
    # 18293a4b (none).
    "host-b/tmp_batt_Zq81LmNo4R_run.log": (
        Level.RED,
        counts(
            samples=29,
            cut_off_runs=1,
            batches=8,
            overload=3,
            threads_over_60=2,
            threads_40_60=1,
            pool_fallback=2,
            process_pool_fallback=2,
            thread_pool_fallback=1,
            parallel_failed=1,
            sequential=5,
            process_pool_used=1,
            thread_pool_used=1,
            large_batches=5,
            sample_timeouts=2,
            sample_failures=1,
        ),
    ),
    # 3.12 (no caret) + 3.13 (colon after repr) + one cut off after its _delete frame = 3
    # cleanup KeyErrors; ExecutorManagerThread RuntimeError + repr-failed MemoryError = 2
    # thread errors; one `timeout: sending signal TERM`
    "host-b/tmp_batt_Zq81LmNo4R_run.err": (
        Level.RED,
        counts(thread_keyerror=3, thread_errors=2, script_timeouts=1),
    ),
    # The 2025-11-15 shapes (start lines only). 9a8b7c6d: pool creation retried twice, then
    # failed → executor creation failed → sequential; 8b7c6d5e 4 samples → process;
    # 7c6d5e4f: demo1 given up after thread-creation retries, demo0 nested thread exhaustion,
    # test0 MemoryError = 3 failed samples (< 4 → thread pool), then the CRITICAL line (one
    # memory error) and the program exits: no summary, so the run was cut off.
    # samples 5 + 4 + 3 = 12, failed 3/12 = 25 %; creation retries 2 (pool) + 1 (thread).
    # Large: 9a8b7c6d (5) and 8b7c6d5e (4) = 2; 7c6d5e4f (3) is not.
    "host-c/tmp_batt_Pq7RsT2uVw_run.log": (
        Level.RED,
        counts(
            batches=3,
            sequential=1,
            process_pool_used=1,
            thread_pool_used=1,
            large_batches=2,
            memory_errors=1,
            samples=12,
            sample_failures=3,
            creation_retries=3,
            pool_creation_failures=1,
            thread_creation_failures=1,
            nested_thread_exhaustion=1,
            cut_off_runs=1,
        ),
    ),
    # guard lines: thread batch (item 1 failed), process batch that fell back to a thread
    # pool, overloaded batch at 46 threads; one suppressed cleanup KeyError. Large: the
    # batches of 6 and 4 items = 2 (the 3-item thread batch is not), neither on a process pool:
    # share 0 % (yellow, besides the KeyError)
    "host-c/guarded_app.log": (
        Level.YELLOW,
        counts(
            batches=3,
            overload=1,
            threads_40_60=1,
            pool_fallback=1,
            process_pool_fallback=1,
            sequential=1,
            thread_pool_used=2,
            large_batches=2,
            sample_failures=1,
            thread_keyerror=1,
            samples=3 + 6 + 4,  # the items of the three guard batches
        ),
    ),
}

# The fixtures were written a moment ago (checkout): judge them a day later, so that a run
# without its summary reads as cut off rather than still running.
A_DAY = 86400.0


@pytest.fixture(scope="module")
def report():  # type: ignore[no-untyped-def]
    return build_report([str(FIXTURES)], load_config(), workers=1, now=time.time() + A_DAY)


def test_every_fixture_file_is_a_source(report) -> None:  # type: ignore[no-untyped-def]
    names = {str(Path(s.scope).relative_to(FIXTURES)) for s in report.sources}
    assert names == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_counts_and_level_match_the_hand_derivation(report, name: str) -> None:  # type: ignore[no-untyped-def]
    (source,) = [s for s in report.sources if s.scope.endswith(name)]
    level, expected = EXPECTED[name]
    assert source.counts == expected
    assert source.verdict.level is level


def test_total_is_judged_on_summed_counts(report) -> None:  # type: ignore[no-untyped-def]
    total = counts()
    for _, source_counts in EXPECTED.values():
        for key, value in source_counts.items():
            total[key] += value
    assert report.total.counts == total
    # 21 batches: sequential 7/21 = 33 % (yellow); 15 large batches (4 + 2 + 5 + 2 + 2), 8 of
    # them on the process pool: 53 % (yellow); memory errors,
    # a script timeout and two cut-off runs make it red. Samples: 23 + 9 + 29 + 12 + 13 = 86,
    # failed 1 + 1 + 3 + 1 = 6 (7 %), timed out 1 + 2 = 3 (3 %): under 10 %. One pool and one
    # thread creation failure, one nested thread exhaustion: yellow each.
    assert report.total.verdict.level is Level.RED
    assert {r.metric for r in report.total.verdict.reasons} == {
        "memory_errors",
        "script_timeouts",
        "cut_off_runs",
        "sequential",
        "thread_keyerror",
        "process_pool_used",
        "thread_creation_failures",
        "pool_creation_failures",
        "nested_thread_exhaustion",
    }
    assert report.problems == ()


def test_json_has_the_documented_shape(report) -> None:  # type: ignore[no-untyped-def]
    data = report.as_json()
    assert list(data) == ["schema", "level", "reasons", "counts", "rates", "sources", "problems",
                          "last_run"]
    assert data["last_run"] is False and all("runs" not in s for s in data["sources"])
    assert data["schema"] == 1 and data["level"] == "red"
    assert list(data["counts"]) == list(COUNT_KEYS)
    empty = next(s for s in data["sources"] if s["path"].endswith("_run.err"))
    assert all(rate is None for rate in empty["rates"].values())
    assert set(data["reasons"][0]) == {
        "level",
        "metric",
        "kind",
        "value",
        "operator",
        "threshold",
        "why",
        "rule",
    }
    assert data["reasons"][0]["rule"] == "memory-errors-red"


def test_parallel_scan_of_a_split_file_matches_the_serial_scan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = (FIXTURES / "host-b" / "tmp_batt_Zq81LmNo4R_run.log").read_text()
    body = text.rsplit("\n", 1)[0] + "\n"  # complete lines only, repeated many times
    big = tmp_path / "big.log"
    with big.open("w") as out:
        for round_number in range(6000):
            out.write(body.replace("-- a1b2c3d4", f"-- {round_number:08x}"))
    config = load_config()
    serial = build_report([str(big)], config, workers=1)
    # every round but the last is followed by the next one's task 0: cut off; the last ends
    # the file, which was just written: still running
    assert serial.total.counts["cut_off_runs"] == 6000 - 1
    monkeypatch.setattr(scan, "PARALLEL_MIN_BYTES", 1 << 20)  # split even this small file
    parallel = build_report([str(big)], config, workers=3)
    assert parallel.total.counts == serial.total.counts
    assert serial.total.counts["batches"] == 6000 * 8


def test_nothing_readable_raises(tmp_path: Path) -> None:
    with pytest.raises(NothingReadError, match="no such file"):
        build_report([str(tmp_path / "absent.log")], load_config())


def test_a_part_never_begins_at_a_bare_batch_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # versions of 2025-10-09 to 10-14 print a task's start line, then (after other output) its
    # bare batch line, which joins the batch the start line opened. Here a long line without
    # a program prefix sits between them, so a cut near most places lands right before the
    # bare batch line: the part after it would count the batch a second time.
    big = tmp_path / "big.log"
    with big.open("w") as out:
        for i in range(600):
            task = f"{i:08x}"
            out.write(f"run_batt.py:831: -- {task} - {i} start --\n"
                      f"Generating batt: {'x' * 20000}\n"
                      f"run_batt.py:475: -- {task} - {i} --\n"
                      + "".join(f"<dynamic-code>:512: demo[{k}] - {task} - 1\n"
                                for k in range(4)))
    config = load_config()
    serial = build_report([str(big)], config, workers=1)
    monkeypatch.setattr(scan, "PARALLEL_MIN_BYTES", 1 << 20)
    parallel = build_report([str(big)], config, workers=3)
    assert serial.total.counts["batches"] == 600
    assert parallel.total.counts == serial.total.counts
