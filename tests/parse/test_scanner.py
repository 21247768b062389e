"""The scanner reads bytes as they come: partial lines wait, bad bytes never stop it."""

from __future__ import annotations

from threadwatch.events import Event, Kind
from threadwatch.parse.grammar import Grammar
from threadwatch.parse.scanner import Scanner

BATCH = b"run_batt.py:475: -- 1a2b3c4d - 3 --\n"


def scanner(**options: int) -> Scanner:
    return Scanner("t.log", Grammar(), **options)  # type: ignore[arg-type]


def test_partial_last_line_waits_for_its_newline() -> None:
    scan = scanner()
    assert scan.feed(BATCH[:20]) == []
    assert scan.consumed == 0
    (event,) = scan.feed(BATCH[20:])
    assert event.kind is Kind.BATCH and event.offset == BATCH.index(b"--")
    assert scan.consumed == len(BATCH)


def test_close_reads_a_final_line_without_newline() -> None:
    scan = scanner()
    assert scan.feed(BATCH.rstrip(b"\n")) == []
    (event,) = scan.close()
    assert event.kind is Kind.BATCH


def test_offsets_are_byte_offsets_of_the_message_in_the_source() -> None:
    scan = scanner(start_offset=1000)
    events = scan.feed(b"hello\n" + BATCH + BATCH)
    first = 1000 + 6 + BATCH.index(b"--")
    assert [e.offset for e in events] == [first, first + len(BATCH)]


def test_invalid_utf8_and_nul_bytes_do_not_stop_the_scan() -> None:
    data = (
        b"\xff\xfe\x00garbage\x00\n"
        + b"<dynamic-code>:451: -- 025d127b - demo[1] failed: \xff\xfeboom\n"
        + BATCH
    )
    scan = scanner()
    failed, batch = scan.feed(data) + scan.close()
    assert failed.kind is Kind.SAMPLE_FAILED and failed.message == "\ufffd\ufffdboom"
    assert batch.kind is Kind.BATCH


def test_over_long_line_is_skipped_with_a_notice_and_the_rest_is_read() -> None:
    scan = scanner(max_line_bytes=4096)
    events: list[Event] = scan.feed(BATCH)
    events += scan.feed(b"x" * 10_000)
    events += scan.feed(b"y" * 10_000 + b"\n" + BATCH)
    events += scan.close()
    assert [e.kind for e in events] == [Kind.BATCH, Kind.BATCH]
    (notice,) = scan.notices
    assert notice.offset == len(BATCH)
    assert "20001 bytes" in notice.message


def test_over_long_unterminated_last_line_is_reported_at_close() -> None:
    scan = scanner(max_line_bytes=4096)
    scan.feed(b"z" * 5000)
    assert scan.close() == []
    assert len(scan.notices) == 1


def test_ten_megabyte_line_within_one_feed_is_read_past() -> None:
    scan = scanner()
    events = scan.feed(b"q" * 10_000_000 + b"\n" + BATCH) + scan.close()
    assert [e.kind for e in events] == [Kind.BATCH]
    assert len(scan.notices) == 1


def test_over_long_line_is_skipped_wherever_the_chunks_end() -> None:
    long_batch = b"x" * 3000 + BATCH
    data = BATCH + long_batch + BATCH
    for cut in (0, 10, len(BATCH) + 1500, len(data) - 5):
        scan = scanner(max_line_bytes=1024)
        events = scan.feed(data[:cut]) + scan.feed(data[cut:]) + scan.close()
        assert [e.offset for e in events] == [
            BATCH.index(b"--"),
            len(BATCH) + len(long_batch) + BATCH.index(b"--"),
        ], cut
        assert len(scan.notices) == 1, cut


def test_safe_offset_is_a_line_start_while_skipping_or_in_a_glued_block() -> None:
    scan = scanner(max_line_bytes=1024)
    scan.feed(BATCH + b"y" * 5000)
    assert scan.safe_offset == len(BATCH)
    glued = scanner()
    glued.feed(BATCH + b"run_batt.py:1: hello Traceback (most recent call last):\n")
    assert glued.pending and glued.safe_offset == len(BATCH)


def test_safe_offset_stays_at_an_open_traceback_block() -> None:
    scan = scanner()
    scan.feed(BATCH + b'Traceback (most recent call last):\n  File "a.py", line 1\n')
    assert scan.pending
    assert scan.safe_offset == len(BATCH)
    (event,) = scan.flush()
    assert event.kind is Kind.TRACEBACK
    assert scan.safe_offset == scan.consumed


def test_events_keep_their_line_text_unless_counting_only() -> None:
    (kept,) = scanner().feed(BATCH)
    assert kept.text == BATCH.decode().rstrip("\n")
    (bare,) = Scanner("t.log", Grammar(keep_text=False)).feed(BATCH)
    assert bare.text == ""


def test_feeding_byte_by_byte_gives_the_same_events_as_at_once() -> None:
    data = (
        b"Fri Nov 27 17:41:33 UTC 2026\n"
        + BATCH
        + b"run_batt.py:566: -- System overloaded (47 threads), using sequential processing\n"
        + b"<dynamic-code>:512: demo[2] - 1a2b3c4d - 3\n"
        + b"Exception in thread T:\nTraceback (most recent call last):\n  x\nRuntimeError: y\n"
        + b"400 tasks - 400 timeouts\n"
    )
    at_once = scanner()
    whole = at_once.feed(data) + at_once.close()
    by_byte = scanner()
    pieces: list[Event] = []
    for i in range(len(data)):
        pieces += by_byte.feed(data[i : i + 1])
    pieces += by_byte.close()
    assert pieces == whole
    assert [e.kind for e in whole] == [
        Kind.RUN_DATE,
        Kind.BATCH,
        Kind.OVERLOAD,
        Kind.SAMPLE_DONE,
        Kind.THREAD_ERROR,
        Kind.RUN_SUMMARY,
    ]


def test_take_notices_hands_each_notice_on_once() -> None:
    scan = scanner(max_line_bytes=4096)
    scan.feed(b"y" * 5000 + b"\n" + BATCH)
    (notice,) = scan.take_notices()
    assert notice.offset == 0
    assert scan.take_notices() == []
