"""The one table of run_batt messages the parser knows (BRIEF §2), each with an example line.

Patterns match the *message*, anywhere in a line, never the ``file:lineno:`` prefix: line numbers
change between versions, and searching for the message itself also finds both halves of two
messages glued onto one physical line by concurrent prints. Free-text fields stop before a
second known prefix for the same reason. The tests are generated from this table.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from threadwatch.events import Kind

DEFAULT_PROGRAM_FILES: tuple[str, ...] = (
    "run_batt.py",
    "card.py",
    "utils.py",
    "run_test.py",
    "<dynamic-code>",
)

# Placeholders expanded in every pattern. {TEXT} is free text that ends at the line's end or
# before a glued second prefix of a known program file ({PREFIX}).
_HEX = r"[0-9a-f]{8}"
_PLACEHOLDERS = {
    "{ID}": rf"(?P<task_id>{_HEX})",
    "{TYPE}": r"(?P<sample_type>demo|test)",
}


@dataclass(frozen=True)
class MessagePattern:
    """One known message: its kind, its regex (text after any prefix), an example line and
    the fields that example must yield."""

    kind: Kind
    regex: str
    example: str
    expect: Mapping[str, object] = field(default_factory=dict)
    anchor: str | None = None  # a literal inside every match, for a regex with no literal start
    # (field, words): one of these same-length words must stand right before the match; the
    # event's field takes it and the event starts there
    before: tuple[str, tuple[str, ...]] | None = None


PATTERNS: tuple[MessagePattern, ...] = (
    MessagePattern(
        Kind.TASK_START,
        r"-- {ID} - (?P<batch_index>\d+) start --",
        "run_batt.py:831: -- 6a1e5592 - 61 start --",
        {"task_id": "6a1e5592", "batch_index": 61},
    ),
    MessagePattern(
        Kind.BATCH,
        r"-- {ID} - (?P<batch_index>\d+) --",
        "run_batt.py:475: -- 6a1e5592 - 61 --",
        {"task_id": "6a1e5592", "batch_index": 61},
    ),
    MessagePattern(
        Kind.TASK_SCORED,
        r"-- {ID} - (?P<batch_index>\d+) scored --",
        "run_batt.py:890: -- 6a1e5592 - 61 scored --",
        {"task_id": "6a1e5592", "batch_index": 61},
    ),
    MessagePattern(
        Kind.TASK_DONE,
        r"-- {ID} - (?P<batch_index>\d+) done - (?P<number>\d+) candidates scored",
        "run_batt.py:902: -- 6a1e5592 - 61 done - 14 candidates scored",
        {"task_id": "6a1e5592", "batch_index": 61, "number": 14},
    ),
    MessagePattern(
        Kind.OVERLOAD,
        r"-- System overloaded \((?P<number>\d+) threads\), using sequential processing",
        "run_batt.py:566: -- System overloaded (47 threads), using sequential processing",
        {"number": 47},
    ),
    MessagePattern(
        Kind.POOL_FALLBACK,
        r"-- (?P<executor>\w+) failed \((?P<error_type>[\w.]+)(?:: (?P<message>{TEXT}?))?\),"
        r" trying ThreadPoolExecutor",
        "run_batt.py:601: -- ProcessPoolExecutor failed (OSError: [Errno 12] Cannot allocate"
        " memory), trying ThreadPoolExecutor",
        {
            "executor": "ProcessPoolExecutor",
            "error_type": "OSError",
            "message": "[Errno 12] Cannot allocate memory",
        },
    ),
    MessagePattern(
        Kind.THREAD_POOL_FALLBACK,
        r"-- ThreadPoolExecutor also failed \((?P<message>{TEXT}?)\), using sequential processing",
        "run_batt.py:612: -- ThreadPoolExecutor also failed (can't start new thread),"
        " using sequential processing",
        {"executor": None, "message": "can't start new thread"},
    ),
    MessagePattern(
        Kind.PARALLEL_FAILED,
        r"-- Parallel execution failed \((?P<message>{TEXT}?)\), falling back to sequential",
        "run_batt.py:620: -- Parallel execution failed (A process in the process pool was"
        " terminated abruptly), falling back to sequential",
        {"message": "A process in the process pool was terminated abruptly"},
    ),
    MessagePattern(
        Kind.EXECUTOR_CREATION_FAILED,
        r"-- {ID}: Executor creation failed, using sequential processing",
        "run_batt.py:598: -- 6a1e5592: Executor creation failed, using sequential processing",
        {"task_id": "6a1e5592"},
    ),
    # The most frequent line. Its sample type is checked in the text *before* the match, so
    # that the regex starts with the literal "[" and the search jumps between brackets.
    MessagePattern(
        Kind.SAMPLE_DONE,
        r"\[(?P<sample_index>\d+)\] - {ID} - (?P<number>\d+)",
        "<dynamic-code>:512: demo[2] - 6a1e5592 - 3",
        {"sample_type": "demo", "sample_index": 2, "task_id": "6a1e5592", "number": 3},
        before=("sample_type", ("demo", "test")),
    ),
    MessagePattern(
        Kind.SAMPLE_TIMEOUT,
        r"-- {ID} - {TYPE}\[(?P<sample_index>\d+)\] timed out",
        "run_batt.py:445: -- 025d127b - test[0] timed out",
        {"task_id": "025d127b", "sample_type": "test", "sample_index": 0},
    ),
    MessagePattern(
        Kind.SAMPLE_FAILED,
        r"-- {ID} - {TYPE}\[(?P<sample_index>\d+)\] failed: (?P<message>{TEXT})",
        "<dynamic-code>:451: -- 025d127b - demo[1] failed: KeyError: 5",
        {"task_id": "025d127b", "sample_type": "demo", "sample_index": 1, "message": "KeyError: 5"},
    ),
    MessagePattern(
        Kind.SOLVER_MATCH,
        r"- o_solver_id = '(?P<task_id>[^']*)' - match = (?P<message>True|False)",
        "run_batt.py:702: - o_solver_id = '1b2d62fb' - match = True",
        {"task_id": "1b2d62fb", "message": "True"},
    ),
    MessagePattern(
        Kind.RUN_SUMMARY,
        r"(?P<number>\d+) tasks - (?P<items>\d+) timeouts",
        "400 tasks - 400 timeouts",
        {"number": 400, "items": 400},
        anchor=" tasks - ",
    ),
    MessagePattern(
        Kind.THREAD_CREATION_RETRY,
        r"hread creation failed, retrying with backoff",
        "utils.py:88: 6a1e5592: thread creation failed, retrying with backoff...",
    ),
    MessagePattern(
        Kind.THREAD_CREATION_FAILED,
        r"failed after (?P<number>\d+) retries",
        "utils.py:95: 6a1e5592: thread creation failed after 3 retries",
        {"number": 3},
    ),
    MessagePattern(
        Kind.NESTED_THREAD_EXHAUSTION,
        r"failed due to nested thread exhaustion(?P<message>{TEXT})",
        "utils.py:102: 6a1e5592: batch failed due to nested thread exhaustion (57 threads)",
        {"message": " (57 threads)"},
    ),
    MessagePattern(
        Kind.MEMORY_ERROR,
        r"CRITICAL: MemoryError in CPU (?P<executor>\w+)(?P<message>{TEXT})",
        "run_batt.py:640: CRITICAL: MemoryError in CPU ProcessPoolExecutor - cannot recover",
        {"executor": "ProcessPoolExecutor", "message": " - cannot recover"},
    ),
    MessagePattern(
        Kind.MEMORY_ERROR,
        r"System critically low on memory\. Cannot create workers\. Exiting\.",
        "run_batt.py:645: System critically low on memory. Cannot create workers. Exiting.",
    ),
    MessagePattern(
        Kind.SCRIPT_TIMEOUT,
        r"timeout: sending signal TERM to command '(?P<message>[^'\n]*)'",
        "timeout: sending signal TERM to command 'python'",
        {"message": "python"},
    ),
    MessagePattern(
        Kind.RUN_DATE,
        r"(?m:^)(?P<message>(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) (?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug"
        r"|Sep|Oct|Nov|Dec) [ \d]\d \d\d:\d\d:\d\d [A-Z]{1,5} \d{4})(?=\r?\n|\Z)",
        "Fri Nov 27 17:41:33 UTC 2026",
        {"message": "Fri Nov 27 17:41:33 UTC 2026"},
    ),
)


def program_prefix(program_files: tuple[str, ...]) -> str:
    """Regex source of a ``name:lineno: `` prefix of one of the program files."""
    return "(?:" + "|".join(re.escape(name) for name in program_files) + r"):\d+: "


def compile_message(regex: str, program_files: tuple[str, ...]) -> str:
    """Expand the placeholders of one table regex into plain regex source."""
    prefix = program_prefix(program_files)
    source = regex.replace("{TEXT}", rf"(?:(?!{prefix})[^\n])*")
    for placeholder, expansion in _PLACEHOLDERS.items():
        source = source.replace(placeholder, expansion)
    return source
