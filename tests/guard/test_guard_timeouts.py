"""Item and batch timeouts: a late item is timed_out, its worker process is ended and replaced,
a thread running it is abandoned, and the batch returns on time."""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from guard_items import record_pid_then_sleep, sleep_then_double

from threadwatch.guard import ExecutorKind, GuardPolicy, ItemStatus, run_batch

Lines = Callable[[], list[str]]
TIMEOUT = 0.6
SLOW = 2.0  # far past the timeout: a batch that waited for it would take this long


def _only(lines: list[str], event: str) -> list[str]:
    return [line for line in lines if line.startswith(f"threadwatch-guard event={event} ")]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")  # a killed child not yet reaped is a zombie: dead
    return not (stat.exists() and stat.read_text().split(") ")[1].startswith("Z"))


# A process pool's start-up counts against its first items' timeouts: 1.5 s leave room for it
# on a loaded machine, and the late item, killed with its worker, may sleep long.
@pytest.mark.parametrize(
    ("pool", "items", "executor", "limits"),
    [
        ("stdlib", 5, ExecutorKind.PROCESS, (1.5, 30.0)),
        ("loky", 5, ExecutorKind.PROCESS, (1.5, 30.0)),
        ("stdlib", 3, ExecutorKind.THREAD, (TIMEOUT, SLOW)),
    ],
    ids=["stdlib-process", "loky-process", "thread"],
)
def test_an_item_past_its_timeout_is_timed_out_and_the_batch_returns_in_time(
    pool: Any, items: int, executor: ExecutorKind, limits: tuple[float, float],
    guard_lines: Lines,
) -> None:
    timeout, slow = limits  # the item timeout, how long the late item would sleep
    work = [(0.01, k) for k in range(items)]
    work[1] = (slow, 1)
    started = time.monotonic()
    result = run_batch(
        sleep_then_double, work, GuardPolicy(pool=pool, item_timeout_seconds=timeout)
    )
    elapsed = time.monotonic() - started
    assert elapsed < timeout + 1.0
    assert result.executor is executor and result.fallbacks == ()
    assert [o.status for o in result.outcomes] == [
        ItemStatus.TIMED_OUT if k == 1 else ItemStatus.OK for k in range(items)
    ]
    assert [o.value for o in result.outcomes if o.ok] == [2 * k for k in range(items) if k != 1]
    assert isinstance(result.outcomes[1].error, TimeoutError)
    (line,) = _only(guard_lines(), "item_timed_out")
    assert re.fullmatch(
        rf"threadwatch-guard event=item_timed_out batch={result.batch_id} index=1 "
        r"seconds=\d\.\d\d\d",
        line,
    )
    assert timeout <= float(line.rsplit("=", 1)[1]) < timeout + 0.5
    assert guard_lines()[-1].endswith(" timed_out=1 cancelled=0 memory_errors=0 stopped=-")


@pytest.mark.parametrize("pool", ["stdlib", "loky"])
def test_the_worker_process_of_a_timed_out_item_is_ended_and_replaced(
    pool: Any, tmp_path: Path
) -> None:
    work = [(str(tmp_path), k, 30.0 if k == 0 else 0.05) for k in range(6)]
    result = run_batch(
        record_pid_then_sleep, work, GuardPolicy(pool=pool, item_timeout_seconds=1.5)
    )
    assert [o.status for o in result.outcomes] == [ItemStatus.TIMED_OUT] + [ItemStatus.OK] * 5
    late_worker = int((tmp_path / "0.pid").read_text())
    assert late_worker != os.getpid()
    deadline = time.monotonic() + 5
    while _alive(late_worker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(late_worker)
    # the items after the timeout ran in new workers
    later = {int((tmp_path / f"{k}.pid").read_text()) for k in range(1, 6)}
    assert late_worker not in later


def test_a_thread_running_a_timed_out_item_is_abandoned_and_its_late_result_dropped() -> None:
    finished = threading.Event()

    def slow_then_flag(value: int) -> int:
        if value == 0:
            time.sleep(1.2)
            finished.set()
        return value

    started = time.monotonic()
    result = run_batch(slow_then_flag, [0, 1], GuardPolicy(item_timeout_seconds=0.3))
    assert time.monotonic() - started < 1.0
    assert not finished.is_set()  # still running when the batch returned: abandoned
    assert finished.wait(5)
    time.sleep(0.05)
    assert [o.status for o in result.outcomes] == [ItemStatus.TIMED_OUT, ItemStatus.OK]
    assert result.outcomes[0].value is None  # its late return changed nothing


def test_sequential_items_time_out_too(guard_lines: Lines) -> None:
    release = threading.Event()
    sleepers = [threading.Thread(target=release.wait) for _ in range(45)]
    for thread in sleepers:
        thread.start()
    try:
        started = time.monotonic()
        result = run_batch(
            sleep_then_double,
            [(0.01, 0), (SLOW, 1), (0.01, 2), (0.01, 3)],
            GuardPolicy(thread_count_source="python", item_timeout_seconds=TIMEOUT),
        )
        elapsed = time.monotonic() - started
    finally:
        release.set()
        for thread in sleepers:
            thread.join()
    assert result.executor is ExecutorKind.SEQUENTIAL
    assert elapsed < TIMEOUT + 1.0
    assert [o.status.value for o in result.outcomes] == ["ok", "timed_out", "ok", "ok"]
    assert " reason=overload " in guard_lines()[0]


@pytest.mark.parametrize("pool", ["stdlib", "loky"])
def test_a_batch_deadline_times_out_what_is_unfinished(pool: Any, guard_lines: Lines) -> None:
    # 2 s leave the pool's start-up room on a loaded machine; the slow items run in worker
    # processes, which the deadline kills
    work = [(0.01, 0), (30.0, 1), (30.0, 2), (0.01, 3), (0.01, 4)]
    started = time.monotonic()
    result = run_batch(
        sleep_then_double, work, GuardPolicy(pool=pool, batch_timeout_seconds=2.0)
    )
    assert time.monotonic() - started < 2.0 + 1.0
    assert result.stopped == "batch_timeout"
    assert [o.status.value for o in result.outcomes] == [
        "ok", "timed_out", "timed_out", "ok", "ok"
    ]
    assert _only(guard_lines(), "batch_timeout") == [
        f"threadwatch-guard event=batch_timeout batch={result.batch_id} seconds=2.0 unfinished=2"
    ]
    assert guard_lines()[-1].endswith(
        " timed_out=2 cancelled=0 memory_errors=0 stopped=batch_timeout"
    )


def test_no_batch_hangs_when_every_item_hangs() -> None:
    started = time.monotonic()
    result = run_batch(
        sleep_then_double,
        [(SLOW, k) for k in range(4)],
        GuardPolicy(item_timeout_seconds=0.3, batch_timeout_seconds=0.8),
    )
    assert time.monotonic() - started < 0.8 + 1.0
    assert {o.status for o in result.outcomes} == {ItemStatus.TIMED_OUT}


@pytest.mark.parametrize(
    ("changes", "complaint"),
    [
        ({"item_timeout_seconds": 0}, "item_timeout_seconds"),
        ({"batch_timeout_seconds": -1.0}, "batch_timeout_seconds"),
    ],
)
def test_timeouts_must_be_positive(changes: dict[str, Any], complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        GuardPolicy(**changes)
