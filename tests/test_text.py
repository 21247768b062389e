"""Untrusted text shown on a terminal: every control a visible escape, nothing lost."""

from __future__ import annotations

import pytest

from threadwatch.text import safe_block, safe_text

CASES = [
    ("plain text, ünïcödé, emoji 👩\u200d💻 and a zero-width joiner", None),
    ("run\x1b]0;PWNED\x07.log", r"run\x1b]0;PWNED\x07.log"),
    ("\x1b[31mred\x1b[0m", r"\x1b[31mred\x1b[0m"),
    ("a.log\nthreadwatch: forged", r"a.log\nthreadwatch: forged"),
    ("carriage\rreturn\ttab", r"carriage\rreturn\ttab"),
    ("nul\x00 del\x7f csi\x9b nel\x85", r"nul\x00 del\x7f csi\x9b nel\x85"),
    ("gol.\u202eexe", r"gol.\u202eexe"),
    ("\u202a\u202b\u202c\u202d\u2066\u2067\u2068\u2069\u200e\u200f\u061c",
     r"\u202a\u202b\u202c\u202d\u2066\u2067\u2068\u2069\u200e\u200f\u061c"),
    ("line\u2028separator\u2029", r"line\u2028separator\u2029"),
    ("undecodable \udcff name", r"undecodable \udcff name"),
]


@pytest.mark.parametrize(("text", "shown"), CASES)
def test_safe_text_writes_every_control_as_a_visible_escape(text: str, shown: str | None) -> None:
    assert safe_text(text) == (text if shown is None else shown)


@pytest.mark.parametrize(("text", "shown"), CASES)
def test_safe_text_is_one_printable_line_and_idempotent(text: str, shown: str | None) -> None:
    once = safe_text(text)
    assert "\n" not in once and safe_text(once) == once
    assert once.isprintable() or "\u200d" in once  # the joiner (emoji) is kept on purpose


def test_safe_block_keeps_newlines_and_tabs_only() -> None:
    text = "Traceback:\n\tFile \x1b[2J\u202e\r\n"
    assert safe_block(text) == "Traceback:\n\tFile \\x1b[2J\\u202e\\r\n"
