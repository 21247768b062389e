"""threadwatch.guard: the guarded executor core and a narrow thread-cleanup guard.

Stands alone: it imports nothing else from threadwatch and nothing outside the standard
library (loky only when ``GuardPolicy(pool="loky")`` asks for it), so a batch program can use
it without the monitor's dependencies. Everything it
decides is logged on the ``threadwatch.guard`` logger in the format documented in
``threadwatch.guard.eventlog``, which ``threadwatch`` parses back.
"""

from __future__ import annotations

from threadwatch.guard.cleanup import (
    SuppressedCleanupError,
    install_thread_cleanup_guard,
    is_thread_cleanup_guard_installed,
    suppressed_count,
    suppressed_records,
    thread_cleanup_guard,
    uninstall_thread_cleanup_guard,
)
from threadwatch.guard.eventlog import LOGGER_NAME, format_event, log_lines_to
from threadwatch.guard.executor import POOL_ERRORS, default_pool_factory, run_batch
from threadwatch.guard.outcome import BatchResult, Fallback, ItemOutcome, ItemStatus
from threadwatch.guard.policy import (
    Decision,
    DecisionReason,
    ExecutorKind,
    GuardPolicy,
    count_threads,
    decide,
)
from threadwatch.guard.signals import cancel_on_signals, cancel_running_batches

__all__ = [
    "LOGGER_NAME",
    "POOL_ERRORS",
    "BatchResult",
    "Decision",
    "DecisionReason",
    "ExecutorKind",
    "Fallback",
    "GuardPolicy",
    "ItemOutcome",
    "ItemStatus",
    "SuppressedCleanupError",
    "cancel_on_signals",
    "cancel_running_batches",
    "count_threads",
    "decide",
    "default_pool_factory",
    "format_event",
    "install_thread_cleanup_guard",
    "is_thread_cleanup_guard_installed",
    "log_lines_to",
    "run_batch",
    "suppressed_count",
    "suppressed_records",
    "thread_cleanup_guard",
    "uninstall_thread_cleanup_guard",
]
