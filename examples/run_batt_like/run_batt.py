"""A small program shaped like run_batt.py (pierreb4/tokpidjin, 2025-11-15), ported onto
threadwatch.guard with loky's process pool.

As in the real program: solvers are generated as source (card.py writes them there) and
exec'd, so their code is ``<dynamic-code>``; each task's samples (demo and test) are scored
together in one batch, each solver call under a per-sample timeout (``-t``); every line is
printed in run_batt's own words and prefix (``run_batt.py:<line>:``); the operators run it as
``python -u run_batt.py … | tee NAME_run.log`` (``run_card.sh``). What the port changed is the
batch: ``run_batch(score_sample, …, batch=f"{task_id}-{task_i}")`` instead of the hand-written
pool chain, and the guard's lines go to the same standard output as the program's.

``docs/porting-run_batt.md`` walks through the same changes in the real program.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from typing import Any

from utils import DO_PRINT, call_with_timeout, print_l

from faults import apply_sample_fault, sample_fault, start_program_faults
from threadwatch.guard import (
    GuardPolicy,
    ItemStatus,
    cancel_running_batches,
    install_thread_cleanup_guard,
    log_lines_to,
    run_batch,
)

# The narrow guard instead of run_batt's blind Thread._delete patch. Everything at the top
# level of this file also runs in each worker of a stdlib pool (imported as __mp_main__):
# keep it to definitions and cheap set-up, and the work under `if __name__ == "__main__":`.
install_thread_cleanup_guard()

# Eight-hex-digit task ids and small grids, as in the ARC data run_batt reads. A grid whose
# first cell is 9 makes the batt slow: that sample times out (its `-t` timeout).
TASKS: dict[str, dict[str, list[dict[str, Any]]]] = {
    "0ca9ddb6": {
        "demo": [{"input": [[k, 1], [2, 3]], "output": [[k + 1, 2], [3, 4]]} for k in range(3)],
        "test": [{"input": [[4, 4], [4, 4]], "output": [[5, 5], [5, 5]]}],
    },
    "269e22fb": {
        "demo": [{"input": [[k, 0], [0, k]], "output": [[k, 0], [0, k]]} for k in range(2)],
        "test": [{"input": [[7, 7], [0, 0]], "output": [[7, 7], [0, 0]]}],
    },
    "3bd292e8": {
        "demo": [{"input": [[k, 5]], "output": [[k + 3, 8]]} for k in (1, 2, 3)]
        + [{"input": [[9, 9]], "output": [[2, 2]]}],
        "test": [{"input": [[6, 6]], "output": [[9, 9]]}],
    },
}


def make_batt_source(solver_count: int = 4) -> str:
    """The batt module card.py would write: one solver per shift, and batt() to run them."""
    solvers = "\n".join(
        f"def solve_{k}(I):\n    return tuple(tuple((c + {k}) % 10 for c in row) for row in I)\n"
        for k in range(solver_count)
    )
    table = ", ".join(f"('{k:08x}', solve_{k})" for k in range(solver_count))
    return f'''
import time

{solvers}
SOLVERS = ({table},)


def batt(task_id, S, I, O):
    if I[0][0] == 9:
        time.sleep(30)  # a slow solver: the sample's timeout ends the call
    grid = tuple(tuple(row) for row in I)
    o = [(t_n, 0, solver_id, solve(grid)) for t_n, (solver_id, solve) in enumerate(SOLVERS)]
    s = []
    if O is not None:
        want = tuple(tuple(row) for row in O)
        s = [(t_n, solver_id, "diff", (0,)) for t_n, _, solver_id, C in o if C == want]
    return o, s
'''


def load_batt(source: str) -> Any:
    """exec the generated source as ``<dynamic-code>``; its batt() is what workers run."""
    namespace: dict[str, Any] = {"__name__": "batt"}
    exec(compile(source, "<dynamic-code>", "exec"), namespace)
    return namespace["batt"]


def score_sample(args: tuple[Any, ...]) -> dict[str, Any]:
    """Score one sample (run in a loky worker, a thread, or inline): run_batt's score_sample."""
    i, sample, sample_type, task_id, S, timeout, batt, fault, main_pid = args
    apply_sample_fault(fault, main_pid)
    timed_out, result = call_with_timeout(batt, [task_id, S, sample["input"], None], timeout)
    if timed_out and DO_PRINT:
        print_l(f"-- {task_id} - {sample_type}[{i}] timed out")
    outputs, scores = [], []
    if result is not None:
        outputs, _ = result
        if DO_PRINT:
            print_l(f"{sample_type}[{i}] - {task_id} - {len(outputs)}")
        _, diff = call_with_timeout(batt, [task_id, S, sample["input"], sample["output"]], timeout)
        if diff is not None:
            scores = diff[1]
        for _, o_solver_id, _, _ in scores:
            if DO_PRINT:
                print_l(f"- MATCH: {o_solver_id = } - sample_type={sample_type}[{i}]"
                        f" task_id={task_id}")
    return {"index": i, "sample_type": sample_type, "outputs": outputs,
            "solver_scores": scores, "timed_out": timed_out}


def _failed(index: int, sample_type: str) -> dict[str, Any]:
    return {"index": index, "sample_type": sample_type, "outputs": [], "solver_scores": [],
            "timed_out": True}


def check_batt(task_i: int, task_id: str, timeout: float, batt: Any,
               policy: GuardPolicy) -> list[dict[str, Any]]:
    task = TASKS[task_id]
    S = tuple((tuple(map(tuple, s["input"])), tuple(map(tuple, s["output"])))
              for s in task["demo"])
    all_sample_args = [
        (i, sample, sample_type, task_id, S, timeout, batt,
         sample_fault(task_i, sample_type, i), os.getpid())
        for sample_type in ("demo", "test")
        for i, sample in enumerate(task[sample_type])
    ]
    # was: thread count check, ProcessPoolExecutor/ThreadPoolExecutor, managed_executor,
    # _submit_with_retry, _collect_futures_safely, the sequential fallbacks
    result = run_batch(score_sample, all_sample_args, policy, batch=f"{task_id}-{task_i}")
    all_results = []
    for outcome, args in zip(result.outcomes, all_sample_args, strict=True):
        sample_idx, sample_type = args[0], args[2]
        if outcome.ok:
            all_results.append(outcome.value)
            continue
        if outcome.status is ItemStatus.MEMORY_ERROR:
            if DO_PRINT:
                print_l(f"-- {task_id} - {sample_type}[{sample_idx}] failed due to MemoryError")
            print_l("CRITICAL: MemoryError during future collection. System out of memory."
                    " Exiting.")
            sys.exit(1)
        if DO_PRINT and outcome.status is ItemStatus.TIMED_OUT:
            limit = policy.item_timeout_seconds
            print_l(f"-- {task_id} - {sample_type}[{sample_idx}] result collection timed out"
                    f" after {limit:.0f}s")
        elif DO_PRINT and outcome.status is ItemStatus.FAILED:
            print_l(f"-- {task_id} - {sample_type}[{sample_idx}] failed: {outcome.error}")
        all_results.append(_failed(sample_idx, sample_type))  # cancelled: nothing to say
    return all_results


def run_batt(task_i: int, task_id: str, timeout: float, batt: Any, policy: GuardPolicy) -> int:
    if DO_PRINT:
        print_l(f"-- {task_id} - {task_i} start --")
    results = check_batt(task_i, task_id, timeout, batt, policy)
    candidates = {out[3] for r in results for out in r["outputs"]}
    if DO_PRINT:
        print_l(f"-- {task_id} - {task_i} done - {len(candidates)} candidates scored")
    return sum(len(r["solver_scores"]) for r in results)


def _signal_handler(signum: int, frame: Any) -> None:
    """run_batt's handler, with the guard's hook first: the running batch kills its workers,
    settles what is open as cancelled and logs batch_done on the way out."""
    cancel_running_batches(signal.Signals(signum).name)
    raise KeyboardInterrupt


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-t", "--timeout", type=float, default=0.5, help="per-call timeout")
    parser.add_argument("-c", "--count", type=int, default=0, help="tasks to run (0: all)")
    parser.add_argument("--guard-stream", choices=("stdout", "stderr"), default="stdout",
                        help="where the guard's lines go (stdout: into the tee'd log)")
    parser.add_argument("--pool", choices=("loky", "stdlib"), default="loky")
    args = parser.parse_args()

    log_lines_to(sys.stdout if args.guard_stream == "stdout" else sys.stderr)
    signal.signal(signal.SIGINT, _signal_handler)
    signal.signal(signal.SIGTERM, _signal_handler)
    start_program_faults()

    # run_batt's numbers are the guard's defaults (40 threads, 4 samples, 3 workers, 3
    # creations, 5 submissions); a sample makes two calls of at most `-t` each, so one that is
    # still running long after that is hung, and its worker is ended
    policy = GuardPolicy(pool=args.pool, item_timeout_seconds=4 * args.timeout + 10)
    batt = load_batt(make_batt_source())
    task_ids = list(TASKS)[: args.count or None]
    start_time = time.perf_counter()
    tot_d_score = 0
    for task_i, task_id in enumerate(task_ids):
        tot_d_score += run_batt(task_i, task_id, args.timeout, batt, policy)
    elapsed = time.perf_counter() - start_time
    print(f"{len(task_ids)} tasks - timeouts = 0 - tot_d_score = {tot_d_score} in {elapsed:.3f}s")


if __name__ == "__main__":
    main()
