"""The guard's policy (every number of the fallback chain) and the per-batch decision.

The decision is the first link of the chain, taken once per batch before any pool exists:

- more than ``overload_threads`` threads alive -> sequential (``reason=overload``);
- fewer than ``process_min_batch`` items -> thread pool of ``min(n, max_workers)`` workers;
- otherwise -> process pool of ``min(n, max_workers)`` workers.

Process pools use ``forkserver`` where the platform has it and ``spawn`` otherwise: a forked
child inherits the parent's threads' state half-copied, which is where the thread-cleanup
``KeyError`` comes from (BRIEF §3). ``fork`` is used only when the policy asks for it.
"""

from __future__ import annotations

import enum
import functools
import logging
import os
import threading
from dataclasses import dataclass
from typing import Literal

__all__ = ["Decision", "ExecutorKind", "GuardPolicy", "Reason", "count_threads", "decide"]

_log = logging.getLogger("threadwatch.guard")

_TASK_DIR = "/proc/self/task"
_START_METHODS = ("auto", "forkserver", "spawn", "fork")
_THREAD_SOURCES = ("process", "python")


class ExecutorKind(enum.Enum):
    """Where a batch's items run."""

    PROCESS = "process"
    THREAD = "thread"
    SEQUENTIAL = "sequential"


class Reason(enum.Enum):
    """Why the decision chose its executor."""

    OVERLOAD = "overload"
    SMALL_BATCH = "small_batch"
    LARGE_BATCH = "large_batch"


@dataclass(frozen=True)
class GuardPolicy:
    """Every number of the fallback chain, with run_batt's values as defaults.

    Args:
        overload_threads: more threads than this alive -> run the batch sequentially.
        process_min_batch: batches with fewer items use a thread pool, others a process pool.
        max_workers: upper bound on pool workers (a pool never has more workers than items).
        start_method: ``"auto"`` (forkserver, else spawn), or exactly ``"forkserver"``,
            ``"spawn"`` or ``"fork"``.
        thread_count_source: ``"process"`` counts the process's native threads (Linux
            ``/proc/self/task``; C extensions and other interpreters' threads included),
            ``"python"`` counts ``threading.active_count()``. Where the process count is
            unavailable the Python count is used, and a warning says so once.
    """

    overload_threads: int = 40
    process_min_batch: int = 4
    max_workers: int = 3
    start_method: Literal["auto", "forkserver", "spawn", "fork"] = "auto"
    thread_count_source: Literal["process", "python"] = "process"

    def __post_init__(self) -> None:
        if self.max_workers < 1:
            raise ValueError(f"max_workers must be >= 1, not {self.max_workers}")
        if self.start_method not in _START_METHODS:
            raise ValueError(f"start_method must be one of {_START_METHODS}")
        if self.thread_count_source not in _THREAD_SOURCES:
            raise ValueError(f"thread_count_source must be one of {_THREAD_SOURCES}")


@dataclass(frozen=True)
class Decision:
    """The executor chosen for one batch, before anything ran."""

    items: int
    threads: int
    executor: ExecutorKind
    workers: int
    reason: Reason
    context: str | None  # multiprocessing start method; None unless executor is PROCESS


class _NativeCount:
    """Whether /proc/self/task can be read; flips to False (said once) the first time it fails."""

    available = os.path.isdir(_TASK_DIR)
    warned = False


def _python_fallback(why: str) -> int:
    if not _NativeCount.warned:
        _NativeCount.warned = True
        _log.warning(
            "threadwatch.guard: process thread count unavailable (%s); counting Python threads",
            why,
        )
    return threading.active_count()


def count_threads(source: Literal["process", "python"] = "process") -> int:
    """Return the number of threads alive: the whole process's, or Python's ``threading``'s."""
    if source == "python":
        return threading.active_count()
    if not _NativeCount.available:
        return _python_fallback(f"no {_TASK_DIR}")
    try:
        return len(os.listdir(_TASK_DIR))
    except OSError as exc:
        _NativeCount.available = False
        return _python_fallback(str(exc))


@functools.cache
def _start_method(requested: str) -> str:
    import multiprocessing  # noqa: PLC0415  # deferred: keeps `import threadwatch.guard` light

    available = multiprocessing.get_all_start_methods()
    if requested == "auto":
        return "forkserver" if "forkserver" in available else "spawn"
    if requested not in available:
        raise ValueError(f"start method {requested!r} is not available here ({available})")
    return requested


def decide(items: int, policy: GuardPolicy, threads: int | None = None) -> Decision:
    """Choose the executor for a batch of ``items`` items under ``policy``.

    ``threads`` overrides the live thread count (for callers that already know it).
    """
    if threads is None:
        threads = count_threads(policy.thread_count_source)
    if threads > policy.overload_threads:
        return Decision(items, threads, ExecutorKind.SEQUENTIAL, 1, Reason.OVERLOAD, None)
    workers = min(items, policy.max_workers)
    if items == 0:  # nothing to run: no pool is worth starting
        return Decision(items, threads, ExecutorKind.SEQUENTIAL, 0, Reason.SMALL_BATCH, None)
    if items < policy.process_min_batch:
        return Decision(items, threads, ExecutorKind.THREAD, workers, Reason.SMALL_BATCH, None)
    context = _start_method(policy.start_method)
    return Decision(items, threads, ExecutorKind.PROCESS, workers, Reason.LARGE_BATCH, context)
