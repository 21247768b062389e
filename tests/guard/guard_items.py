"""Item functions for the guard tests.

Module-level, so the workers of a forkserver/spawn process pool can import them by name (the
workers get the test process's ``sys.path``; ``conftest.py`` puts this folder on it).
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from pathlib import Path


def double(value: int) -> int:
    return 2 * value


def fail_on_odd(value: int) -> int:
    if value % 2:
        raise ValueError(f"item {value} is odd")
    return 2 * value


# A lambda: pickle cannot ship it to a worker process (looked up by name, it is "<lambda>").
add_one_lambda = lambda value: value + 1  # noqa: E731


def describe_item(value: object) -> str:
    """``str`` of an int item, ``"lock"`` for a lock (which no process pool can be sent)."""
    return "lock" if hasattr(value, "acquire") else str(value)


def caller_thread_ident(_: object) -> int:
    return threading.get_ident()


def in_worker_process() -> bool:
    return multiprocessing.parent_process() is not None


def _journal_lines(journal: str) -> list[str]:
    path = Path(journal)
    return path.read_text().split() if path.exists() else []


def journal_item(args: tuple[str, int]) -> int:
    """Append the item's index to the journal file (one line per run) and return index * 10."""
    journal, index = args
    with open(journal, "a") as handle:  # O_APPEND: whole small lines even across processes
        handle.write(f"{index}\n")
    return index * 10


def journal_or_kill_worker(args: tuple[str, int, int, int]) -> int:
    """Like :func:`journal_item`, but item ``crash_index`` kills its worker *process*.

    The crash waits until the ``others`` other items are journaled (and their results have had
    time to reach the parent), so which items finished before the pool broke is known. In a
    thread or the caller's process the crash item just journals like the others.
    """
    journal, index, crash_index, others = args
    if index == crash_index and in_worker_process():
        deadline = time.monotonic() + 20
        while len(_journal_lines(journal)) < others and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.3)
        os._exit(1)
    return journal_item((journal, index))


def journal_lines(journal: str) -> list[int]:
    return [int(line) for line in _journal_lines(journal)]
