"""Counts and the executor rule (README, ``threadwatch report``), on real parsed lines."""

from __future__ import annotations

import pickle

import pytest

from threadwatch.events import Event
from threadwatch.health.metrics import COUNT_KEYS, RATE_KEYS, RATES, Tally, count_key, rates_of
from threadwatch.health.settings import InferenceConfig
from threadwatch.parse.grammar import Grammar
from threadwatch.parse.scanner import Scanner

DEFAULTS = InferenceConfig()


def events_of(text: str) -> list[Event]:
    scanner = Scanner("t.log", Grammar())
    return scanner.feed(text.encode()) + scanner.close()


def counts_of(text: str) -> dict[str, int]:
    tally = Tally(DEFAULTS)
    tally.add_all(events_of(text))
    return tally.finish()


def batch(task: str, index: int, samples: int, extra: str = "") -> str:
    lines = [f"run_batt.py:475: -- {task} - {index} --"]
    lines += [extra] if extra else []
    lines += [f"<dynamic-code>:512: demo[{k}] - {task} - 1" for k in range(samples)]
    return "\n".join(lines) + "\n"


def test_four_samples_or_more_ran_in_a_process_pool() -> None:
    counts = counts_of(batch("00000001", 0, 4))
    assert (counts["batches"], counts["process_pool_used"], counts["thread_pool_used"]) == (1, 1, 0)


def test_fewer_than_four_samples_ran_in_a_thread_pool() -> None:
    counts = counts_of(batch("00000001", 0, 3))
    assert (counts["process_pool_used"], counts["thread_pool_used"]) == (0, 1)


def test_large_batches_are_those_the_rule_sends_to_a_process_pool() -> None:
    text = (
        batch("00000001", 0, 3)  # 3 samples: rightly on threads, not large
        + batch("00000002", 1, 4)  # 4 samples: large, on the process pool
        # 5 samples, but the process pool failed: large, ended on threads
        + batch("00000003", 2, 5, "run_batt.py:601: -- ProcessPoolExecutor failed "
                "(OSError: [Errno 12] Cannot allocate memory), trying ThreadPoolExecutor")
        + batch("00000004", 3, 0)  # killed before a sample line: size unknown, not large
    )
    counts = counts_of(text)
    assert (counts["batches"], counts["large_batches"]) == (4, 2)
    assert (counts["process_pool_used"], counts["thread_pool_used"]) == (1, 2)
    assert rates_of(counts)["process_pool_used"] == 0.5  # 1 of the 2 large batches


def test_only_small_batches_have_no_process_pool_share() -> None:
    counts = counts_of(batch("00000001", 0, 2) + batch("00000002", 1, 3))
    assert (counts["thread_pool_used"], counts["large_batches"]) == (2, 0)
    assert rates_of(counts)["process_pool_used"] is None


def test_a_named_guard_batch_is_large_by_its_item_count() -> None:
    # the decision says 6 items, the program printed 2 of them; the guard fell back to threads
    counts = counts_of(guarded("0ca9ddb6", 0, 6, executor="thread", samples=2))
    assert (counts["thread_pool_used"], counts["large_batches"]) == (1, 1)


def test_a_batch_that_ran_on_a_process_pool_is_large_whatever_its_size() -> None:
    # a guard whose own process_min_batch is 2: the share's part stays within its whole
    counts = counts_of(guarded("0ca9ddb6", 0, 2))
    assert (counts["process_pool_used"], counts["large_batches"]) == (1, 1)


def test_a_repeated_sample_counts_once() -> None:
    text = batch("00000001", 0, 3) + "<dynamic-code>:512: demo[2] - 00000001 - 1\n"
    assert counts_of(text)["thread_pool_used"] == 1


def test_overload_makes_the_batch_sequential_and_buckets_the_thread_count() -> None:
    text = batch(
        "00000001",
        0,
        5,
        "run_batt.py:566: -- System overloaded (60 threads), using sequential processing",
    )
    text += batch(
        "00000002",
        1,
        5,
        "run_batt.py:566: -- System overloaded (61 threads), using sequential processing",
    )
    counts = counts_of(text)
    assert counts["overload"] == 2 and counts["sequential"] == 2
    assert (counts["threads_40_60"], counts["threads_over_60"]) == (1, 1)
    assert counts["process_pool_used"] == counts["thread_pool_used"] == 0


@pytest.mark.parametrize(("split", "over"), [(60, 0), (50, 1), (45, 2), (40, 3)])
def test_the_thread_count_split_is_the_configured_one(split: int, over: int) -> None:
    text = "".join(
        batch(f"0000000{i}", i, 1, f"run_batt.py:566: -- System overloaded ({threads} threads),"
              " using sequential processing")
        for i, threads in enumerate((41, 46, 55))
    )
    tally = Tally(InferenceConfig(overload_split_threads=split))
    tally.add_all(events_of(text))
    counts = tally.finish()
    # the keys keep their names whatever the split
    assert (counts["threads_over_60"], counts["threads_40_60"]) == (over, 3 - over)


def test_process_pool_failure_moves_the_batch_to_a_thread_pool() -> None:
    line = "run_batt.py:601: -- ProcessPoolExecutor failed (OSError: x), trying ThreadPoolExecutor"
    counts = counts_of(batch("00000001", 0, 6, line))
    assert (counts["pool_fallback"], counts["process_pool_fallback"]) == (1, 1)
    assert (counts["process_pool_used"], counts["thread_pool_used"]) == (0, 1)


def test_thread_pool_failure_counts_as_pool_fallback_but_not_process() -> None:
    line = (
        "run_batt.py:601: -- ThreadPoolExecutor failed (MemoryError: ), trying ThreadPoolExecutor"
    )
    counts = counts_of(batch("00000001", 0, 2, line))
    assert (counts["pool_fallback"], counts["process_pool_fallback"]) == (1, 0)


def test_second_failure_ends_the_batch_sequential() -> None:
    text = batch(
        "00000001",
        0,
        6,
        "run_batt.py:601: -- ProcessPoolExecutor failed (OSError: x), trying ThreadPoolExecutor\n"
        "run_batt.py:612: -- ThreadPoolExecutor also failed (y), using sequential processing",
    )
    counts = counts_of(text)
    assert (counts["thread_pool_fallback"], counts["sequential"], counts["thread_pool_used"]) == (
        1,
        1,
        0,
    )


def test_executor_creation_failure_is_sequential_for_its_task() -> None:
    text = batch("00000001", 0, 5) + batch("00000002", 1, 5)
    text += "run_batt.py:598: -- 00000001: Executor creation failed, using sequential processing\n"
    counts = counts_of(text)
    assert (counts["sequential"], counts["process_pool_used"]) == (1, 1)


def test_samples_printed_after_the_next_batch_still_belong_to_their_task() -> None:
    text = batch("00000001", 0, 3) + batch("00000002", 1, 4)
    text += "<dynamic-code>:512: test[0] - 00000001 - 1\n"
    assert counts_of(text)["process_pool_used"] == 2


def test_batch_cut_off_before_any_sample_has_no_known_executor() -> None:
    counts = counts_of(batch("00000001", 0, 0))
    assert counts["batches"] == 1
    assert counts["process_pool_used"] == counts["thread_pool_used"] == counts["sequential"] == 0


def test_timeouts_and_failures_are_samples_of_the_batch() -> None:
    text = batch("00000001", 0, 2)
    text += "run_batt.py:445: -- 00000001 - test[0] timed out\n"
    text += "run_batt.py:451: -- 00000001 - test[1] failed: KeyError: 5\n"
    counts = counts_of(text)
    assert (counts["sample_timeouts"], counts["sample_failures"], counts["process_pool_used"]) == (
        1,
        1,
        1,
    )


def test_rates_divide_by_batches_and_are_none_without_batches() -> None:
    counts = dict.fromkeys(COUNT_KEYS, 0)
    assert rates_of(counts) == dict.fromkeys(RATE_KEYS)
    counts.update(batches=4, overload=1, sequential=2, process_pool_used=1)
    rates = rates_of(counts)
    assert (rates["overload"], rates["sequential"]) == (0.25, 0.5)
    # the process-pool share divides by the large batches: none here, so no share
    assert rates["process_pool_used"] is None
    counts["large_batches"] = 2
    assert rates_of(counts)["process_pool_used"] == 0.5


def test_a_source_split_in_two_parts_merges_to_the_same_counts() -> None:
    text = (
        batch("00000001", 0, 2)
        + batch("00000002", 1, 1)
        + "<dynamic-code>:512: demo[1] - 00000002 - 1\n"
        + "<dynamic-code>:512: demo[2] - 00000002 - 1\n"
        + "run_batt.py:566: -- System overloaded (70 threads), using sequential processing\n"
        + "<dynamic-code>:512: demo[3] - 00000001 - 1\n"
        + "<dynamic-code>:512: demo[2] - 00000001 - 1\n"
        + batch("00000003", 2, 4)
    )
    whole = counts_of(text)
    events = events_of(text)
    for cut in range(len(events) + 1):
        first = Tally(DEFAULTS)
        first.add_all(events[:cut])
        second = Tally(DEFAULTS, detached=True)
        second.add_all(events[cut:])
        first.merge(pickle.loads(pickle.dumps(second)))  # parts cross process boundaries
        assert first.finish() == whole, cut


# -- versions: which line opens a batch -----------------------------------------------------


def start(task: str, index: int) -> str:
    return f"run_batt.py:1241: -- {task} - {index} start --\n"


def test_a_start_line_alone_opens_the_batch_as_the_newest_program_prints_it() -> None:
    counts = counts_of(start("0ca9ddb6", 0) + batch("0ca9ddb6", 0, 4).split("\n", 1)[1])
    assert (counts["batches"], counts["process_pool_used"], counts["samples"]) == (1, 1, 4)


def test_start_and_bare_batch_line_of_one_task_count_one_batch() -> None:
    # 2025-10-09 to 2025-10-14: both lines, start first
    counts = counts_of(start("0ca9ddb6", 0) + batch("0ca9ddb6", 0, 4))
    assert counts["batches"] == 1


def test_a_second_bare_batch_line_of_the_task_is_a_second_batch() -> None:
    text = start("0ca9ddb6", 0) + batch("0ca9ddb6", 0, 4) + batch("0ca9ddb6", 0, 2)
    counts = counts_of(text)
    assert (counts["batches"], counts["process_pool_used"], counts["thread_pool_used"]) == (2, 1, 1)


def test_a_guard_decision_named_after_the_task_joins_its_batch() -> None:
    decision = ("threadwatch-guard event=decision batch=0ca9ddb6-0 items=4 threads=3"
                " executor=sequential workers=1 reason=overload context=-\n")
    counts = counts_of(start("0ca9ddb6", 0) + decision)
    assert (counts["batches"], counts["overload"], counts["sequential"]) == (1, 1, 1)


# -- runs ------------------------------------------------------------------------------------

SUMMARY = "2 tasks - timeouts = 0 - tot_d_score = 1663206 in 6.470s\n"


def test_a_run_followed_by_another_without_its_summary_was_cut_off() -> None:
    text = start("00000001", 0) + start("00000002", 1) + start("00000003", 0) + SUMMARY
    tally = Tally(DEFAULTS)
    tally.add_all(events_of(text))
    assert tally.finish()["cut_off_runs"] == 1
    assert not tally.run_open


def test_a_date_line_ends_an_open_run_as_cut_off() -> None:
    date = "Fri Nov 27 17:41:33 UTC 2026\n"
    counts = counts_of(start("00000001", 0) + date + start("00000002", 0))
    assert counts["cut_off_runs"] == 1


def test_a_completed_run_then_the_next_is_not_cut_off() -> None:
    tally = Tally(DEFAULTS)
    tally.add_all(events_of(start("00000001", 0) + SUMMARY + start("00000002", 0)))
    assert tally.finish()["cut_off_runs"] == 0
    assert tally.run_open and tally.last_start == ("00000002", 0)


def test_a_run_split_across_parallel_parts_is_judged_as_one() -> None:
    first, second = start("00000001", 0) + start("00000002", 1), start("00000003", 0) + SUMMARY
    whole = counts_of(first + second)
    head, tail = Tally(DEFAULTS), Tally(DEFAULTS, detached=True)
    head.add_all(events_of(first))
    tail.add_all(events_of(second))
    head.merge(tail)
    assert head.finish() == whole and whole["cut_off_runs"] == 1


def test_timeout_kill_after_term_is_one_script_timeout() -> None:
    text = ("timeout: sending signal TERM to command \u2018python\u2019\n"
            "timeout: sending signal KILL to command \u2018python\u2019\n")
    assert counts_of(text)["script_timeouts"] == 1


# -- shares of samples -----------------------------------------------------------------------


def test_sample_shares_count_each_sample_once() -> None:
    text = start("6e19193c", 0) + (
        "run_batt.py:931: demo[0] - 6e19193c - 32\n"
        "run_batt.py:298: -- 6e19193c - demo[0] failed due to nested thread exhaustion"
        " (in call_with_timeout)\n"
        "run_batt.py:298: -- 6e19193c - test[0] failed due to nested thread exhaustion"
        " (in call_with_timeout)\n"
        "<dynamic-code>:919: -- 6e19193c - demo[1] timed out\n"
    )
    counts = counts_of(text)
    assert (counts["samples"], counts["sample_failures"], counts["sample_timeouts"]) == (3, 2, 1)
    rates = rates_of(counts)
    assert rates["sample_failures"] == 2 / 3 and rates["sample_timeouts"] == 1 / 3


# -- a guard batch named after its task, and the program's own lines about it ----------------

def guarded(task: str, index: int, items: int, guard: str = "", program: str = "", *,
            executor: str = "process", samples: int | None = None) -> str:
    """A ported run_batt's lines for one task: start, the guard's decision and item lines,
    batch_done, then the program's sample lines and its own lines about the outcomes."""
    name = f"{task}-{index}"
    lines = [f"run_batt.py:162: -- {task} - {index} start --",
             f"threadwatch-guard event=decision batch={name} items={items} threads=1 "
             f"executor={executor} workers=3 reason=large_batch pool=loky context=loky"]
    lines += [line.format(name=name) for line in guard.splitlines()]
    lines.append(f"threadwatch-guard event=batch_done batch={name} executor={executor} "
                 f"items={items} ok={items} failed=0 seconds=0.1")
    lines += [f"<dynamic-code>:106: demo[{k}] - {task} - 4"
              for k in range(items if samples is None else samples)]
    lines += [line.format(task=task) for line in program.splitlines()]
    return "\n".join(lines) + "\n"


ITEM_FAILED = 'threadwatch-guard event=item_failed batch={name} index=1 error=KeyError message="5"'
PROGRAM_FAILED = "run_batt.py:150: -- {task} - demo[1] failed: 5"


def test_one_failure_said_by_the_guard_and_the_program_counts_once() -> None:
    counts = counts_of(guarded("0ca9ddb6", 0, 4, ITEM_FAILED, PROGRAM_FAILED, samples=3))
    assert (counts["batches"], counts["samples"], counts["sample_failures"]) == (1, 4, 1)
    assert (counts["process_pool_used"], counts["thread_pool_used"]) == (1, 0)


@pytest.mark.parametrize(("guard", "program"), [(ITEM_FAILED, ""), ("", PROGRAM_FAILED)],
                         ids=["guard-only", "program-only"])
def test_a_failure_said_by_either_side_alone_counts_once(guard: str, program: str) -> None:
    counts = counts_of(guarded("0ca9ddb6", 0, 4, guard, program, samples=3))
    assert counts["sample_failures"] == 1


def test_two_failures_said_twice_count_twice() -> None:
    guard = ITEM_FAILED + "\n" + ITEM_FAILED.replace("index=1", "index=2")
    program = PROGRAM_FAILED + "\n" + PROGRAM_FAILED.replace("demo[1]", "demo[2]")
    assert counts_of(guarded("0ca9ddb6", 0, 4, guard, program, samples=2))["sample_failures"] == 2


def test_a_silent_program_s_batch_has_the_guard_s_item_count_as_samples() -> None:
    """run_batt prints its progress only on its author's hosts: the guard's lines remain."""
    text = (
        "threadwatch-guard event=decision batch=0ca9ddb6-0 items=5 threads=1 executor=process "
        "workers=3 reason=large_batch pool=loky context=loky\n"
        + ITEM_FAILED.format(name="0ca9ddb6-0") + "\n"
        "threadwatch-guard event=batch_done batch=0ca9ddb6-0 executor=thread items=5 ok=4 "
        "failed=1 seconds=0.1\n"
    )
    counts = counts_of(text)
    assert (counts["batches"], counts["samples"], counts["sample_failures"]) == (1, 5, 1)
    assert (counts["process_pool_used"], counts["thread_pool_used"]) == (0, 1)


def test_a_memory_error_said_by_both_counts_once_as_memory_error_and_failure() -> None:
    guard = ("threadwatch-guard event=memory_error batch={name} index=0 action=stop "
             'error=MemoryError message=""')
    program = ("run_batt.py:145: -- {task} - demo[0] failed due to MemoryError\n"
               "run_batt.py:146: CRITICAL: MemoryError during future collection. System out of"
               " memory. Exiting.")
    counts = counts_of(guarded("0ca9ddb6", 0, 4, guard, program, samples=0))
    assert (counts["memory_errors"], counts["sample_failures"], counts["samples"]) == (1, 1, 4)


def test_the_guard_s_timeouts_and_the_program_s_count_the_larger_number() -> None:
    guard = "threadwatch-guard event=item_timed_out batch={name} index=3 seconds=10.0"
    program = ("<dynamic-code>:101: -- {task} - demo[1] timed out\n"
               "run_batt.py:155: -- {task} - demo[3] result collection timed out after 10s")
    counts = counts_of(guarded("3bd292e8", 2, 5, guard, program))
    assert counts["sample_timeouts"] == 2  # demo[1] in its worker, demo[3] by the guard


def test_a_named_batch_stays_open_after_batch_done_for_the_program_s_lines() -> None:
    counts = counts_of(guarded("0ca9ddb6", 0, 2, executor="thread", samples=2)
                       + guarded("269e22fb", 1, 5))
    assert (counts["batches"], counts["samples"]) == (2, 7)
    assert (counts["thread_pool_used"], counts["process_pool_used"]) == (1, 1)


def test_count_and_rate_keys_keep_their_names_and_json_order() -> None:
    assert COUNT_KEYS == (
        "batches", "overload", "threads_over_60", "threads_40_60", "pool_fallback",
        "process_pool_fallback", "thread_pool_fallback", "parallel_failed", "sequential",
        "process_pool_used", "thread_pool_used", "sample_timeouts", "sample_failures",
        "thread_keyerror", "thread_errors", "memory_errors", "script_timeouts", "runs_completed",
        "samples", "cut_off_runs", "creation_retries", "thread_creation_failures",
        "pool_creation_failures", "nested_thread_exhaustion", "chunk_timeouts", "stalled",
        "large_batches",
    )
    assert RATE_KEYS == tuple(RATES) == (
        "overload", "sequential", "process_pool_used", "threads_over_60", "threads_40_60",
        "sample_failures", "sample_timeouts",
    )


def test_a_count_read_back_is_checked_against_the_keys() -> None:
    assert count_key("samples") == "samples"
    with pytest.raises(ValueError, match="not a count: 'sample'"):
        count_key("sample")
