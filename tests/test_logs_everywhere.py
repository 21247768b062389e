"""Everything ``tail`` logs is safe for a terminal, whatever the handler's format."""

from __future__ import annotations

import ast
import logging
from pathlib import Path

import pytest

from threadwatch.logs import TAIL_LOGGER as LOGGER_NAME
from threadwatch.logs import get_logger

logger = get_logger(LOGGER_NAME)

SRC = Path(__file__).resolve().parents[1] / "src" / "threadwatch"


def test_messages_and_arguments_show_their_controls_as_escapes(
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger=LOGGER_NAME)
    logger.warning("%s: cannot read", "run\x1b]0;PWNED\x07\x1b[2J.log")
    logger.warning("bell\x07 and \x1b[31mred\x1b[0m\nthreadwatch: forged")
    assert [r.getMessage() for r in caplog.records] == [
        r"run\x1b]0;PWNED\x07\x1b[2J.log: cannot read",
        r"bell\x07 and \x1b[31mred\x1b[0m\nthreadwatch: forged"]
    assert "\x1b" not in caplog.text and "\x07" not in caplog.text
    assert len(caplog.text.splitlines()) == 2


def test_tracebacks_show_their_controls_as_escapes_indented(
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger=LOGGER_NAME)
    try:
        raise OSError("run\x1b[2J.log\nthreadwatch: forged")
    except OSError:
        logger.exception("failed")
    lines = caplog.text.splitlines()
    assert "\x1b" not in caplog.text
    assert r"    OSError: run\x1b[2J.log" in lines and "    threadwatch: forged" in lines
    assert [line for line in lines[1:] if not line.startswith("    ")] == []


def test_every_module_logs_only_through_the_safe_logger() -> None:
    """``logs.get_logger`` puts the escape filter on a logger: a module that called ``logging``
    itself could log raw file names. The guard stands alone (it may not import threadwatch)."""
    modules = [path for path in sorted(SRC.rglob("*.py"))
               if path.name != "logs.py" and "guard" not in path.relative_to(SRC).parts]
    assert len(modules) > 40
    for path in modules:
        tree = ast.parse(path.read_text())
        calls = [n for n in ast.walk(tree) if isinstance(n, ast.Attribute)
                 and isinstance(n.value, ast.Name) and n.value.id == "logging"
                 and n.attr == "getLogger"]
        assert calls == [], f"{path.relative_to(SRC)} makes a logger of its own"
