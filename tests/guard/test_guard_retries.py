"""Pool creation and item submission are retried with backoff, one line per retry, then the
chain falls back."""

from __future__ import annotations

import re
from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from typing import Any

from guard_items import double

from threadwatch.guard import ExecutorKind, GuardPolicy, default_pool_factory, run_batch

Lines = Callable[[], list[str]]
FAST = GuardPolicy(creation_backoff_seconds=0.01, submit_backoff_seconds=0.01)


def _only(lines: list[str], event: str) -> list[str]:
    return [line for line in lines if line.startswith(f"threadwatch-guard event={event} ")]


def _process_pool_failing(times: int) -> tuple[Callable[..., Executor], list[int]]:
    made: list[int] = []

    def factory(kind: ExecutorKind, workers: int, context: str | None) -> Executor:
        if kind is ExecutorKind.PROCESS:
            made.append(workers)
            if len(made) <= times:
                raise OSError(11, "Resource temporarily unavailable")
        return default_pool_factory(kind, workers, context)

    return factory, made


def test_the_defaults_are_run_batts_three_creations_and_five_submissions() -> None:
    policy = GuardPolicy()
    assert (policy.pool_creation_attempts, policy.submit_attempts) == (3, 5)
    assert (policy.creation_backoff_seconds, policy.submit_backoff_seconds) == (0.2, 0.1)


def test_pool_creation_that_succeeds_on_a_retry_needs_no_fallback(guard_lines: Lines) -> None:
    factory, made = _process_pool_failing(times=2)
    result = run_batch(double, range(4), FAST, pool_factory=factory)
    assert (result.executor, result.values(), result.fallbacks) == (
        ExecutorKind.PROCESS, [0, 2, 4, 6], ()
    )
    assert len(made) == 3
    retries = _only(guard_lines(), "pool_creation_retry")
    assert [re.sub(r"batch=\S+ ", "", line.split("event=")[1]) for line in retries] == [
        "pool_creation_retry executor=process attempt=1 attempts=3 delay=0.010 "
        'error=BlockingIOError message="[Errno 11] Resource temporarily unavailable"',
        "pool_creation_retry executor=process attempt=2 attempts=3 delay=0.020 "
        'error=BlockingIOError message="[Errno 11] Resource temporarily unavailable"',
    ]


def test_pool_creation_failing_every_time_gives_up_then_falls_back(guard_lines: Lines) -> None:
    factory, made = _process_pool_failing(times=99)
    result = run_batch(double, range(4), FAST, pool_factory=factory)
    assert (result.executor, result.values()) == (ExecutorKind.THREAD, [0, 2, 4, 6])
    assert len(made) == 3
    events = [line.split()[1] for line in guard_lines()]
    assert events == [
        "event=decision",
        "event=pool_creation_retry",
        "event=pool_creation_retry",
        "event=pool_creation_failed",
        "event=fallback",
        "event=batch_done",
    ]
    assert " executor=process attempts=3 error=BlockingIOError " in (
        _only(guard_lines(), "pool_creation_failed")[0]
    )


class _NoThreadFor(ThreadPoolExecutor):
    """A real thread pool whose submit fails ``times`` times as when no thread can start."""

    failures = 0

    def __init__(self, workers: int, times: int) -> None:
        super().__init__(workers)
        self._times = times

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        if _NoThreadFor.failures < self._times:
            _NoThreadFor.failures += 1
            raise RuntimeError("can't start new thread")
        return super().submit(fn, *args, **kwargs)


def test_a_submission_is_retried_with_doubling_backoff(guard_lines: Lines) -> None:
    _NoThreadFor.failures = 0

    def factory(kind: ExecutorKind, workers: int, context: str | None) -> Executor:
        return _NoThreadFor(workers, times=3)

    policy = GuardPolicy(submit_backoff_seconds=0.01)
    result = run_batch(double, range(2), policy, pool_factory=factory)
    assert (result.executor, result.values(), result.fallbacks) == (
        ExecutorKind.THREAD, [0, 2], ()
    )
    retries = _only(guard_lines(), "submit_retry")
    assert [line.split(" index=")[1].split(" error=")[0] for line in retries] == [
        "0 executor=thread attempt=1 attempts=5 delay=0.010",
        "0 executor=thread attempt=2 attempts=5 delay=0.020",
        "0 executor=thread attempt=3 attempts=5 delay=0.040",
    ]


def test_a_submission_failing_every_time_gives_up_after_five_then_falls_back(
    guard_lines: Lines,
) -> None:
    _NoThreadFor.failures = 0

    def factory(kind: ExecutorKind, workers: int, context: str | None) -> Executor:
        if workers == 2:
            return _NoThreadFor(workers, times=99)
        return default_pool_factory(kind, workers, context)

    result = run_batch(double, range(2), FAST, pool_factory=factory)
    assert (result.executor, result.values()) == (ExecutorKind.THREAD, [0, 2])
    assert len(_only(guard_lines(), "submit_retry")) == 4
    (given_up,) = _only(guard_lines(), "submit_failed")
    assert given_up.endswith(
        ' index=0 executor=thread attempts=5 error=RuntimeError message="can\'t start new thread"'
    )
    assert [f.remaining for f in result.fallbacks] == [2]
