"""The guard's line format: prefix, key order, logfmt quoting and escaping."""

from __future__ import annotations

import pytest

from threadwatch.guard import format_event


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ((("batch", "12-3"), ("items", 5)), "threadwatch-guard event=x batch=12-3 items=5"),
        ((("context", "-"),), "threadwatch-guard event=x context=-"),
        ((("note", "two words"),), 'threadwatch-guard event=x note="two words"'),
        ((("note", "a=b"),), 'threadwatch-guard event=x note="a=b"'),
        ((("note", 'say "hi"'),), 'threadwatch-guard event=x note="say \\"hi\\""'),
        ((("note", "C:\\tmp"),), 'threadwatch-guard event=x note="C:\\\\tmp"'),
        ((("note", ""),), 'threadwatch-guard event=x note=""'),
        ((("message", "plain"),), 'threadwatch-guard event=x message="plain"'),
        ((("thread", "worker"),), 'threadwatch-guard event=x thread="worker"'),
        (
            (("message", "one\ntwo\r\nthree"),),
            'threadwatch-guard event=x message="one\\ntwo\\nthree"',
        ),
    ],
)
def test_format_event_renders_logfmt(
    fields: tuple[tuple[str, str | int], ...], expected: str
) -> None:
    assert format_event("x", fields) == expected


def test_formatted_event_is_one_line() -> None:
    assert "\n" not in format_event("x", (("message", "a\nb\rc"),))


def test_lines_round_trip_through_the_monitors_parser() -> None:
    """What the guard writes, threadwatch's own guard-line parser reads back unchanged."""
    guardline = pytest.importorskip("threadwatch.parse.guardline")
    value = 'KeyError: 5 = "x" in C:\\dir\nnext line'
    line = "INFO prefix " + format_event("fallback", (("batch", "1-2"), ("message", value)))
    start = line.index("threadwatch-guard event=fallback") + len("threadwatch-guard event=fallback")
    assert guardline.parse_logfmt(line[start:]) == {"batch": "1-2", "message": value}
