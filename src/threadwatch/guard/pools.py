"""One small adapter per pool, so that no pool's own API leaks into the executor chain.

The chain asks five things of a pool: hand it one item (``submit``), the item a failing submit
queued anyway (``orphan``), stop it and wait for its threads (``shutdown``, dropping the items
not started when ``cancel``), stop it without waiting (``abandon``: threads running a timed-out
item go on by themselves), end its worker processes now (``kill_workers``), and say whether it
can ship an object to a worker (``dumps``, with the pool's own pickler).

=============  =======================================  ===============  ==================
adapter        pool                                     shutdown keyword pickler
=============  =======================================  ===============  ==================
stdlib         ``concurrent.futures.ProcessPoolExecutor``  ``cancel_futures`` ``pickle``
loky           ``loky.ProcessPoolExecutor``             ``kill_workers``   cloudpickle (loky's)
thread         ``concurrent.futures.ThreadPoolExecutor``   ``cancel_futures`` none needed
any other      a factory's executor                     what its ``shutdown`` accepts
=============  =======================================  ===============  ==================

loky is imported only here, and only when a loky pool is made or recognised.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import os
import pickle
import signal
import sys
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from threadwatch.guard.policy import ExecutorKind

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["PoolAdapter", "adapt", "make_pool"]

_log = logging.getLogger("threadwatch.guard")


class PoolAdapter:
    """A pool as the chain drives it. Subclasses change what differs between pools."""

    def __init__(self, executor: Executor, name: str, in_process: bool) -> None:
        self.executor = executor
        self.name = name
        self.in_process = in_process
        self._work_id: object = None

    def submit(self, fn: Callable[[Any], Any], arg: Any) -> Future[Any]:
        self._work_id = getattr(self.executor, "_queue_count", None)
        return self.executor.submit(fn, arg)

    def orphan(self) -> Future[Any] | None:
        """The future of the item the last, failing ``submit`` queued all the same, if any."""
        return None

    def dumps(self, obj: object) -> None:
        """Raise what the pool's pickler raises for ``obj``; nothing for a thread pool."""
        if self.in_process:
            pickle.dumps(obj)

    def shutdown(self, cancel: bool) -> None:
        """Stop the pool and wait for its threads; ``cancel`` drops the items not started."""
        self._stop(wait=True, cancel=cancel)

    def abandon(self) -> None:
        """Stop the pool without waiting: a thread still running an item finishes on its own."""
        self._stop(wait=False, cancel=True)

    def kill_workers(self) -> None:
        """End every worker process now (SIGKILL); a thread pool has none to end."""
        processes = getattr(self.executor, "_processes", None) or {}
        for process in list(processes.values()):
            pid = getattr(process, "pid", None)
            if pid:
                with contextlib.suppress(ProcessLookupError, PermissionError):  # ended already
                    os.kill(pid, signal.SIGKILL)

    def _stop(self, wait: bool, cancel: bool) -> None:
        try:
            self._shutdown(wait, cancel)
        except Exception as error:  # the results are in hand: a failing shutdown loses none
            _log.warning("threadwatch.guard: %s pool shutdown failed: %r", self.name, error)

    def _shutdown(self, wait: bool, cancel: bool) -> None:
        keywords = _shutdown_keywords(type(self.executor))
        if "cancel_futures" in keywords:
            self.executor.shutdown(wait=wait, cancel_futures=cancel)
        elif "kill_workers" in keywords:
            self.executor.shutdown(wait=wait, kill_workers=cancel)  # type: ignore[call-arg]  # loky-like
        else:
            self.executor.shutdown(wait=wait)


class ThreadPool(PoolAdapter):
    """``concurrent.futures.ThreadPoolExecutor``."""

    def __init__(self, executor: Executor, name: str) -> None:
        super().__init__(executor, name, in_process=False)

    def kill_workers(self) -> None:
        pass  # a thread cannot be ended from outside: it is abandoned instead

    def _shutdown(self, wait: bool, cancel: bool) -> None:
        self.executor.shutdown(wait=wait, cancel_futures=cancel)


class StdlibProcessPool(PoolAdapter):
    """``concurrent.futures.ProcessPoolExecutor``."""

    def __init__(self, executor: Executor, name: str) -> None:
        super().__init__(executor, name, in_process=True)

    def orphan(self) -> Future[Any] | None:
        # submit() queues the item *before* starting a worker, so a submit that raises may still
        # have its item run by an existing worker: its future must count, not be run again.
        pending = getattr(self.executor, "_pending_work_items", {})
        future = getattr(pending.get(self._work_id), "future", None)
        return future if isinstance(future, Future) else None

    def shutdown(self, cancel: bool) -> None:
        # A pool whose start failed half-way may leave workers that no manager thread will ever
        # stop (multiprocessing would wait for them at exit); end them before shutdown() forgets
        # the worker list.
        if getattr(self.executor, "_executor_manager_thread", True) is None:
            for process in list((getattr(self.executor, "_processes", None) or {}).values()):
                process.terminate()
        super().shutdown(cancel)

    def _shutdown(self, wait: bool, cancel: bool) -> None:
        self.executor.shutdown(wait=wait, cancel_futures=cancel)


class LokyProcessPool(PoolAdapter):
    """``loky.ProcessPoolExecutor``: ``shutdown(kill_workers=)`` and cloudpickle."""

    def __init__(self, executor: Executor, name: str) -> None:
        super().__init__(executor, name, in_process=True)

    def dumps(self, obj: object) -> None:
        from loky.backend.reduction import dumps  # noqa: PLC0415  # loky only when asked for

        dumps(obj)

    def _shutdown(self, wait: bool, cancel: bool) -> None:
        # loky's shutdown() takes no cancel_futures; kill_workers also fails what is queued
        self.executor.shutdown(wait=wait, kill_workers=cancel)  # type: ignore[call-arg]


def _shutdown_keywords(cls: type) -> frozenset[str]:
    try:
        return frozenset(inspect.signature(getattr(cls, "shutdown")).parameters)  # noqa: B009
    except (TypeError, ValueError):  # a builtin without a signature
        return frozenset()


def _is_loky(executor: Executor) -> bool:
    return any(klass.__module__.split(".")[0] == "loky" for klass in type(executor).__mro__)


def adapt(executor: Executor, name: str, kind: ExecutorKind) -> PoolAdapter:
    """The adapter for an executor a factory made, recognised by its class."""
    if isinstance(executor, ThreadPoolExecutor):
        return ThreadPool(executor, name)
    if _is_loky(executor):
        if "kill_workers" in _shutdown_keywords(type(executor)):
            return LokyProcessPool(executor, name)
        # a subclass that changed shutdown() (as a port may have): loky's pickler, its shutdown
        adapter = PoolAdapter(executor, name, in_process=True)
        adapter.dumps = LokyProcessPool.dumps.__get__(adapter)  # type: ignore[method-assign]
        return adapter
    # concurrent.futures.process imports multiprocessing: look, but do not import
    process_module = sys.modules.get("concurrent.futures.process")
    if process_module is not None and isinstance(executor, process_module.ProcessPoolExecutor):
        return StdlibProcessPool(executor, name)
    return PoolAdapter(executor, name, in_process=kind is ExecutorKind.PROCESS)


def make_pool(pool: str, kind: ExecutorKind, workers: int, context: str | None) -> PoolAdapter:
    """Create the ``stdlib`` or ``loky`` pool of ``kind`` (a thread pool is always stdlib's)."""
    if kind is not ExecutorKind.PROCESS:
        return ThreadPool(ThreadPoolExecutor(workers, thread_name_prefix="threadwatch-guard"), pool)
    if pool == "loky":
        import loky  # noqa: PLC0415  # loky only when asked for

        return LokyProcessPool(loky.ProcessPoolExecutor(workers), pool)
    # deferred: keeps `import threadwatch.guard` light for cleanup-guard-only users
    import multiprocessing  # noqa: PLC0415
    from concurrent.futures import ProcessPoolExecutor  # noqa: PLC0415

    executor = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context(context))
    return StdlibProcessPool(executor, pool)
