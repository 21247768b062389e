"""Traceback blocks are grouped into one event and classified by shape."""

from __future__ import annotations

from threadwatch.events import Event, Kind
from threadwatch.parse.grammar import Grammar
from threadwatch.parse.scanner import Scanner

HEADER_311 = (
    b"Exception ignored in thread started by: "
    b"<bound method Thread._bootstrap of <Thread(worker, stopped daemon 140220759033536)>>\n"
)
PY311 = (
    HEADER_311
    + b"""Traceback (most recent call last):
  File "/usr/lib/python3.11/threading.py", line 1002, in _bootstrap
    self._bootstrap_inner()
  File "/usr/lib/python3.11/threading.py", line 1049, in _bootstrap_inner
    self._delete()
  File "/usr/lib/python3.11/threading.py", line 1081, in _delete
    del _active[get_ident()]
        ~~~~~~~^^^^^^^^^^^^^
KeyError: 140220759033536
"""
)
PY312_NO_CARET = PY311.replace(b"        ~~~~~~~^^^^^^^^^^^^^\n", b"").replace(b"3.11", b"3.12")
PY313 = (
    b"Exception ignored in thread started by <bound method Thread._bootstrap of "
    b"<Thread(Thread-3 (worker), started daemon 140093811431104)>>:\n"
    b"Traceback (most recent call last):\n"
    b'  File "/opt/python/lib/python3.13/threading.py", line 992, in _bootstrap\n'
    b"    self._bootstrap_inner()\n"
    b'  File "/opt/python/lib/python3.13/threading.py", line 1048, in _bootstrap_inner\n'
    b"    self._delete()\n"
    b'  File "/opt/python/lib/python3.13/threading.py", line 1080, in _delete\n'
    b"    del _active[get_ident()]\n"
    b"KeyError: 140093811431104\n"
)


def scan(data: bytes, chunk: int | None = None) -> list[Event]:
    scanner = Scanner("t.err", Grammar())
    events: list[Event] = []
    step = chunk or len(data) or 1
    for i in range(0, len(data), step):
        events += scanner.feed(data[i : i + step])
    return events + scanner.close()


def test_python311_cleanup_keyerror_with_caret_line_is_one_event() -> None:
    (event,) = scan(PY311)
    assert event.kind is Kind.THREAD_CLEANUP_KEYERROR
    assert (event.thread_name, event.thread_status) == ("worker", "stopped")
    assert event.thread_ident == 140220759033536
    assert event.python_version == "3.11"
    assert event.error_type == "KeyError" and event.message == "140220759033536"


def test_python312_cleanup_keyerror_without_caret_line() -> None:
    (event,) = scan(PY312_NO_CARET)
    assert event.kind is Kind.THREAD_CLEANUP_KEYERROR
    assert event.python_version == "3.12"


def test_python313_header_with_colon_after_the_repr() -> None:
    (event,) = scan(PY313)
    assert event.kind is Kind.THREAD_CLEANUP_KEYERROR
    assert (event.thread_name, event.thread_status) == ("Thread-3 (worker)", "started")
    assert event.python_version == "3.13"


def test_block_split_across_every_chunk_boundary_is_still_one_event() -> None:
    for size in (1, 7, 64):
        assert [e.kind for e in scan(PY311 + PY313, chunk=size)] == [
            Kind.THREAD_CLEANUP_KEYERROR,
            Kind.THREAD_CLEANUP_KEYERROR,
        ]


def test_exception_in_named_thread_is_a_thread_error() -> None:
    data = (
        b"Exception in thread ExecutorManagerThread:\n"
        b"Traceback (most recent call last):\n"
        b'  File "/usr/lib/python3.12/threading.py", line 1073, in _bootstrap_inner\n'
        b"    self.run()\n"
        b"RuntimeError: can't start new thread\n"
    )
    (event,) = scan(data)
    assert event.kind is Kind.THREAD_ERROR
    assert event.thread_name == "ExecutorManagerThread"
    assert (event.error_type, event.message) == ("RuntimeError", "can't start new thread")


def test_repr_failed_memory_error_is_a_thread_error_not_a_keyerror() -> None:
    data = b"Exception ignored in thread started by: <object repr() failed>\nMemoryError: \n"
    (event,) = scan(data)
    assert event.kind is Kind.THREAD_ERROR and event.error_type == "MemoryError"


def test_user_traceback_ending_in_keyerror_is_never_a_thread_cleanup_error() -> None:
    data = (
        b"Traceback (most recent call last):\n"
        b'  File "run_batt.py", line 312, in score\n'
        b"    grid = cache[key]\n"
        b"KeyError: 'x'\n"
    )
    (event,) = scan(data)
    assert event.kind is Kind.TRACEBACK and event.error_type == "KeyError"


def test_thread_header_with_integer_keyerror_but_another_frame_is_a_thread_error() -> None:
    data = (
        b"Exception ignored in thread started by: <bound method Thread._bootstrap of "
        b"<Thread(w, stopped 5)>>\n"
        b"Traceback (most recent call last):\n"
        b'  File "app.py", line 3, in lookup\n'
        b"    table[5]\n"
        b"KeyError: 5\n"
    )
    (event,) = scan(data)
    assert event.kind is Kind.THREAD_ERROR


def test_block_cut_off_at_end_of_input_still_yields_an_event() -> None:
    cut = PY311[: PY311.index(b'  File "/usr/lib/python3.11/threading.py", line 1081')]
    (event,) = scan(cut)
    assert event.kind is Kind.THREAD_CLEANUP_KEYERROR
    assert event.error_type is None


def test_chained_exceptions_stay_one_block() -> None:
    data = (
        b"Traceback (most recent call last):\n"
        b'  File "a.py", line 1, in f\n'
        b"KeyError: 'a'\n"
        b"\n"
        b"During handling of the above exception, another exception occurred:\n"
        b"\n"
        b"Traceback (most recent call last):\n"
        b'  File "a.py", line 3, in f\n'
        b"ValueError: b\n"
    )
    (event,) = scan(data)
    assert event.error_type == "ValueError"


def test_program_line_printed_inside_a_block_is_read_on_its_own_after_the_block() -> None:
    data = PY311.replace(
        b"Traceback (most recent call last):\n",
        b"Traceback (most recent call last):\nrun_batt.py:475: -- 1a2b3c4d - 3 --\n",
    )
    kinds = [e.kind for e in scan(data)]
    assert kinds == [Kind.THREAD_CLEANUP_KEYERROR, Kind.BATCH]


def test_message_glued_onto_the_final_line_is_read_and_the_block_kept() -> None:
    data = PY311.replace(
        b"KeyError: 140220759033536\n",
        b"KeyError: 140220759033536run_batt.py:475: -- 1a2b3c4d - 3 --\n",
    )
    (block, batch) = scan(data)
    assert block.kind is Kind.THREAD_CLEANUP_KEYERROR and block.message == "140220759033536"
    assert batch.kind is Kind.BATCH


def test_a_neighbours_plain_line_is_not_the_final_line() -> None:
    data = PY311.replace(
        b"KeyError: 1402", b"hits: 12\nRunning: python run_batt.py\nKeyError: 1402"
    )
    (event,) = scan(data)
    assert event.kind is Kind.THREAD_CLEANUP_KEYERROR


def test_unfinished_block_gives_up_after_a_few_stray_lines() -> None:
    cut = PY311[: PY311.index(b"KeyError")]
    data = cut + b"".join(b"stray %d\n" % i for i in range(8)) + b"ValueError: later\n"
    (event,) = scan(data)
    assert event.kind is Kind.THREAD_CLEANUP_KEYERROR and event.error_type is None


def test_a_new_traceback_without_chain_text_is_a_new_block() -> None:
    first = b'Traceback (most recent call last):\n  File "a.py", line 1\n'
    assert len(scan(first + first + b"KeyError: 'x'\n")) == 2


def test_message_after_a_block_is_read() -> None:
    data = PY311 + b"timeout: sending signal TERM to command 'python'\n"
    assert [e.kind for e in scan(data)] == [Kind.THREAD_CLEANUP_KEYERROR, Kind.SCRIPT_TIMEOUT]


def test_consecutive_blocks_are_separate() -> None:
    assert len(scan(PY311 + PY312_NO_CARET + PY313)) == 3
