"""The stderr handler of the command line: every ``threadwatch.*`` logger, one safe line each."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from threadwatch.logs import ROOT_LOGGER, SafeTextFilter, get_logger, log_to_stderr


@pytest.fixture
def stderr() -> Iterator[io.StringIO]:
    """``log_to_stderr`` into a buffer; the ``threadwatch`` logger restored afterwards."""
    root = logging.getLogger(ROOT_LOGGER)
    saved = (list(root.handlers), root.level, root.propagate)
    stream = io.StringIO()
    log_to_stderr(stream=stream)
    try:
        yield stream
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        root.propagate = saved[2]


def test_a_logger_without_a_filter_of_its_own_is_made_safe_too(stderr: io.StringIO) -> None:
    plain = logging.getLogger("threadwatch.some.module")  # not made with get_logger
    assert not any(isinstance(f, SafeTextFilter) for f in plain.filters)
    plain.warning("cannot write %s", "/state\nthreadwatch: all clear\u202e\x1b[2J.db")
    assert stderr.getvalue() == (
        "threadwatch: cannot write /state\\nthreadwatch: all clear\\u202e\\x1b[2J.db\n")


def test_a_record_is_rewritten_once_through_both_filters(stderr: io.StringIO) -> None:
    get_logger("threadwatch.alerts").warning("alerts: %s", "a\\x1b \x1b")
    assert stderr.getvalue() == "threadwatch: alerts: a\\x1b \\x1b\n"


def test_a_traceback_is_indented_under_its_message(stderr: io.StringIO) -> None:
    try:
        raise OSError("state\nthreadwatch: forged")
    except OSError:
        logging.getLogger("threadwatch.alerts").exception("alerts: delivery pass failed")
    lines = stderr.getvalue().splitlines()
    assert lines[0] == "threadwatch: alerts: delivery pass failed"
    assert all(line.startswith("    ") for line in lines[1:]), lines
    assert "    threadwatch: forged" in lines


def test_installing_twice_keeps_one_handler(stderr: io.StringIO) -> None:
    second = io.StringIO()
    log_to_stderr(stream=second)
    logging.getLogger("threadwatch.tail").warning("once")
    assert (stderr.getvalue(), second.getvalue()) == ("", "threadwatch: once\n")


def test_bad_log_arguments_do_not_raise_into_the_caller(stderr: io.StringIO) -> None:
    logging.getLogger("threadwatch.x").warning("%d files", "many")
    assert "log arguments did not fit" in stderr.getvalue()
