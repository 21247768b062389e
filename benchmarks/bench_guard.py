"""Overhead of threadwatch.guard's run_batch against plain executors, measured in one run.

Each batch is run by the guard and by the plain executor it would pick, alternately, with a
new pool per batch on both sides (as run_batt does), the same worker count and, for process
pools, the same pool: the standard library's in the same multiprocessing context, or loky's
(``GuardPolicy(pool="loky")`` against ``loky.ProcessPoolExecutor``). Reported: median seconds
per batch and the ratio guard/plain (target <= 1.05 for batches of 4+ items), then the
decision's own cost.

    PYTHONPATH=src python benchmarks/bench_guard.py [--repeat 9] [--sizes 4,8,16,32,64]
        [--pools thread,stdlib,loky]
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import os
import statistics
import time
import timeit
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from typing import Literal

from threadwatch.guard import ExecutorKind, GuardPolicy, decide, run_batch

WORKERS = 3


def cpu_item(seed: int) -> int:
    """About 3 ms of pure-Python arithmetic."""
    total = seed
    for value in range(60_000):
        total = (total * 31 + value) % 1_000_003
    return total


def sleep_item(seed: int) -> int:
    """10 ms of waiting, like an item blocked on I/O."""
    time.sleep(0.010)
    return seed


def _plain(pool_name: str, context: str) -> Callable[[Callable[[int], int], list[int]], object]:
    def run(fn: Callable[[int], int], items: list[int]) -> object:
        pool: Executor
        if pool_name == "loky":
            import loky  # noqa: PLC0415  # only when loky is measured

            pool = loky.ProcessPoolExecutor(WORKERS)
        elif pool_name == "stdlib":
            pool = ProcessPoolExecutor(WORKERS, mp_context=multiprocessing.get_context(context))
        else:
            pool = ThreadPoolExecutor(WORKERS)
        with pool:
            return list(pool.map(fn, items))

    return run


def _guarded(policy: GuardPolicy) -> Callable[[Callable[[int], int], list[int]], object]:
    def run(fn: Callable[[int], int], items: list[int]) -> object:
        result = run_batch(fn, items, policy)
        assert result.executor is not ExecutorKind.SEQUENTIAL, "unexpected sequential run"
        return result.values()

    return run


def _median_pair(
    guard: Callable[[Callable[[int], int], list[int]], object],
    plain: Callable[[Callable[[int], int], list[int]], object],
    fn: Callable[[int], int],
    items: list[int],
    repeat: int,
) -> tuple[float, float]:
    guard_times: list[float] = []
    plain_times: list[float] = []
    for round_number in range(repeat):  # alternate who goes first: drift hits both alike
        order = ((guard, guard_times), (plain, plain_times))
        for runner, times in order if round_number % 2 == 0 else order[::-1]:
            started = time.perf_counter()
            runner(fn, items)
            times.append(time.perf_counter() - started)
    return statistics.median(guard_times), statistics.median(plain_times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=9)
    parser.add_argument("--sizes", default="4,8,16,32,64")
    parser.add_argument("--pools", default="thread,stdlib,loky")
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    pools = args.pools.split(",")

    # The guard's INFO lines are formatted and written, as in a real run.
    handler = logging.FileHandler(os.devnull)
    logging.getLogger("threadwatch.guard").addHandler(handler)
    logging.getLogger("threadwatch.guard").setLevel(logging.INFO)

    policies = {
        "thread": GuardPolicy(process_min_batch=10**9, overload_threads=10_000),
        "stdlib": GuardPolicy(process_min_batch=1, overload_threads=10_000),
        "loky": GuardPolicy(process_min_batch=1, overload_threads=10_000, pool="loky"),
    }
    context = decide(4, policies["stdlib"], threads=1).context or "spawn"
    # Start the forkserver (and import loky) once, outside the measurements.
    for name in pools:
        _plain(name, context)(sleep_item, [0])

    print(f"workers={WORKERS} context={context} repeat={args.repeat} cpus={os.cpu_count()}")
    print(f"{'pool':8} {'items':16} {'n':>3} {'guard s':>9} {'plain s':>9} {'ratio':>6}")
    for name in pools:
        ratios: list[float] = []
        for fn in (cpu_item, sleep_item):
            for size in sizes:
                items = list(range(size))
                guard_s, plain_s = _median_pair(
                    _guarded(policies[name]), _plain(name, context), fn, items, args.repeat
                )
                ratios.append(guard_s / plain_s)
                print(
                    f"{name:8} {fn.__name__:16} {size:3d} {guard_s:9.4f} {plain_s:9.4f} "
                    f"{guard_s / plain_s:6.3f}"
                )
        print(
            f"{name}: ratio guard/plain median {statistics.median(ratios):.3f}, "
            f"max {max(ratios):.3f}"
        )

    sources: tuple[Literal["process", "python"], ...] = ("process", "python")
    for source in sources:
        policy = GuardPolicy(thread_count_source=source)
        timer = timeit.Timer(lambda policy=policy: decide(16, policy))  # type: ignore[misc]
        loops = 20_000
        best = min(timer.repeat(repeat=5, number=loops)) / loops
        print(f"decide(16 items, thread_count_source={source!r}): {best * 1e6:.1f} us")


if __name__ == "__main__":
    main()
