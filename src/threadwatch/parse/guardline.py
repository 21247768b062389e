"""Decoding of ``threadwatch.guard``'s log lines (format documented in guard/eventlog.py).

A guard line is ``threadwatch-guard event=<name> key=value ...`` (logfmt) anywhere in a line.
Its fallbacks, retries, item failures, timeouts and memory errors mean what run_batt's own
messages mean, so they decode to the same kinds and are counted by the same rules:

========================  ============================  =====================================
guard event               kind                          run_batt's own line of that meaning
========================  ============================  =====================================
``fallback`` to thread    POOL_FALLBACK                 ``… failed (…), trying ThreadPool…``
``fallback`` to seq.      THREAD_POOL_FALLBACK          ``… also failed (…), using sequential``
``item_failed``           SAMPLE_FAILED                 ``-- {id} - demo[0] failed: …``
``item_timed_out``        SAMPLE_TIMEOUT                ``… result collection timed out …``
``memory_error``          MEMORY_ERROR (with an index)  ``CRITICAL: MemoryError …``
``pool_creation_retry``   POOL_CREATION_RETRY           ``… creation failed (…), retrying in``
``pool_creation_failed``  POOL_CREATION_FAILED          ``… creation failed: …``
``submit_retry``          THREAD_CREATION_RETRY         ``… thread creation failed, retrying``
``submit_failed``         THREAD_CREATION_FAILED        ``… thread creation failed after …``
``batch_timeout``         CHUNK_TIMEOUT                 ``… chunk timeout - … unfinished``
========================  ============================  =====================================

Item lines carry no sample type (the guard knows an index, not ``demo``/``test``): that is how
the tally tells them from the program's own line about the same sample.
"""

from __future__ import annotations

import re
from typing import Any

from threadwatch.events import Kind

GUARD_REGEX = r"threadwatch-guard event=(?P<guard_event>\w+)(?P<guard_fields>[^\n]*)"

_PAIR = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*"|\S*)')
_ESCAPE = re.compile(r"\\(.)")
_EXECUTOR_CLASS = {"process": "ProcessPoolExecutor", "thread": "ThreadPoolExecutor"}


_ESCAPED = {"n": "\n", "r": "\r", "t": "\t"}
# events about one item of a batch
_ITEM_KINDS = {
    "item_failed": Kind.SAMPLE_FAILED,
    "item_timed_out": Kind.SAMPLE_TIMEOUT,
    "memory_error": Kind.MEMORY_ERROR,
}
# retries of a pool's creation or of handing it an item, and giving up on them
_RETRY_KINDS = {
    "pool_creation_retry": Kind.POOL_CREATION_RETRY,
    "pool_creation_failed": Kind.POOL_CREATION_FAILED,
    "submit_retry": Kind.THREAD_CREATION_RETRY,
    "submit_failed": Kind.THREAD_CREATION_FAILED,
}


def _unescape(match: re.Match[str]) -> str:
    return _ESCAPED.get(match[1], match[1])


def parse_logfmt(text: str) -> dict[str, str]:
    """Split ``key=value key="quoted value"`` pairs; quoted values are unescaped."""
    pairs: dict[str, str] = {}
    for key, raw in _PAIR.findall(text):
        quoted = raw.startswith('"')
        pairs[key] = _ESCAPE.sub(_unescape, raw[1:-1]) if quoted else raw
    return pairs


def _int(value: str | None) -> int | None:
    return int(value) if value is not None and value.isdigit() else None


def decode_guard(event_name: str, fields_text: str) -> tuple[Kind, dict[str, Any]] | None:
    """Map one guard line to an event kind and its fields; None for an unknown guard event."""
    f = parse_logfmt(fields_text)
    batch = f.get("batch")
    if event_name == "decision":
        return Kind.GUARD_DECISION, {
            "task_id": batch,
            "items": _int(f.get("items")),
            "number": _int(f.get("threads")),
            "executor": f.get("executor"),
            "message": f.get("reason"),
        }
    if event_name == "fallback":
        common = {"task_id": batch, "error_type": f.get("error"), "message": f.get("message")}
        if f.get("to") == "sequential":
            return Kind.THREAD_POOL_FALLBACK, common
        return Kind.POOL_FALLBACK, {**common, "executor": _EXECUTOR_CLASS.get(f.get("from", ""))}
    if event_name in _ITEM_KINDS:
        return _ITEM_KINDS[event_name], {
            "task_id": batch,
            "sample_index": _int(f.get("index")),
            "error_type": f.get("error"),
            "message": f.get("message"),
        }
    if event_name in _RETRY_KINDS:
        return _RETRY_KINDS[event_name], {
            "task_id": batch,
            "executor": _EXECUTOR_CLASS.get(f.get("executor", "")),
            "error_type": f.get("error"),
            "message": f.get("message"),
        }
    if event_name == "batch_timeout":
        return Kind.CHUNK_TIMEOUT, {
            "task_id": batch,
            "items": _int(f.get("unfinished")),
            "message": "guard batch",
        }
    if event_name == "batch_done":
        return Kind.GUARD_BATCH_DONE, {
            "task_id": batch,
            "executor": f.get("executor"),
            "items": _int(f.get("items")),
        }
    if event_name == "thread_cleanup_suppressed":
        return Kind.THREAD_CLEANUP_KEYERROR, {
            "thread_name": f.get("thread"),
            "thread_status": f.get("status"),
            "thread_ident": _int(f.get("ident")),
            "python_version": f.get("python"),
            "error_type": "KeyError",
        }
    return None
