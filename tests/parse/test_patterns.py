"""The message table drives its own tests: every example line yields its kind and fields."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from threadwatch.events import Kind
from threadwatch.parse.grammar import Grammar
from threadwatch.parse.patterns import (
    KIND_USES,
    OUTSIDE_TABLE,
    PATTERNS,
    PLAIN_COUNTS,
    ROUTINE_KINDS,
    MessagePattern,
    kind_uses,
)
from threadwatch.parse.scanner import Scanner


def scan(data: bytes) -> list:
    scanner = Scanner("t.log", Grammar())
    return scanner.feed(data) + scanner.close()


@pytest.mark.parametrize("pattern", PATTERNS, ids=lambda p: f"{p.kind.value}:{p.example[:30]}")
def test_example_line_yields_its_kind_and_fields(pattern: MessagePattern) -> None:
    (event,) = scan(pattern.example.encode() + b"\n")
    assert event.kind is pattern.kind
    for field, expected in pattern.expect.items():
        assert getattr(event, field) == expected, field
    assert event.text == pattern.example


PREFIXED = [p for p in PATTERNS if p.kind is not Kind.RUN_DATE]  # a date line stands alone


@pytest.mark.parametrize("pattern", PREFIXED, ids=lambda p: f"{p.kind.value}:{p.example[:30]}")
def test_message_is_found_whatever_the_prefix_and_line_number(pattern: MessagePattern) -> None:
    message = re.sub(r"^[\w.<>-]+:\d+: ", "", pattern.example)
    for prefix in ("", "run_batt.py:1: ", "<dynamic-code>:99999: ", "other_tool.py:7: "):
        (event,) = scan((prefix + message).encode() + b"\n")
        assert event.kind is pattern.kind


def test_two_messages_glued_on_one_line_are_both_found() -> None:
    line = (
        b"run_batt.py:445: -- 025d127b - demo[0] timed out"
        b"run_batt.py:445: -- 025d127b - demo[1] timed out\n\n"
    )
    events = scan(line)
    assert [(e.kind, e.sample_index) for e in events] == [
        (Kind.SAMPLE_TIMEOUT, 0),
        (Kind.SAMPLE_TIMEOUT, 1),
    ]


def test_free_text_stops_before_a_glued_second_prefix() -> None:
    line = (
        b"<dynamic-code>:451: -- 025d127b - demo[1] failed: boom"
        b"run_batt.py:475: -- 1a2b3c4d - 3 --\n"
    )
    failed, batch = scan(line)
    assert failed.kind is Kind.SAMPLE_FAILED and failed.message == "boom"
    assert batch.kind is Kind.BATCH and batch.task_id == "1a2b3c4d"


def test_a_sample_failure_saying_keyerror_is_not_a_thread_error() -> None:
    (event,) = scan(b"<dynamic-code>:451: -- 025d127b - demo[1] failed: KeyError: 5\n")
    assert event.kind is Kind.SAMPLE_FAILED


def test_lines_without_known_messages_yield_nothing() -> None:
    text = b"Running: python run_batt.py\n=== Cache Statistics ===\nhits: 3\nutils.py:12: hello\n"
    assert scan(text) == []


def test_every_kind_of_run_batt_message_has_an_example() -> None:
    table_kinds = {p.kind for p in PATTERNS}
    block_or_guard = {
        Kind.THREAD_CLEANUP_KEYERROR,
        Kind.THREAD_ERROR,
        Kind.TRACEBACK,
        Kind.GUARD_DECISION,
        Kind.GUARD_BATCH_DONE,
        Kind.STALLED,  # made by tail, never read
    }
    assert table_kinds | block_or_guard == set(Kind)
    # the kinds outside the table say what their rows would
    assert set(OUTSIDE_TABLE) == block_or_guard
    assert not table_kinds & block_or_guard


def test_rows_of_one_kind_agree_on_what_they_count_and_on_routine() -> None:
    for pattern in PATTERNS:
        assert KIND_USES[pattern.kind] == (pattern.counts, pattern.routine), pattern.example
    assert PLAIN_COUNTS[Kind.CHUNK_TIMEOUT] == "chunk_timeouts"
    assert Kind.SAMPLE_DONE in ROUTINE_KINDS and Kind.MEMORY_ERROR not in ROUTINE_KINDS


def test_rows_of_one_kind_that_disagree_are_refused() -> None:
    retry = next(p for p in PATTERNS if p.kind is Kind.THREAD_CREATION_RETRY)
    alike = replace(retry, regex="other")
    assert kind_uses([retry, alike])[retry.kind].counts == "creation_retries"
    for other in (replace(retry, counts=None), replace(retry, routine=True)):
        with pytest.raises(ValueError, match="thread_creation_retry disagree"):
            kind_uses([retry, other])


def test_sample_line_of_either_type_and_not_of_another_word() -> None:
    demo, test = scan(b"x.py:1: demo[3] - 1a2b3c4d - 0\nrun_batt.py:9: test[1] - 1a2b3c4d - 2\n")
    assert (demo.sample_type, demo.sample_index, test.sample_type, test.number) == (
        "demo",
        3,
        "test",
        2,
    )
    assert demo.offset == len(b"x.py:1: ")
    assert scan(b"memo[3] - 1a2b3c4d - 0\n[3] - 1a2b3c4d - 0\n") == []
