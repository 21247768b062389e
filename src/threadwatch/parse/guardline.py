"""Decoding of ``threadwatch.guard``'s log lines (format documented in guard/eventlog.py).

A guard line is ``threadwatch-guard event=<name> key=value ...`` (logfmt) anywhere in a line.
Its fallbacks and item failures mean what run_batt's own messages mean, so they decode to the
same kinds and are counted by the same rules.
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
    if event_name == "item_failed":
        return Kind.SAMPLE_FAILED, {
            "task_id": batch,
            "sample_index": _int(f.get("index")),
            "error_type": f.get("error"),
            "message": f.get("message"),
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
