"""The compiled table: how messages are grouped into passes over the buffer, and that grouping
never changes what is found (every pass's events come out in buffer order)."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

from threadwatch.events import Kind
from threadwatch.health.metrics import COUNTED_KINDS, Counts, Tally
from threadwatch.health.settings import InferenceConfig
from threadwatch.parse.grammar import Grammar, _alternation, _FindPass, _RegexPass
from threadwatch.parse.patterns import PATTERNS
from threadwatch.parse.scanner import Scanner


def _kinds(grammar: Grammar, text: str) -> list[Kind]:
    return [event.kind for event in Scanner("t.log", grammar).feed(text.encode())]


def test_every_example_in_one_buffer_comes_out_in_order() -> None:
    text = "".join(pattern.example + "\n" for pattern in PATTERNS)
    events = Scanner("t.log", Grammar()).feed(text.encode())
    assert [event.kind for event in events] == [pattern.kind for pattern in PATTERNS]
    assert [event.offset for event in events] == sorted(event.offset for event in events)


def test_messages_sharing_an_anchor_are_found_in_buffer_order() -> None:
    # "thread creation failed" is the anchor of both messages: one pass, sorted matches
    text = (
        "utils.py:88: inline_a_item_1 - inline_a[1] thread creation failed after 3 retries\n"
        "utils.py:71: -- 0ca9ddb6 - demo[1] thread creation failed, retrying with backoff...\n"
        "utils.py:88: -- 0ca9ddb6 - demo[2] thread creation failed after 3 retries\n"
    )
    assert _kinds(Grammar(), text) == [
        Kind.THREAD_CREATION_FAILED,
        Kind.THREAD_CREATION_RETRY,
        Kind.THREAD_CREATION_FAILED,
    ]


def test_an_anchor_twice_on_one_line_finds_its_message_once() -> None:
    text = "run_batt.py:9: 6 tasks - 0 timeouts (after 6 tasks - more)\n"
    assert _kinds(Grammar(), text) == [Kind.RUN_SUMMARY]


def test_sample_lines_of_every_spelling_keep_their_word() -> None:
    text = (
        "a.py:1: demo[0] - 0ca9ddb6 - 3\n"  # 31 bytes
        "a.py:2: train[1] - 0ca9ddb6 - 4\n"  # 32 bytes
        "a.py:3: test[2] - 0ca9ddb6 - 5\n"
    )
    events = Scanner("t.log", Grammar(keep_text=False)).feed(text.encode())
    assert [(e.sample_type, e.sample_index, e.offset) for e in events] == [
        ("demo", 0, 8),  # the event starts at the word
        ("train", 1, 31 + 8),
        ("test", 2, 31 + 32 + 8),
    ]


def test_each_buffer_read_finds_what_no_other_could() -> None:
    """Each pass is one more read of the whole buffer (a report reads gigabytes): no find pass
    may share a long start with another, nor start with the key of a regex pass."""
    grammar = Grammar(kinds=COUNTED_KINDS, keep_text=False)
    finds = [p.anchor.decode() for p in grammar._passes if isinstance(p, _FindPass)]
    keys = [p.regex.pattern for p in grammar._passes if isinstance(p, _RegexPass)]
    for i, anchor in enumerate(finds):
        for other in finds[i + 1 :]:
            assert anchor[:8] != other[:8], (anchor, other)
    for anchor in finds:
        assert not any(anchor.startswith(key.split(b"(?:")[0].replace(b"\\", b"").decode())
                       for key in keys), anchor
    assert len(grammar._passes) <= 12


def test_a_grammar_of_some_kinds_finds_exactly_those() -> None:
    """Rows of other kinds may be matched (and dropped) to spare the others: never shown."""
    text = "".join(pattern.example + "\n" for pattern in PATTERNS).encode()
    everything = Scanner("t.log", Grammar()).feed(text)
    counting = Scanner("t.log", Grammar(kinds=COUNTED_KINDS)).feed(text)
    assert counting == [event for event in everything if event.kind in COUNTED_KINDS]
    assert {event.kind for event in everything} - COUNTED_KINDS  # the test means something


def test_refused_rows_keep_the_table_order() -> None:
    """A row not asked for is refused by a lookahead, not matched: the rows before it still win
    over it, it wins over the rows after it (their line is not read as theirs), and one at the
    end of the table costs nothing."""
    parts = [("(?P<a>ab)", False), ("(?P<drop>a)", True), ("(?P<c>a.)", False)]
    regex = re.compile(_alternation(parts))
    assert regex.match("ab")["a"] == "ab"  # before the refused row: wins
    assert regex.match("ax") is None  # the refused row would take it: refused, not "c"
    assert re.compile(_alternation([("x", False), ("(?P<d>y)", True)])).pattern == "x"
    assert re.compile(_alternation([("(?P<d>y)", True), ("y.", False)])).match("yz") is None
    assert re.compile(_alternation([("(?P<d>y)", True)])).match("y") is None


def test_a_counting_scan_makes_no_match_for_lines_it_drops() -> None:
    """The task's scored and done lines (a third of the `-- ` lines) are not counted: the
    counting grammar's pass for `--` never returns a match for them."""
    grammar = Grammar(kinds=COUNTED_KINDS, keep_text=False)
    dashes = next(p for p in grammar._passes
                  if isinstance(p, _RegexPass) and p.regex.pattern.startswith(rb"\-\-"))
    text = (b"run_batt.py:890: -- 5d9dc9f8 - 0 scored --\n"
            b"run_batt.py:902: -- 5d9dc9f8 - 0 done - 21 candidates scored\n"
            b"run_batt.py:831: -- 59a54a7b - 1 start --\n")
    assert [m.start() for m in dashes.regex.finditer(text)] == [text.index(b"-- 59a54a7b")]


# -- folding: a counting scan reads a run of sample lines as one event -------------------------

_RUN = (
    b"run_batt.py:831: -- 5d9dc9f8 - 0 start --\n"
    b"<dynamic-code>:512: demo[0] - 5d9dc9f8 - 3\n"
    b"<dynamic-code>:512: demo[1] - 5d9dc9f8 - 6\n"
    b"test[0] - 5d9dc9f8 - 9\n"  # no prefix: still the task's next sample line
    b"<dynamic-code>:512: test[0] - 0ca9ddb6 - 9\n"  # another task: its own event
    b"<dynamic-code>:512: test[1] - 0ca9ddb6 - 2 and more\n"  # not a whole sample line
    b"<dynamic-code>:512: demo[2] - 0ca9ddb6 - 1\r\n"  # \r\n: read by itself
    b"xx[3] - 0ca9ddb6 - 3\n"  # not a sample (no type before the bracket): takes nothing
    b"<dynamic-code>:512: demo[3] - 0ca9ddb6 - 4\n"
)


def _folding() -> Grammar:
    return Grammar(kinds=COUNTED_KINDS, keep_text=False, fold_samples=True)


def test_a_run_of_the_same_tasks_sample_lines_is_one_event() -> None:
    events = Scanner("t.log", _folding()).feed(_RUN)
    samples = [(e.task_id, e.sample_type, e.sample_index, e.samples, e.offset)
               for e in events if e.kind is Kind.SAMPLE_DONE]
    at = _RUN.index
    assert samples == [
        ("5d9dc9f8", "demo", 0, (("demo", 1), ("test", 0)), at(b"demo[0]")),
        ("0ca9ddb6", "test", 0, None, at(b"test[0] - 0ca9ddb6")),
        ("0ca9ddb6", "test", 1, None, at(b"test[1]")),
        ("0ca9ddb6", "demo", 2, None, at(b"demo[2]")),
        ("0ca9ddb6", "demo", 3, None, at(b"demo[3]")),
    ]


def test_a_buffer_with_a_traceback_is_read_unfolded() -> None:
    """Lines inside a traceback block are read one by one: a folded event must not straddle
    the block's end (its later lines would be lost with it)."""
    text = (b"Exception in thread Thread-1 (worker):\n"
            b"Traceback (most recent call last):\n"
            b"<dynamic-code>:512: demo[0] - 5d9dc9f8 - 3\n"
            b"KeyError: 'x'\n"
            b"<dynamic-code>:512: demo[1] - 5d9dc9f8 - 6\n")
    events = Scanner("t.log", _folding()).feed(text)
    assert [(e.sample_index, e.samples) for e in events if e.kind is Kind.SAMPLE_DONE] == [
        (0, None), (1, None)]


def _counts(grammar: Grammar, path: Path) -> Counts:
    data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    tally = Tally(InferenceConfig())
    scanner = Scanner(str(path), grammar)
    for at in range(0, len(data), 4096):  # pieces, as a report reads: folds end at each
        tally.add_all(scanner.feed(data[at : at + 4096]))
    tally.add_all(scanner.close())
    return tally.finish()


def test_folding_never_changes_a_count() -> None:
    """Every bundled and real log counts the same folded and line by line."""
    repo = Path(__file__).resolve().parents[2]
    paths = sorted(p for p in (repo / "fixtures").rglob("*") if p.is_file()
                   and p.suffix in (".log", ".err", ".gz"))
    plain = Grammar(kinds=COUNTED_KINDS, keep_text=False)
    folding = _folding()
    folded_any = 0
    for path in paths:
        assert _counts(folding, path) == _counts(plain, path), path
        events = Scanner(str(path), folding).feed(path.read_bytes() + b"\n")
        folded_any += sum(1 for e in events if e.samples)
    assert len(paths) > 20 and folded_any >= 20  # the test reads what it means to
