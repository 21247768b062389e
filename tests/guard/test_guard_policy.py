"""The decision: overload, small and large batches, start methods, thread counting."""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Iterator

import pytest

from threadwatch.guard import (
    Decision,
    DecisionReason,
    ExecutorKind,
    GuardPolicy,
    count_threads,
    decide,
)
from threadwatch.guard import policy as policy_module


@pytest.fixture
def sleeping_threads() -> Iterator[list[threading.Thread]]:
    """Hold 45 real threads alive, blocked on an Event, for the duration of a test."""
    release = threading.Event()
    threads = [threading.Thread(target=release.wait, name=f"sleeper-{i}") for i in range(45)]
    for thread in threads:
        thread.start()
    yield threads
    release.set()
    for thread in threads:
        thread.join()


def test_policy_defaults_are_run_batts_numbers() -> None:
    policy = GuardPolicy()
    assert (policy.overload_threads, policy.process_min_batch, policy.max_workers) == (40, 4, 3)
    assert policy.start_method == "auto"
    assert policy.thread_count_source == "process"


def test_policy_is_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        GuardPolicy().max_workers = 8  # type: ignore[misc]


@pytest.mark.parametrize(
    ("changes", "complaint"),
    [
        ({"max_workers": 0}, "max_workers"),
        ({"start_method": "vfork"}, "start_method"),
        ({"thread_count_source": "os"}, "thread_count_source"),
    ],
)
def test_policy_rejects_invalid_settings(changes: dict[str, object], complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        GuardPolicy(**changes)  # type: ignore[arg-type]


def test_more_than_overload_threads_means_sequential() -> None:
    decision = decide(10, GuardPolicy(), threads=41)
    assert decision == Decision(10, 41, ExecutorKind.SEQUENTIAL, 1, DecisionReason.OVERLOAD, None)


def test_exactly_overload_threads_is_not_overload() -> None:
    assert decide(10, GuardPolicy(), threads=40).reason is DecisionReason.LARGE_BATCH


def test_small_batch_uses_thread_pool_sized_to_batch() -> None:
    assert decide(2, GuardPolicy(), threads=1) == Decision(
        2, 1, ExecutorKind.THREAD, 2, DecisionReason.SMALL_BATCH, None, "stdlib"
    )
    assert decide(3, GuardPolicy(), threads=1).workers == 3


def test_large_batch_uses_forkserver_process_pool_of_max_workers() -> None:
    assert decide(4, GuardPolicy(), threads=1) == Decision(
        4, 1, ExecutorKind.PROCESS, 3, DecisionReason.LARGE_BATCH, "forkserver", "stdlib"
    )


def test_workers_never_exceed_items() -> None:
    assert decide(4, GuardPolicy(max_workers=8), threads=1).workers == 4


def test_fork_and_spawn_only_when_the_policy_asks() -> None:
    assert decide(5, GuardPolicy(start_method="fork"), threads=1).context == "fork"
    assert decide(5, GuardPolicy(start_method="spawn"), threads=1).context == "spawn"


def test_empty_batch_runs_nothing_sequentially() -> None:
    assert decide(0, GuardPolicy(), threads=1) == Decision(
        0, 1, ExecutorKind.SEQUENTIAL, 0, DecisionReason.SMALL_BATCH, None
    )


def test_45_live_python_threads_make_the_decision_sequential(
    sleeping_threads: list[threading.Thread],
) -> None:
    decision = decide(8, GuardPolicy(thread_count_source="python"))
    assert decision.executor is ExecutorKind.SEQUENTIAL
    assert decision.threads >= 46


def test_process_thread_count_sees_the_same_live_threads(
    sleeping_threads: list[threading.Thread],
) -> None:
    assert count_threads("process") >= len(sleeping_threads) + 1


def test_process_count_falls_back_to_python_count_and_says_so_once(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="threadwatch.guard")
    monkeypatch.setattr(policy_module, "_TASK_DIR", "/nonexistent/task")
    monkeypatch.setattr(policy_module._NativeCount, "available", True)
    monkeypatch.setattr(policy_module._NativeCount, "warned", False)
    assert count_threads("process") == threading.active_count()
    assert count_threads("process") == threading.active_count()
    warnings = [
        r.getMessage() for r in caplog.records if "counting Python threads" in r.getMessage()
    ]
    assert len(warnings) == 1
