"""run_batch with real pools and real failures: order, item errors, fallbacks, exactly-once."""

from __future__ import annotations

import logging
import multiprocessing
import os
import re
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from multiprocessing.context import BaseContext
from pathlib import Path
from typing import Any, cast

import pytest
from guard_items import (
    add_one_lambda,
    caller_thread_ident,
    describe_item,
    double,
    fail_on_odd,
    journal_item,
    journal_lines,
    journal_or_kill_worker,
)

from threadwatch.guard import (
    ExecutorKind,
    GuardPolicy,
    default_pool_factory,
    run_batch,
)

Lines = Callable[[], list[str]]
BATCH = r"(?P<batch>\d+-\d+)"


def _only(lines: list[str], event: str) -> list[str]:
    return [line for line in lines if line.startswith(f"threadwatch-guard event={event} ")]


@pytest.fixture
def huge_thread_stacks() -> Iterator[None]:
    """Make every new thread fail to start (its stack cannot be mapped): a real start failure."""
    threading.stack_size(2**50)
    try:
        yield
    finally:
        threading.stack_size(0)


def test_large_batch_runs_in_process_pool_and_keeps_input_order(guard_lines: Lines) -> None:
    result = run_batch(double, range(8))
    assert result.executor is ExecutorKind.PROCESS
    assert result.values() == [0, 2, 4, 6, 8, 10, 12, 14]
    decision, done = guard_lines()
    assert re.fullmatch(
        rf"threadwatch-guard event=decision batch={BATCH} items=8 threads=\d+ executor=process "
        r"workers=3 reason=large_batch pool=stdlib context=forkserver",
        decision,
    )
    assert re.fullmatch(
        rf"threadwatch-guard event=batch_done batch={result.batch_id} executor=process items=8 "
        r"ok=8 failed=0 seconds=\d+\.\d{3} timed_out=0 cancelled=0 memory_errors=0 stopped=-",
        done,
    )


def test_small_batch_runs_in_thread_pool(guard_lines: Lines) -> None:
    result = run_batch(double, [5, 6])
    assert (result.executor, result.values()) == (ExecutorKind.THREAD, [10, 12])
    assert " executor=thread workers=2 reason=small_batch pool=stdlib context=-" in (
        guard_lines()[0]
    )


def test_batch_ids_are_pid_and_sequence_number() -> None:
    first, second = run_batch(double, [1]), run_batch(double, [1])
    assert first.batch_id.startswith(f"{os.getpid()}-")
    assert int(second.batch_id.split("-")[1]) > int(first.batch_id.split("-")[1])


def test_overload_runs_sequentially_in_caller_thread_with_warning(
    guard_records: Callable[[], list[logging.LogRecord]],
) -> None:
    release = threading.Event()
    sleepers = [threading.Thread(target=release.wait) for _ in range(45)]
    for thread in sleepers:
        thread.start()
    try:
        result = run_batch(caller_thread_ident, range(6), GuardPolicy(thread_count_source="python"))
    finally:
        release.set()
        for thread in sleepers:
            thread.join()
    assert result.executor is ExecutorKind.SEQUENTIAL
    assert set(result.values()) == {threading.get_ident()}
    decision = guard_records()[0]
    assert decision.levelno == logging.WARNING
    assert re.fullmatch(
        rf"threadwatch-guard event=decision batch={BATCH} items=6 threads=(4[6-9]|[5-9]\d) "
        r"executor=sequential workers=1 reason=overload pool=- context=-",
        decision.getMessage(),
    )


@pytest.mark.parametrize("items", [range(3), range(6)], ids=["thread-pool", "process-pool"])
def test_item_error_keeps_other_results_and_is_logged(items: range, guard_lines: Lines) -> None:
    result = run_batch(fail_on_odd, items)
    assert [o.value for o in result.outcomes if o.ok] == [2 * i for i in items if i % 2 == 0]
    assert [(o.index, str(o.error)) for o in result.failures] == [
        (i, f"item {i} is odd") for i in items if i % 2
    ]
    failed = sorted(_only(guard_lines(), "item_failed"))
    assert failed == [
        f"threadwatch-guard event=item_failed batch={result.batch_id} index={i} "
        f'error=ValueError message="item {i} is odd"'
        for i in items
        if i % 2
    ]
    assert f"ok={result.ok_count} failed={len(result.failures)} " in guard_lines()[-1]


def test_values_raises_exception_group_of_item_errors() -> None:
    result = run_batch(fail_on_odd, range(4))
    with pytest.raises(ExceptionGroup, match=r"2 of 4 items failed .*\(indices 1, 3\)") as info:
        result.values()
    assert [str(e) for e in info.value.exceptions] == ["item 1 is odd", "item 3 is odd"]


def test_killed_worker_process_falls_back_to_thread_and_reruns_only_unfinished(
    tmp_path: Path, guard_lines: Lines
) -> None:
    journal = str(tmp_path / "journal")
    items = [(journal, index, 5, 5) for index in range(6)]  # item 5 kills its worker process
    result = run_batch(journal_or_kill_worker, items)
    assert result.values() == [0, 10, 20, 30, 40, 50]
    assert sorted(journal_lines(journal)) == [0, 1, 2, 3, 4, 5]  # each item ran exactly once
    assert result.executor is ExecutorKind.THREAD
    assert [f.remaining for f in result.fallbacks] == [1]
    (fallback,) = _only(guard_lines(), "fallback")
    assert re.fullmatch(
        rf"threadwatch-guard event=fallback batch={result.batch_id} from=process to=thread "
        r'error=BrokenProcessPool message="A process in the process pool was terminated '
        r'abruptly[^"]*" remaining=1',
        fallback,
    )
    assert " executor=thread items=6 ok=6 failed=0 " in guard_lines()[-1]


def test_unpicklable_callable_falls_back_to_thread_pool(guard_lines: Lines) -> None:
    result = run_batch(add_one_lambda, range(5))
    assert (result.executor, result.values()) == (ExecutorKind.THREAD, [1, 2, 3, 4, 5])
    (fallback,) = _only(guard_lines(), "fallback")
    assert " from=process to=thread error=PicklingError " in fallback
    assert fallback.endswith(" remaining=5")


def test_an_unpicklable_item_falls_back_to_thread_pool_instead_of_failing(
    guard_lines: Lines,
) -> None:
    lock = threading.Lock()  # an item pickle cannot ship, but a thread can use
    items: list[Any] = [1, 2, 3, lock, 5, 6]
    result = run_batch(describe_item, items)
    assert result.executor is ExecutorKind.THREAD
    assert result.values() == ["1", "2", "3", "lock", "5", "6"]
    (fallback,) = _only(guard_lines(), "fallback")
    assert re.fullmatch(
        rf"threadwatch-guard event=fallback batch={result.batch_id} from=process to=thread "
        r'error=PicklingError message="item 3 cannot be sent to a worker process: TypeError: '
        r"cannot pickle '_thread.lock' object\" remaining=6",
        fallback,
    )
    assert " executor=thread items=6 ok=6 failed=0 " in guard_lines()[-1]


def test_threads_that_cannot_start_fall_back_twice_to_sequential(
    huge_thread_stacks: None, guard_lines: Lines
) -> None:
    result = run_batch(caller_thread_ident, range(2))
    assert result.executor is ExecutorKind.SEQUENTIAL
    assert set(result.values()) == {threading.get_ident()}
    assert [
        line.split(" batch=")[1].split(" ", 1)[1] for line in _only(guard_lines(), "fallback")
    ] == [
        'from=thread to=thread error=RuntimeError message="can\'t start new thread" remaining=2',
        'from=thread to=sequential error=RuntimeError message="can\'t start new thread" '
        "remaining=2",
    ]
    assert " executor=sequential items=2 ok=2 failed=0 " in guard_lines()[-1]


class _SubmitFailsAfter(ThreadPoolExecutor):
    """A real thread pool whose submit raises OSError once ``accepted`` items are in."""

    def __init__(self, workers: int, accepted: int) -> None:
        super().__init__(workers)
        self._accepted = accepted

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        if self._accepted == 0:
            raise OSError("cannot create worker thread")
        self._accepted -= 1
        return super().submit(fn, *args, **kwargs)


def test_thread_pool_failing_midway_retries_rest_on_one_worker_exactly_once(
    tmp_path: Path, guard_lines: Lines
) -> None:
    journal = str(tmp_path / "journal")
    pools: list[tuple[ExecutorKind, int]] = []

    def factory(kind: ExecutorKind, workers: int, context: str | None) -> Executor:
        pools.append((kind, workers))
        if len(pools) == 1:
            return _SubmitFailsAfter(workers, accepted=1)
        return default_pool_factory(kind, workers, context)

    result = run_batch(journal_item, [(journal, i) for i in range(3)], pool_factory=factory)
    assert result.values() == [0, 10, 20]
    assert sorted(journal_lines(journal)) == [0, 1, 2]
    assert pools == [(ExecutorKind.THREAD, 3), (ExecutorKind.THREAD, 1)]
    (fallback,) = _only(guard_lines(), "fallback")
    assert fallback.endswith(
        'from=thread to=thread error=OSError message="cannot create worker thread" remaining=2'
    )
    assert result.executor is ExecutorKind.THREAD


def test_pool_creation_failure_falls_back(guard_lines: Lines) -> None:
    def factory(kind: ExecutorKind, workers: int, context: str | None) -> Executor:
        if kind is ExecutorKind.PROCESS:
            raise MemoryError("cannot allocate worker")
        return default_pool_factory(kind, workers, context)

    result = run_batch(double, range(4), pool_factory=factory)
    assert (result.executor, result.values()) == (ExecutorKind.THREAD, [0, 2, 4, 6])
    assert " from=process to=thread error=MemoryError " in _only(guard_lines(), "fallback")[0]


def test_empty_batch_logs_decision_and_done() -> None:
    result = run_batch(double, [])
    assert (result.outcomes, result.executor) == ((), ExecutorKind.SEQUENTIAL)


def test_decision_is_logged_first_and_exactly_once(guard_lines: Lines) -> None:
    run_batch(add_one_lambda, range(5))
    events = [line.split()[1] for line in guard_lines()]
    assert events == ["event=decision", "event=fallback", "event=batch_done"]


class _SecondWorkerCannotStart:
    """A real forkserver context whose second worker process fails to start (as on EAGAIN)."""

    def __init__(self) -> None:
        self._context = multiprocessing.get_context("forkserver")
        self._started = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._context, name)

    def Process(self, *args: Any, **kwargs: Any) -> Any:  # multiprocessing's name
        process = self._context.Process(*args, **kwargs)
        self._started += 1
        if self._started == 2:

            def refuse() -> None:
                raise OSError("cannot start worker process")

            process.start = refuse  # type: ignore[method-assign]  # the injected fault
        return process


def test_process_pool_failing_to_grow_runs_every_item_exactly_once(
    tmp_path: Path, guard_lines: Lines
) -> None:
    """ProcessPoolExecutor queues an item before starting the worker that fails; that item is
    still run by the first worker and must count as done, not be run again."""
    journal = str(tmp_path / "journal")

    def factory(kind: ExecutorKind, workers: int, context: str | None) -> Executor:
        if kind is ExecutorKind.PROCESS:
            return ProcessPoolExecutor(
                workers, mp_context=cast(BaseContext, _SecondWorkerCannotStart())
            )
        return default_pool_factory(kind, workers, context)

    result = run_batch(journal_item, [(journal, i) for i in range(6)], pool_factory=factory)
    assert result.values() == [0, 10, 20, 30, 40, 50]
    assert sorted(journal_lines(journal)) == [0, 1, 2, 3, 4, 5]
    (fallback,) = _only(guard_lines(), "fallback")
    assert ' from=process to=thread error=OSError message="cannot start worker process" ' in (
        fallback
    )
    assert multiprocessing.active_children() == []
