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


def sleep_then_double(seconds_and_value: tuple[float, int]) -> int:
    """Sleep, then return twice the value: a slow item when ``seconds`` is large."""
    seconds, value = seconds_and_value
    time.sleep(seconds)
    return 2 * value


def pid_after_sleep(seconds: float) -> int:
    """The process that ran the item, after ``seconds``."""
    time.sleep(seconds)
    return os.getpid()


def record_pid_then_sleep(args: tuple[str, int, float]) -> int:
    """Write this process's pid to ``<folder>/<index>.pid``, then sleep; return the index."""
    folder, index, seconds = args
    Path(folder, f"{index}.pid").write_text(str(os.getpid()))
    time.sleep(seconds)
    return index


def raise_memory_error_on(args: tuple[int, int]) -> int:
    """Raise MemoryError for the item equal to ``bad``; others sleep a little and double."""
    value, bad = args
    if value == bad:
        raise MemoryError(f"cannot allocate for item {value}")
    time.sleep(0.05)
    return 2 * value


# Source a program generates and exec's, as run_batt's solvers: the function's code is
# "<dynamic-code>" and its module cannot be imported by a worker process.
DYNAMIC_SOURCE = """
def solve(grid):
    return tuple(tuple((cell + 1) % 10 for cell in row) for row in grid)
"""


def exec_dynamic_solver() -> object:
    namespace: dict[str, object] = {"__name__": "batt"}
    exec(compile(DYNAMIC_SOURCE, "<dynamic-code>", "exec"), namespace)
    return namespace["solve"]
