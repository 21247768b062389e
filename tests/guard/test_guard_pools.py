"""Pools: stdlib, loky or a factory, each driven through its adapter; honest decision lines."""

from __future__ import annotations

import re
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any

import loky
import pytest
from guard_items import double, exec_dynamic_solver

from threadwatch.guard import ExecutorKind, GuardPolicy, default_pool_factory, run_batch

Lines = Callable[[], list[str]]
GRIDS = [((k, 1), (2, 3)) for k in range(5)]
SOLVED = [((k + 1, 2), (3, 4)) for k in range(5)]


def _only(lines: list[str], event: str) -> list[str]:
    return [line for line in lines if line.startswith(f"threadwatch-guard event={event} ")]


def test_an_execd_function_runs_in_a_loky_process_pool_with_no_fallback(
    guard_lines: Lines,
) -> None:
    solve = exec_dynamic_solver()
    result = run_batch(solve, GRIDS, GuardPolicy(pool="loky"))  # type: ignore[arg-type]
    assert result.values() == SOLVED
    assert (result.executor, result.fallbacks) == (ExecutorKind.PROCESS, ())
    assert _only(guard_lines(), "fallback") == []
    assert " executor=process workers=3 reason=large_batch pool=loky context=loky" in (
        guard_lines()[0]
    )


def test_the_stdlib_pool_cannot_ship_an_execd_function_and_says_so(guard_lines: Lines) -> None:
    solve = exec_dynamic_solver()
    result = run_batch(solve, GRIDS)  # type: ignore[arg-type]
    assert (result.executor, result.values()) == (ExecutorKind.THREAD, SOLVED)
    (fallback,) = _only(guard_lines(), "fallback")
    assert " from=process to=thread error=PicklingError " in fallback


def test_picklability_is_checked_with_loky_s_cloudpickle(guard_lines: Lines) -> None:
    """Items a plain pickle refuses (a lambda inside) go to loky's workers all the same."""
    items = [(lambda v=k: v * 3) for k in range(4)]
    result = run_batch(_call, items, GuardPolicy(pool="loky"))
    assert (result.executor, result.values()) == (ExecutorKind.PROCESS, [0, 3, 6, 9])
    assert _only(guard_lines(), "fallback") == []


def _call(thunk: Callable[[], int]) -> int:
    return thunk()


def test_a_raw_loky_pool_from_a_factory_is_shut_down_with_loky_s_own_keyword(
    guard_lines: Lines,
) -> None:
    """The port's GUARD_POOL=loky_raw run: the guard passed cancel_futures to loky, whose
    shutdown() raised TypeError out of a finally, losing every result and batch_done."""

    def raw_loky(kind: ExecutorKind, workers: int, context: str | None) -> Executor:
        if kind is ExecutorKind.PROCESS:
            return loky.ProcessPoolExecutor(max_workers=workers)  # type: ignore[no-any-return]
        return default_pool_factory(kind, workers, context)

    result = run_batch(double, range(4), pool_factory=raw_loky)
    assert (result.executor, result.values()) == (ExecutorKind.PROCESS, [0, 2, 4, 6])
    assert guard_lines()[-1].startswith("threadwatch-guard event=batch_done ")
    assert " ok=4 failed=0 " in guard_lines()[-1]


class _PortsLokyPool(loky.ProcessPoolExecutor):  # type: ignore[misc]  # loky is untyped
    """The port's wrapper: loky's pool with the stdlib's shutdown() signature."""

    def shutdown(self, wait: bool = True, cancel_futures: bool = False) -> None:
        super().shutdown(wait=wait, kill_workers=cancel_futures)


def test_a_loky_subclass_keeps_loky_s_pickler_and_its_own_shutdown(guard_lines: Lines) -> None:
    solve = exec_dynamic_solver()

    def factory(kind: ExecutorKind, workers: int, context: str | None) -> Executor:
        if kind is ExecutorKind.PROCESS:
            return _PortsLokyPool(max_workers=workers)  # type: ignore[no-any-return]
        return default_pool_factory(kind, workers, context)

    result = run_batch(solve, GRIDS, GuardPolicy(pool=factory))  # type: ignore[arg-type]
    assert (result.executor, result.values()) == (ExecutorKind.PROCESS, SOLVED)
    assert re.search(
        r" executor=process workers=3 reason=large_batch "
        r"pool=test_a_loky_subclass_keeps_loky_s_pickler_and_its_own_shutdown\.<locals>\.factory"
        r" context=-$",
        guard_lines()[0],
    )


@pytest.mark.parametrize(
    ("pool", "items", "expected"),
    [
        (
            "stdlib",
            6,
            "executor=process workers=3 reason=large_batch pool=stdlib context=forkserver",
        ),
        ("loky", 6, "executor=process workers=3 reason=large_batch pool=loky context=loky"),
        ("loky", 2, "executor=thread workers=2 reason=small_batch pool=stdlib context=-"),
    ],
)
def test_decision_lines_name_the_pool_that_runs_the_batch(
    pool: Any, items: int, expected: str, guard_lines: Lines
) -> None:
    run_batch(double, range(items), GuardPolicy(pool=pool))
    assert guard_lines()[0].endswith(expected)


def test_an_unknown_pool_name_is_refused() -> None:
    with pytest.raises(ValueError, match="pool must be one of"):
        GuardPolicy(pool="dask")  # type: ignore[arg-type]
