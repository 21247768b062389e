"""Outcome statuses, memory errors (stop or continue) and named batches."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from guard_items import fail_on_odd, raise_memory_error_on, sleep_then_double

from threadwatch.guard import GuardPolicy, ItemStatus, run_batch

SRC = str(Path(__file__).resolve().parents[2] / "src")

Lines = Callable[[], list[str]]


@pytest.mark.parametrize("pool", ["stdlib", "loky"])
def test_a_memory_error_stops_the_batch_and_cancels_the_rest(
    pool: Any, guard_lines: Lines
) -> None:
    work = [(k, 0) for k in range(8)]  # item 0 runs out of memory at once
    result = run_batch(raise_memory_error_on, work, GuardPolicy(pool=pool, max_workers=1))
    assert result.stopped == "memory_error"
    assert result.outcomes[0].status is ItemStatus.MEMORY_ERROR
    assert isinstance(result.outcomes[0].error, MemoryError)
    assert {o.status for o in result.outcomes[1:]} == {ItemStatus.CANCELLED}
    memory = [line for line in guard_lines() if " event=memory_error " in line]
    assert memory == [
        f"threadwatch-guard event=memory_error batch={result.batch_id} index=0 action=stop "
        'error=MemoryError message="cannot allocate for item 0"'
    ]
    assert guard_lines()[-1].endswith(
        " ok=0 failed=0 seconds=" + guard_lines()[-1].split(" seconds=")[1].split()[0]
        + " timed_out=0 cancelled=7 memory_errors=1 stopped=memory_error"
    )


def test_on_memory_error_continue_keeps_the_batch_going(guard_lines: Lines) -> None:
    work = [(k, 2) for k in range(5)]
    result = run_batch(raise_memory_error_on, work, GuardPolicy(on_memory_error="continue"))
    assert result.stopped is None
    assert [o.status.value for o in result.outcomes] == ["ok", "ok", "memory_error", "ok", "ok"]
    (memory,) = [line for line in guard_lines() if " event=memory_error " in line]
    assert " action=continue " in memory


def test_a_memory_error_in_a_thread_stops_the_batch_too() -> None:
    result = run_batch(raise_memory_error_on, [(1, 1), (2, 1)])  # two items: a thread pool
    assert result.stopped == "memory_error"
    assert result.outcomes[0].status is ItemStatus.MEMORY_ERROR


def test_every_outcome_has_one_of_five_statuses() -> None:
    result = run_batch(fail_on_odd, range(4))
    assert [o.status for o in result.outcomes] == [
        ItemStatus.OK, ItemStatus.FAILED, ItemStatus.OK, ItemStatus.FAILED
    ]
    assert {status.value for status in ItemStatus} == {
        "ok", "failed", "timed_out", "cancelled", "memory_error"
    }
    assert (result.count("ok"), result.count(ItemStatus.FAILED)) == (2, 2)


def test_a_batch_named_after_its_task_carries_the_name_on_every_line(guard_lines: Lines) -> None:
    result = run_batch(fail_on_odd, range(6), batch="0ca9ddb6-3")
    assert result.batch_id == "0ca9ddb6-3"
    assert all(re.search(r" batch=0ca9ddb6-3 ", line) for line in guard_lines())
    assert len(guard_lines()) == 1 + 3 + 1  # decision, three item_failed, batch_done


def test_on_memory_error_must_be_stop_or_continue() -> None:
    with pytest.raises(ValueError, match="on_memory_error"):
        GuardPolicy(on_memory_error="ignore")  # type: ignore[arg-type]


def test_values_raise_a_timed_out_item_as_a_timeout_error() -> None:
    result = run_batch(sleep_then_double, [(0.01, 1), (1.5, 2)], GuardPolicy(
        item_timeout_seconds=0.2))
    with pytest.raises(ExceptionGroup, match=r"1 of 2 items failed .*\(indices 1\)") as info:
        result.values()
    assert [type(error) for error in info.value.exceptions] == [TimeoutError]


OLD_PYTHON_VALUES = r"""
import sys, types
# the guard alone, without threadwatch/__init__.py (3.11+ code): it is what runs on 3.9
parent = types.ModuleType("threadwatch")
parent.__path__ = [sys.argv[1] + "/threadwatch"]
sys.modules["threadwatch"] = parent
from threadwatch.guard import GuardPolicy, run_batch

def check(item):
    if item % 2:
        raise ValueError(f"odd {item}")
    return item

result = run_batch(check, range(4), GuardPolicy(), batch="b1")
try:
    result.values()
except Exception as group:
    print(group.message)
    print([str(error) for error in group.exceptions], str(group.__cause__))
"""


@pytest.mark.parametrize("version", ["3.9.18", "3.10.13"])
def test_values_raises_a_group_of_the_same_shape_before_311(version: str) -> None:
    python = Path("/root/.pyenv/versions") / version / "bin" / "python"
    if not python.exists():
        if os.environ.get("CI"):
            pytest.fail(f"CPython {version} is missing (pyenv): CI must prove the guard on it")
        pytest.skip(f"CPython {version} is not installed")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    run = subprocess.run([str(python), "-S", "-c", OLD_PYTHON_VALUES, SRC], capture_output=True,
                         text=True, timeout=60, env=env, check=False)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == [
        "2 of 4 items failed in batch b1 (indices 1, 3)",
        "['odd 1', 'odd 3'] odd 1",
    ]
