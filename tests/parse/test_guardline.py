"""Guard log lines decode into the same kinds as run_batt's messages."""

from __future__ import annotations

from threadwatch.events import Kind
from threadwatch.parse.grammar import Grammar
from threadwatch.parse.guardline import parse_logfmt
from threadwatch.parse.scanner import Scanner


def one(line: str):  # type: ignore[no-untyped-def]
    (event,) = Scanner("app.log", Grammar()).feed(line.encode() + b"\n")
    return event


def test_decision_line_is_a_guard_decision_with_its_executor() -> None:
    event = one(
        "INFO:threadwatch.guard:threadwatch-guard event=decision batch=77-1 items=6 threads=3 "
        "executor=process workers=3 reason=large_batch context=forkserver"
    )
    assert event.kind is Kind.GUARD_DECISION
    assert (event.task_id, event.items, event.number, event.executor, event.message) == (
        "77-1",
        6,
        3,
        "process",
        "large_batch",
    )


def test_process_fallback_counts_as_a_process_pool_fallback() -> None:
    event = one(
        "threadwatch-guard event=fallback batch=77-2 from=process to=thread error=OSError "
        'message="[Errno 12] Cannot allocate memory" remaining=2'
    )
    assert event.kind is Kind.POOL_FALLBACK
    assert event.executor == "ProcessPoolExecutor"
    assert event.message == "[Errno 12] Cannot allocate memory"


def test_fallback_to_sequential_is_a_thread_pool_fallback() -> None:
    event = one(
        "threadwatch-guard event=fallback batch=77-2 from=thread to=sequential error=RuntimeError "
        'message="can\'t start new thread" remaining=2'
    )
    assert event.kind is Kind.THREAD_POOL_FALLBACK


def test_suppressed_cleanup_error_is_a_thread_cleanup_keyerror() -> None:
    event = one(
        'threadwatch-guard event=thread_cleanup_suppressed thread="Thread-3 (worker)" '
        "status=stopped ident=1403 python=3.12.1"
    )
    assert event.kind is Kind.THREAD_CLEANUP_KEYERROR
    assert (event.thread_name, event.thread_status, event.thread_ident) == (
        "Thread-3 (worker)",
        "stopped",
        1403,
    )


def test_unknown_guard_event_is_ignored() -> None:
    assert Scanner("a", Grammar()).feed(b"threadwatch-guard event=future x=1\n") == []


def test_logfmt_unescapes_quoted_values() -> None:
    assert parse_logfmt(r'a=1 b="x \"y\" \\ z" c=') == {"a": "1", "b": 'x "y" \\ z', "c": ""}
