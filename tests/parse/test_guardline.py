"""Guard log lines decode into the same kinds as run_batt's messages."""

from __future__ import annotations

import pytest

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


# Every guard event the monitor counts, as the guard writes it, and the kind it decodes to.
GUARD_EVENTS = [
    ("threadwatch-guard event=item_timed_out batch=0ca9ddb6-0 index=2 seconds=0.801",
     Kind.SAMPLE_TIMEOUT),
    ('threadwatch-guard event=memory_error batch=0ca9ddb6-0 index=0 action=stop '
     'error=MemoryError message=""', Kind.MEMORY_ERROR),
    ("threadwatch-guard event=pool_creation_retry batch=77-1 executor=process attempt=1 "
     'attempts=3 delay=0.200 error=BlockingIOError message="[Errno 11] Resource temporarily '
     'unavailable"', Kind.POOL_CREATION_RETRY),
    ("threadwatch-guard event=pool_creation_failed batch=77-1 executor=process attempts=3 "
     'error=BlockingIOError message="[Errno 11] Resource temporarily unavailable"',
     Kind.POOL_CREATION_FAILED),
    ("threadwatch-guard event=submit_retry batch=77-1 index=0 executor=thread attempt=1 "
     'attempts=5 delay=0.100 error=RuntimeError message="can\'t start new thread"',
     Kind.THREAD_CREATION_RETRY),
    ("threadwatch-guard event=submit_failed batch=77-1 index=0 executor=thread attempts=5 "
     'error=RuntimeError message="can\'t start new thread"', Kind.THREAD_CREATION_FAILED),
    ("threadwatch-guard event=batch_timeout batch=77-1 seconds=1.0 unfinished=2",
     Kind.CHUNK_TIMEOUT),
]


@pytest.mark.parametrize(("line", "kind"), GUARD_EVENTS, ids=[k.value for _, k in GUARD_EVENTS])
def test_new_guard_events_decode_to_the_kinds_of_run_batts_own_lines(line: str, kind: Kind) -> None:
    event = one(line)
    assert event.kind is kind
    assert event.sample_type is None  # guard lines name no sample type


def test_a_guard_item_line_keeps_its_batch_and_index() -> None:
    event = one("threadwatch-guard event=item_timed_out batch=0ca9ddb6-0 index=2 seconds=0.8")
    assert (event.task_id, event.sample_index) == ("0ca9ddb6-0", 2)


def test_a_retry_names_the_pool_class_like_run_batts_line() -> None:
    event = one(GUARD_EVENTS[2][0])
    assert (event.executor, event.error_type) == ("ProcessPoolExecutor", "BlockingIOError")


def test_the_new_batch_done_keys_leave_its_decoding_alone() -> None:
    event = one(
        "threadwatch-guard event=batch_done batch=77-1 executor=thread items=6 ok=2 failed=1 "
        "seconds=0.5 timed_out=1 cancelled=2 memory_errors=0 stopped=SIGTERM"
    )
    assert (event.kind, event.executor, event.items) == (Kind.GUARD_BATCH_DONE, "thread", 6)
