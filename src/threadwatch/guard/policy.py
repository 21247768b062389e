"""The guard's policy (every number of the fallback chain) and the per-batch decision.

The decision is the first link of the chain, taken once per batch before any pool exists:

- more than ``overload_threads`` threads alive -> sequential (``reason=overload``);
- fewer than ``process_min_batch`` items -> thread pool of ``min(n, max_workers)`` workers;
- otherwise -> process pool of ``min(n, max_workers)`` workers.

Which process pool: ``pool="stdlib"`` (``concurrent.futures``; ``forkserver`` where the platform
has it and ``spawn`` otherwise: a forked child inherits the parent's threads' state half-copied,
which is where the thread-cleanup ``KeyError`` comes from; ``fork`` only when the policy asks
for it), ``pool="loky"`` (loky's pool, which ships functions with cloudpickle and starts its
workers with its own fork+exec, named ``loky``), or a factory of the caller's. The decision names
the pool and its start method as they are; where loky is asked for but not installed, the
stdlib pool is used and a warning says so once.
"""

from __future__ import annotations

import enum
import functools
import logging
import os
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:  # 3.10+ syntax in aliases; the guard stays importable on 3.9
    from collections.abc import Callable
    from concurrent.futures import Executor

__all__ = [
    "Decision",
    "DecisionReason",
    "ExecutorKind",
    "GuardPolicy",
    "count_threads",
    "decide",
    "pool_name",
]

_log = logging.getLogger("threadwatch.guard")

_TASK_DIR = "/proc/self/task"
_START_METHODS = ("auto", "forkserver", "spawn", "fork")
_THREAD_SOURCES = ("process", "python")
_POOLS = ("stdlib", "loky")
_MEMORY_ACTIONS = ("stop", "continue")


class ExecutorKind(enum.Enum):
    """Where a batch's items run."""

    PROCESS = "process"
    THREAD = "thread"
    SEQUENTIAL = "sequential"


class DecisionReason(enum.Enum):
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
        pool: ``"stdlib"``, ``"loky"`` (install ``threadwatch[loky]``), or a factory
            ``(kind, workers, start_method) -> Executor`` called for process *and* thread
            pools (its ``__qualname__`` names the pool in the decision line).
        pool_creation_attempts: tries to create a pool before falling back (run_batt: 3).
        submit_attempts: tries to hand one item to a pool before falling back (run_batt: 5).
        creation_backoff_seconds, submit_backoff_seconds: the pause before the first retry,
            doubled before each further one (run_batt: 0.2 and 0.1); ``gc.collect()`` runs in
            every pause.
        item_timeout_seconds: an item still running this long after it was handed to a free
            worker is ``timed_out`` (None: no limit).
        batch_timeout_seconds: the whole batch returns by then; what has not finished is
            ``timed_out`` (None: no limit).
        on_memory_error: ``"stop"``: an item's ``MemoryError`` ends the batch (the rest is
            ``cancelled``); ``"continue"``: it is that item's outcome and the others go on.
    """

    overload_threads: int = 40
    process_min_batch: int = 4
    max_workers: int = 3
    start_method: Literal["auto", "forkserver", "spawn", "fork"] = "auto"
    thread_count_source: Literal["process", "python"] = "process"
    pool: Literal["stdlib", "loky"] | Callable[[ExecutorKind, int, str | None], Executor] = (
        "stdlib"
    )
    pool_creation_attempts: int = 3
    submit_attempts: int = 5
    creation_backoff_seconds: float = 0.2
    submit_backoff_seconds: float = 0.1
    item_timeout_seconds: float | None = None
    batch_timeout_seconds: float | None = None
    on_memory_error: Literal["stop", "continue"] = "stop"

    def __post_init__(self) -> None:
        if self.max_workers < 1:
            raise ValueError(f"max_workers must be >= 1, not {self.max_workers}")
        if self.start_method not in _START_METHODS:
            raise ValueError(f"start_method must be one of {_START_METHODS}")
        if self.thread_count_source not in _THREAD_SOURCES:
            raise ValueError(f"thread_count_source must be one of {_THREAD_SOURCES}")
        if not callable(self.pool) and self.pool not in _POOLS:
            raise ValueError(f"pool must be one of {_POOLS} or a factory, not {self.pool!r}")
        for name in ("pool_creation_attempts", "submit_attempts"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, not {getattr(self, name)}")
        for name in ("creation_backoff_seconds", "submit_backoff_seconds"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, not {getattr(self, name)}")
        for name in ("item_timeout_seconds", "batch_timeout_seconds"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ValueError(f"{name} must be > 0 or None, not {value}")
        if self.on_memory_error not in _MEMORY_ACTIONS:
            raise ValueError(f"on_memory_error must be one of {_MEMORY_ACTIONS}")


@dataclass(frozen=True)
class Decision:
    """The executor chosen for one batch, before anything ran."""

    items: int
    threads: int
    executor: ExecutorKind
    workers: int
    reason: DecisionReason
    context: str | None  # the process pool's start method; None unless executor is PROCESS
    # whose pool runs the batch: "stdlib", "loky" or the factory's name; None when sequential
    pool: str | None = None


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


class _Loky:
    """Whether loky can be imported; looked up once, without importing it."""

    checked = False
    available = False


def _loky_available() -> bool:
    if not _Loky.checked:
        import importlib.util  # noqa: PLC0415  # deferred like multiprocessing

        _Loky.available = importlib.util.find_spec("loky") is not None
        _Loky.checked = True
        if not _Loky.available:
            _log.warning(
                "threadwatch.guard: pool='loky' asked for but loky is not installed "
                "(pip install 'threadwatch[loky]'); using the standard library's process pool"
            )
    return _Loky.available


def pool_name(policy: GuardPolicy) -> str:
    """The pool the policy gives: ``stdlib``, ``loky`` (if importable) or the factory's name."""
    if callable(policy.pool):
        return str(getattr(policy.pool, "__qualname__", type(policy.pool).__name__))
    if policy.pool == "loky" and _loky_available():
        return "loky"
    return "stdlib"


def decide(items: int, policy: GuardPolicy, threads: int | None = None) -> Decision:
    """Choose the executor for a batch of ``items`` items under ``policy``.

    ``threads`` overrides the live thread count (for callers that already know it).
    """
    if threads is None:
        threads = count_threads(policy.thread_count_source)
    if threads > policy.overload_threads:
        return Decision(items, threads, ExecutorKind.SEQUENTIAL, 1, DecisionReason.OVERLOAD, None)
    workers = min(items, policy.max_workers)
    if items == 0:  # nothing to run: no pool is worth starting
        return Decision(
            items, threads, ExecutorKind.SEQUENTIAL, 0, DecisionReason.SMALL_BATCH, None
        )
    pool = pool_name(policy)
    if items < policy.process_min_batch:  # threads are the standard library's, or the factory's
        threads_from = pool if callable(policy.pool) else "stdlib"
        return Decision(
            items, threads, ExecutorKind.THREAD, workers, DecisionReason.SMALL_BATCH, None,
            threads_from,
        )
    if pool == "loky":
        context: str | None = "loky"  # loky's own start method (fork+exec), not multiprocessing's
    elif pool == "stdlib":
        context = _start_method(policy.start_method)
    else:  # a factory makes its own pool: its start method is its own business
        context = None
    return Decision(
        items, threads, ExecutorKind.PROCESS, workers, DecisionReason.LARGE_BATCH, context, pool
    )
