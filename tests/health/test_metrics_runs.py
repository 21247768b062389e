"""Counts of each run apart (``Tally(runs=True)``): where runs begin, and a source cut into
parts (a parallel scan) giving the same runs as the whole."""

from __future__ import annotations

import pickle

import pytest

from threadwatch.events import Event
from threadwatch.health.metrics import Run, Tally
from threadwatch.health.settings import InferenceConfig
from threadwatch.parse.grammar import Grammar
from threadwatch.parse.scanner import Scanner

DEFAULTS = InferenceConfig()
SUMMARY = "2 tasks - timeouts = 0 - tot_d_score = 1663206 in 6.470s\n"
OVERLOAD = "run_batt.py:566: -- System overloaded (47 threads), using sequential processing\n"


def date(hour: int) -> str:
    return f"Fri Nov 27 {hour:02d}:00:00 UTC 2026\n"


def task(task_id: str, index: int, samples: int = 4, extra: str = "") -> str:
    lines = [f"run_batt.py:1241: -- {task_id} - {index} start --\n", extra]
    lines += [f"<dynamic-code>:931: demo[{k}] - {task_id} - 1\n" for k in range(samples)]
    return "".join(lines)


def events_of(text: str) -> list[Event]:
    scanner = Scanner("t.log", Grammar())
    return scanner.feed(text.encode()) + scanner.close()


def runs_of(events: list[Event]) -> list[Run]:
    tally = Tally(DEFAULTS, runs=True)
    tally.add_all(events)
    tally.finish()
    assert tally.runs is not None
    return tally.runs


def shape(runs: list[Run]) -> list[tuple[str | None, int, int, int, int, bool, bool]]:
    """What a test compares: date, batches, process pool, overload, cut-off count, ended,
    cut off."""
    return [(run.date, run.counts["batches"], run.counts["process_pool_used"],
             run.counts["overload"], run.counts["cut_off_runs"], run.ended, run.cut_off)
            for run in runs]


# Three rounds of the loop, each after its `date` line:
# round 1 (10:00): tasks 0 and 1, 4 samples each, no overload → 2 batches on the process pool;
#   its summary: completed;
# round 2 (11:00): task 0, overloaded (sequential), then nothing: the next date line finds it
#   open → cut off (its cut_off_runs is 1, counted in it, not in round 3);
# round 3 (12:00): tasks 0, 1, 2, 4 samples each → 3 process-pool batches, summary.
ROUNDS = (
    date(10) + task("00000001", 0) + task("00000002", 1) + SUMMARY
    + date(11) + task("00000003", 0, extra=OVERLOAD)
    + date(12) + task("00000004", 0) + task("00000005", 1) + task("00000006", 2) + SUMMARY
)
ROUNDS_SHAPE = [
    ("Fri Nov 27 10:00:00 UTC 2026", 2, 2, 0, 0, True, False),
    ("Fri Nov 27 11:00:00 UTC 2026", 1, 0, 1, 1, False, True),
    ("Fri Nov 27 12:00:00 UTC 2026", 3, 3, 0, 0, True, False),
]


def test_each_date_line_begins_a_run_with_its_own_counts() -> None:
    assert shape(runs_of(events_of(ROUNDS))) == ROUNDS_SHAPE


def test_the_total_is_the_sum_of_the_runs() -> None:
    tally = Tally(DEFAULTS, runs=True)
    tally.add_all(events_of(ROUNDS))
    plain = Tally(DEFAULTS)
    plain.add_all(events_of(ROUNDS))
    assert tally.finish() == plain.finish()
    assert tally.counts["batches"] == 6 and tally.counts["cut_off_runs"] == 1


def test_without_date_lines_a_task_index_going_back_or_a_task_after_a_summary_begins_a_run(
) -> None:
    # run 1: tasks 0, 1, then task 0 again → run 1 cut off; run 2: task 0 (the one that went
    # back), task 1, summary; run 3: task 0 after the summary (not cut off: run 2 ended)
    text = (task("00000001", 0) + task("00000002", 1)
            + task("00000003", 0) + task("00000004", 1) + SUMMARY
            + task("00000005", 0, samples=2))
    runs = runs_of(events_of(text))
    assert shape(runs) == [(None, 2, 2, 0, 1, False, True), (None, 2, 2, 0, 0, True, False),
                           (None, 1, 0, 0, 0, False, False)]
    assert runs[2].counts["thread_pool_used"] == 1  # 2 samples: thread pool
    assert runs[0].last_start == ("00000002", 1) and runs[2].last_start == ("00000005", 0)


def test_lines_before_the_first_date_line_and_two_dates_in_a_row() -> None:
    # a traceback-free prelude with no counted line: the first date names run 1; a round that
    # printed nothing (a host without progress lines) is a run of its own
    text = "Generating batt: x\n" + date(10) + date(11) + task("00000001", 0) + SUMMARY
    assert shape(runs_of(events_of(text))) == [
        ("Fri Nov 27 10:00:00 UTC 2026", 0, 0, 0, 0, False, False),
        ("Fri Nov 27 11:00:00 UTC 2026", 1, 1, 0, 0, True, False),
    ]


def test_counted_lines_before_the_first_date_are_a_run_of_their_own() -> None:
    # the end of a round whose date line is gone (a capture that begins mid-round)
    text = task("00000001", 3) + SUMMARY + date(10) + task("00000002", 0)
    runs = runs_of(events_of(text))
    assert [(run.date, run.counts["batches"]) for run in runs] == [
        (None, 1), ("Fri Nov 27 10:00:00 UTC 2026", 1)]


def test_a_source_without_run_lines_is_one_run() -> None:
    runs = runs_of(events_of("timeout: sending signal TERM to command 'python'\n"))
    assert len(runs) == 1 and runs[0].counts["script_timeouts"] == 1
    assert not runs[0].started and not runs[0].ended


def parts_runs(events: list[Event], cuts: tuple[int, ...]) -> list[Run]:
    """The runs of ``events`` read in parts cut at ``cuts``, merged from the right as the
    report's parallel scan does (each part through pickle: parts cross processes)."""
    bounds = [0, *cuts, len(events)]
    tallies = [Tally(DEFAULTS, detached=i > 0, runs=True) for i in range(len(bounds) - 1)]
    for tally, start, end in zip(tallies, bounds, bounds[1:], strict=False):
        tally.add_all(events[start:end])
    merged = pickle.loads(pickle.dumps(tallies[-1]))
    for earlier in reversed(tallies[:-1]):
        earlier.merge(merged)
        merged = earlier
    merged.finish()
    assert merged.runs is not None
    return merged.runs


@pytest.mark.parametrize("text", [
    ROUNDS,
    # no date lines: runs told by task indexes and summaries
    task("00000001", 0) + task("00000002", 1) + task("00000003", 0) + SUMMARY
    + task("00000004", 0) + task("00000005", 1) + SUMMARY + OVERLOAD,
    # a prelude, two dates in a row, a run cut off by a date
    "Generating batt: x\n" + date(9) + date(10) + task("00000001", 0, extra=OVERLOAD)
    + date(11) + task("00000002", 0) + SUMMARY,
])
def test_a_source_cut_anywhere_into_two_or_three_parts_has_the_same_runs(text: str) -> None:
    events = events_of(text)
    whole = shape(runs_of(events))
    for cut in range(len(events) + 1):
        assert shape(parts_runs(events, (cut,))) == whole, cut
    for first in range(len(events) + 1):
        for second in range(first, len(events) + 1):
            assert shape(parts_runs(events, (first, second))) == whole, (first, second)


def test_a_batch_open_across_parts_counts_its_executor_in_its_own_run() -> None:
    # task 0's samples come after the cut: they join its batch, in run 2 (the 11:00 round)
    text = date(10) + task("00000001", 0) + SUMMARY + date(11) + task("00000002", 0)
    events = events_of(text)
    cut = next(i for i, e in enumerate(events) if e.task_id == "00000002") + 1
    runs = parts_runs(events, (cut,))
    assert [run.counts["process_pool_used"] for run in runs] == [1, 1]
    assert [run.counts["samples"] for run in runs] == [4, 4]
