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
            (("message", "one\ntwo\r\nthree\rfour"),),
            'threadwatch-guard event=x message="one\\ntwo\\r\\nthree\\rfour"',
        ),
        ((("note", "a\tb"),), 'threadwatch-guard event=x note="a\\tb"'),
        ((("note", "x\ry"),), 'threadwatch-guard event=x note="x\\ry"'),
        ((("note", "\\n is not\na newline"),),
         'threadwatch-guard event=x note="\\\\n is not\\na newline"'),
    ],
)
def test_format_event_renders_logfmt(
    fields: tuple[tuple[str, str | int], ...], expected: str
) -> None:
    assert format_event("x", fields) == expected


def test_formatted_event_is_one_line_without_raw_control_characters() -> None:
    line = format_event("x", (("message", "a\nb\rc\r\nd\te"),))
    assert not {"\n", "\r", "\t"} & set(line)
    assert len(line.splitlines()) == 1


def test_lines_round_trip_through_the_monitors_parser() -> None:
    """What the guard writes, threadwatch's own guard-line parser reads back unchanged."""
    guardline = pytest.importorskip("threadwatch.parse.guardline")
    value = 'KeyError: 5 = "x" in C:\\dir\nnext line'
    line = "INFO prefix " + format_event("fallback", (("batch", "1-2"), ("message", value)))
    start = line.index("threadwatch-guard event=fallback") + len("threadwatch-guard event=fallback")
    assert guardline.parse_logfmt(line[start:]) == {"batch": "1-2", "message": value}


@pytest.mark.parametrize(
    "value", ["cr\ronly", "crlf\r\nline", "tab\there", "mixed \\r\r\\t\t\\n\n \"q\" a=b"]
)
def test_control_characters_round_trip_through_the_monitors_parser(value: str) -> None:
    guardline = pytest.importorskip("threadwatch.parse.guardline")
    line = format_event("item_failed", (("batch", "1-2"), ("message", value)))
    fields = line[len("threadwatch-guard event=item_failed") :]
    assert guardline.parse_logfmt(fields) == {"batch": "1-2", "message": value}
