"""Levels from counts and rates with the default rules."""

from __future__ import annotations

from threadwatch.config import load_config
from threadwatch.health.levels import Level
from threadwatch.health.metrics import COUNT_KEYS, rates_of
from threadwatch.health.rules import judge

RULES = load_config().rules


def verdict(**counts: int):  # type: ignore[no-untyped-def]
    full = dict.fromkeys(COUNT_KEYS, 0)
    full.update(counts)
    return judge(full, rates_of(full), RULES)


def test_healthy_scope_is_green_with_no_reasons() -> None:
    result = verdict(batches=10, process_pool_used=8)
    assert result.level is Level.GREEN and result.reasons == ()


def test_nothing_seen_is_unknown() -> None:
    assert verdict().level is Level.UNKNOWN


def test_no_batches_but_a_thread_keyerror_is_yellow() -> None:
    assert verdict(thread_keyerror=1).level is Level.YELLOW


def test_no_batches_but_a_memory_error_is_red() -> None:
    assert verdict(memory_errors=1).level is Level.RED


def test_overload_rate_boundaries() -> None:
    assert (
        verdict(batches=4, overload=1, process_pool_used=3).level is Level.GREEN
    )  # 25 % is not > 25 %
    result = verdict(batches=100, overload=26, process_pool_used=74)
    assert result.level is Level.YELLOW
    assert verdict(batches=100, overload=51, sequential=0, process_pool_used=49).level is Level.RED


def test_sequential_rate_boundaries() -> None:
    assert verdict(batches=4, sequential=1, process_pool_used=3).level is Level.YELLOW  # >= 25 %
    assert verdict(batches=100, sequential=40, process_pool_used=60).level is Level.YELLOW
    assert verdict(batches=100, sequential=41, process_pool_used=59).level is Level.RED


def test_process_pool_rate_at_seventy_percent_of_large_batches_is_yellow() -> None:
    assert verdict(batches=10, large_batches=10, process_pool_used=7).level is Level.YELLOW
    assert verdict(batches=10, large_batches=10, process_pool_used=8).level is Level.GREEN
    # small batches rightly on threads do not count: 7 of the 8 large ones is 87.5 %
    assert verdict(batches=20, large_batches=8, process_pool_used=7).level is Level.GREEN


def test_no_large_batch_has_no_process_pool_share_to_judge() -> None:
    result = verdict(batches=10, thread_pool_used=10)
    assert result.level is Level.GREEN and result.reasons == ()


def test_threads_over_60_frequently_is_red() -> None:
    result = verdict(batches=4, threads_over_60=1, overload=1, process_pool_used=3)
    assert result.level is Level.RED
    assert result.reasons[0].metric == "threads_over_60"


def test_reasons_name_metric_value_threshold_and_level_worst_first() -> None:
    result = verdict(batches=10, script_timeouts=1, thread_keyerror=2, process_pool_used=9)
    assert [(r.level, r.metric, r.value, r.operator, r.threshold) for r in result.reasons] == [
        (Level.RED, "script_timeouts", 1, ">=", 1.0),
        (Level.YELLOW, "thread_keyerror", 2, ">=", 1.0),
    ]
