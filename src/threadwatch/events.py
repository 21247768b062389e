"""The event model: one immutable record per recognised log message or traceback block.

An event is a ``NamedTuple``: as immutable as a frozen dataclass and about five times cheaper
to create, which matters when a scan makes millions of them. Every field but ``kind``,
``source`` and ``offset`` is optional and set only when the message carries it.
"""

from __future__ import annotations

import enum
from typing import NamedTuple


class Kind(enum.Enum):
    """What a log line or block means: run_batt's messages (docs/messages.md), CPython's
    thread traceback blocks, the guard's lines."""

    TASK_START = "task_start"
    BATCH = "batch"
    OVERLOAD = "overload"
    POOL_FALLBACK = "pool_fallback"
    THREAD_POOL_FALLBACK = "thread_pool_fallback"
    PARALLEL_FAILED = "parallel_failed"
    EXECUTOR_CREATION_FAILED = "executor_creation_failed"
    SAMPLE_DONE = "sample_done"
    SAMPLE_TIMEOUT = "sample_timeout"
    SAMPLE_FAILED = "sample_failed"
    SOLVER_MATCH = "solver_match"
    TASK_SCORED = "task_scored"
    TASK_DONE = "task_done"
    RUN_SUMMARY = "run_summary"
    THREAD_CREATION_RETRY = "thread_creation_retry"
    THREAD_CREATION_FAILED = "thread_creation_failed"
    NATIVE_THREAD_FAILED = "native_thread_failed"
    NESTED_THREAD_EXHAUSTION = "nested_thread_exhaustion"
    POOL_CREATION_RETRY = "pool_creation_retry"
    POOL_CREATION_FAILED = "pool_creation_failed"
    CHUNK_TIMEOUT = "chunk_timeout"
    MEMORY_ERROR = "memory_error"
    SAMPLE_MEMORY_ERROR = "sample_memory_error"
    MEMORY_EXIT = "memory_exit"
    SCRIPT_TIMEOUT = "script_timeout"
    RUN_DATE = "run_date"
    # made by ``tail``, not read: a source whose run went quiet for ``stall_seconds``
    STALLED = "stalled"
    # threadwatch.guard's own lines; its fallbacks and item failures reuse the kinds above
    GUARD_DECISION = "guard_decision"
    GUARD_BATCH_DONE = "guard_batch_done"
    # traceback blocks
    THREAD_CLEANUP_KEYERROR = "thread_cleanup_keyerror"
    THREAD_ERROR = "thread_error"
    TRACEBACK = "traceback"

    # Members are singletons compared by identity; Enum's own __hash__ is Python code that
    # hashes the name, and every counted event looks its kind up in a dict.
    __hash__ = object.__hash__


class Executor(enum.Enum):
    """Where a batch's samples ran."""

    PROCESS = "process"
    THREAD = "thread"
    SEQUENTIAL = "sequential"


class Event(NamedTuple):
    """One recognised message.

    Attributes:
        kind: what it is.
        source: the path (or ``-``) it was read from.
        offset: byte offset of the message (or of a block's first line) in that source.
        task_id: the 8-hex-digit task id, or a guard batch id.
        batch_index: the task's index ``i`` in ``-- {id} - {i} --``.
        sample_type, sample_index: ``demo``/``test`` and ``k`` of ``{type}[{k}]``.
        number: a number the message carries (threads, outputs, candidates, tasks).
        items: a second number: a guard batch's size, a run summary's timeouts.
        executor: the executor a line names (``ProcessPoolExecutor``, a guard executor, ...).
        error_type, message: the error a line or block reports.
        thread_name, thread_ident, thread_status: from a thread repr in a traceback header.
        python_version: ``3.11`` etc. when a traceback's file paths show it.
        text: the raw line or block (for alert samples; may be long).
        samples: a counting scan's ``sample_done`` event also stands for the sample lines of
            the same task printed right after its own, one line each and nothing between:
            their (type, index), in order (see ``parse/grammar.py``). None otherwise.
    """

    kind: Kind
    source: str
    offset: int
    task_id: str | None = None
    batch_index: int | None = None
    sample_type: str | None = None
    sample_index: int | None = None
    number: int | None = None
    items: int | None = None
    executor: str | None = None
    error_type: str | None = None
    message: str | None = None
    thread_name: str | None = None
    thread_ident: int | None = None
    thread_status: str | None = None
    python_version: str | None = None
    text: str = ""
    samples: tuple[tuple[str, int], ...] | None = None
