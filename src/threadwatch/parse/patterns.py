r"""The one table of run_batt messages the parser knows, each with an example line.

Patterns match the *message*, anywhere in a line, never the ``file:lineno:`` prefix: line numbers
change between versions, and searching for the message itself also finds both halves of two
messages glued onto one physical line by concurrent prints. Free-text fields stop before a
second known prefix for the same reason. The tests are generated from this table.

A row also says what its lines are for beyond being found, so that nothing else needs editing
when a message is added: ``counts`` names the count each line adds one to when that is all its
counting is (kinds with logic of their own, batches, samples, runs, have handlers in
``health/metrics.py`` and leave it unset), and ``routine`` marks progress lines not worth showing
as an alert's sample line. ``CountKey`` is every count, in the order of the report's JSON.

Numbers and names are matched possessively (``\d++``, ``\w++``): what follows them never starts
with the same kind of character, so giving characters back can only fail, and slowly: most
``-- `` lines of a log match no counted message and each would backtrack through every row.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal, NamedTuple, get_args

from threadwatch.events import Kind

# Every count of a scope, in the order of the report's JSON (README, "What is counted"); a
# typo in a key is a type error wherever counts are read.
CountKey = Literal[
    "batches",
    "overload",
    "threads_over_60",  # names kept whatever [inference] overload_split_threads says
    "threads_40_60",
    "pool_fallback",
    "process_pool_fallback",
    "thread_pool_fallback",
    "parallel_failed",
    "sequential",
    "process_pool_used",
    "thread_pool_used",
    "sample_timeouts",
    "sample_failures",
    "thread_keyerror",
    "thread_errors",
    "memory_errors",
    "script_timeouts",
    "runs_completed",
    # added with the run_batt of 2025-11-15; the keys above keep their order
    "samples",
    "cut_off_runs",
    "creation_retries",
    "thread_creation_failures",
    "pool_creation_failures",
    "nested_thread_exhaustion",
    "chunk_timeouts",
    "stalled",
    # the denominator of the process_pool_used rate (batches large enough for a process pool)
    "large_batches",
]
COUNT_KEYS: tuple[CountKey, ...] = get_args(CountKey)

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
    # a task's sample, or (2025-11 on) a unit of inner work such as
    # `inline_differ_item_9 - inline_differ[9]`, which has no task id
    "{ITEM}": r"(?:{ID} - {TYPE}\[(?P<sample_index>\d++)\]|\w+ - \w+\[\d+\])",
    "{ID}": rf"(?P<task_id>{_HEX})",
    "{TYPE}": r"(?P<sample_type>demo|test|train)",
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
    # (field, words): one of these words must stand right before the match; the event's field
    # takes it and the event starts there
    before: tuple[str, tuple[str, ...]] | None = None
    # the count each line adds one to, when that is all there is to counting it
    counts: CountKey | None = None
    # progress, not trouble: never shown as a sample line of an alert
    routine: bool = False
    # for docs/messages.md: which versions of the program print it, and what it means
    versions: str = ""
    meaning: str = ""


# Which versions of run_batt print each message, by commit date of pierreb4/tokpidjin (the
# program's history is the specification; "to" spans are inclusive, "on" means up to the newest).
V_START = "2025-10-09 on"
V_BARE_BATCH = "2025-07-26 to 2025-10-14 (after the start line from 2025-10-09)"
V_SCORED = "2025-10-09 to 2025-10-14"
V_DONE = "2025-09-09 on (`solutions found` until 2025-09-29)"
V_OVERLOAD = "2025-10-14 on (over 40 threads; until 2025-11-15 it then used one thread)"
V_FALLBACK = "2025-10-13 to 2025-11-15"
V_EXECUTOR_CREATION = "2025-11-15 on"
V_POOL_CREATION = "2025-11-12 on"
V_SAMPLE = "2025-08-09 on (`train` until 2025-09-22, then `demo`)"
V_SAMPLE_FAILED = "2025-10-12 on"
V_COLLECT = "2025-10-14 on"
V_SUBMIT = "2025-10-14 on (inner-work items from 2025-11-15)"
V_CHUNK = "2025-11-12 on"
V_MATCH_OLD = "2025-09-17 to 2025-10-16"
V_MATCH_NEW = "2025-10-16 on"
V_SUMMARY_OLD = "2025-06-23 to 2025-11-12 (its timeout count is wrong after 2025-06-30)"
V_SUMMARY_NEW = "2025-11-13 on (its timeout count is always 0)"
V_MEMORY = "2025-10-14 on (seven wordings; `during future collection` from 2025-11-15)"
V_BATCH_3DASH = "2025-07-04 to 2025-07-26"
V_TIMEOUT = "2025-08-01 on"
V_INNER = "2025-11-12 on"
V_INNER_SKIP = "2025-11-12 to 2025-11-15"
V_MEMORY_LOW = "2025-10-14 to 2025-11-15"


PATTERNS: tuple[MessagePattern, ...] = (
    MessagePattern(
        Kind.TASK_START,
        r"-- {ID} - (?P<batch_index>\d++) start --",
        "run_batt.py:1241: -- 0ca9ddb6 - 0 start --",
        {"task_id": "0ca9ddb6", "batch_index": 0},
        routine=True,
        versions=V_START,
        meaning="task i starts; its batch (one run of the executor chain) begins",
    ),
    MessagePattern(
        Kind.BATCH,
        r"-- {ID} - (?P<batch_index>\d++) --",
        "run_batt.py:475: -- 6a1e5592 - 61 --",
        {"task_id": "6a1e5592", "batch_index": 61},
        routine=True,
        versions=V_BARE_BATCH,
        meaning="a batch: joins the batch its task's start line opened, or opens one",
    ),
    MessagePattern(
        Kind.BATCH,
        r"--- {ID} - (?P<batch_index>\d++)(?![\d ])",
        "run_batt.py:93: --- 00d62c1b - 17",
        {"task_id": "00d62c1b", "batch_index": 17},
        routine=True,
        versions=V_BATCH_3DASH,
        meaning="a batch (the older spelling)",
    ),
    MessagePattern(
        Kind.TASK_SCORED,
        r"-- {ID} - (?P<batch_index>\d++) scored --",
        "run_batt.py:890: -- 6a1e5592 - 61 scored --",
        {"task_id": "6a1e5592", "batch_index": 61},
        routine=True,
        versions=V_SCORED,
        meaning="the task's samples are scored: its batch is complete",
    ),
    MessagePattern(
        Kind.TASK_DONE,
        r"-- {ID} - (?P<batch_index>\d++) done - (?P<number>\d++)"
        r" (?:candidates scored|solutions found)",
        "run_batt.py:1251: -- 0ca9ddb6 - 0 done - 96 candidates scored",
        {"task_id": "0ca9ddb6", "batch_index": 0, "number": 96},
        routine=True,
        versions=V_DONE,
        meaning="the task is done: its batch is complete",
    ),
    MessagePattern(
        Kind.OVERLOAD,
        r"-- System overloaded \((?P<number>\d++) threads\), using sequential processing",
        "run_batt.py:1039: -- System overloaded (46 threads), using sequential processing",
        {"number": 46},
        versions=V_OVERLOAD,
        meaning="more than 40 threads alive: the batch runs sequentially",
    ),
    MessagePattern(
        Kind.POOL_FALLBACK,
        r"-- (?P<executor>\w++) failed \((?P<error_type>[\w.]+)(?:: (?P<message>{TEXT}?))?\),"
        r" trying ThreadPoolExecutor",
        "run_batt.py:601: -- ProcessPoolExecutor failed (OSError: [Errno 12] Cannot allocate"
        " memory), trying ThreadPoolExecutor",
        {
            "executor": "ProcessPoolExecutor",
            "error_type": "OSError",
            "message": "[Errno 12] Cannot allocate memory",
        },
        versions=V_FALLBACK,
        meaning="the pool failed; the batch is retried on a thread pool",
    ),
    MessagePattern(
        Kind.THREAD_POOL_FALLBACK,
        r"-- ThreadPoolExecutor also failed \((?P<message>{TEXT}?)\), using sequential processing",
        "run_batt.py:612: -- ThreadPoolExecutor also failed (can't start new thread),"
        " using sequential processing",
        {"executor": None, "message": "can't start new thread"},
        versions=V_FALLBACK,
        meaning="the thread pool failed too: the batch runs sequentially",
    ),
    MessagePattern(
        Kind.PARALLEL_FAILED,
        r"-- Parallel execution failed \((?P<message>{TEXT}?)\), falling back to sequential",
        "run_batt.py:620: -- Parallel execution failed (A process in the process pool was"
        " terminated abruptly), falling back to sequential",
        {"message": "A process in the process pool was terminated abruptly"},
        versions=V_FALLBACK,
        meaning="any other pool error: the batch runs sequentially",
    ),
    MessagePattern(
        Kind.PARALLEL_FAILED,
        r"-- (?P<executor>\w++) failed \((?P<message>{TEXT}?)\), falling back to sequential",
        "run_batt.py:1290: -- ProcessPoolExecutor failed (can't pickle), falling back to"
        " sequential",
        {"executor": "ProcessPoolExecutor", "message": "can't pickle"},
        versions="2025-10-13 (one day)",
        meaning="the pool failed: the batch runs sequentially",
    ),
    MessagePattern(
        Kind.POOL_CREATION_FAILED,
        r"-- All (?P<executor>\w++) creation retries failed, forcing ThreadPoolExecutor",
        "run_batt.py:1111: -- All ProcessPoolExecutor creation retries failed, forcing"
        " ThreadPoolExecutor(max_workers=1)",
        {"executor": "ProcessPoolExecutor"},
        counts="pool_creation_failures",
        versions=V_INNER_SKIP,
        meaning="no process pool could be created: the batch tries one thread",
    ),
    MessagePattern(
        Kind.POOL_CREATION_FAILED,
        r"-- Fallback (?P<executor>\w++) also failed: (?P<message>{TEXT})",
        "run_batt.py:1126: -- Fallback ThreadPoolExecutor also failed: can't start new thread",
        {"executor": "ThreadPoolExecutor", "message": "can't start new thread"},
        counts="pool_creation_failures",
        versions=V_INNER_SKIP,
        meaning="not even one thread: the run then dies (a traceback on stderr)",
    ),
    MessagePattern(
        Kind.EXECUTOR_CREATION_FAILED,
        r"-- {ID}: Executor creation failed, using sequential processing",
        "run_batt.py:1074: -- 6a1e5592: Executor creation failed, using sequential processing",
        {"task_id": "6a1e5592"},
        versions=V_EXECUTOR_CREATION,
        meaning="no pool could be created: the batch runs sequentially",
    ),
    MessagePattern(
        Kind.POOL_CREATION_RETRY,
        r"-- (?P<executor>\w++) creation failed \((?P<message>[^)\n]*)\), retrying in",
        "run_batt.py:176: -- ProcessPoolExecutor creation failed (thread exhaustion),"
        " retrying in 0.2s...",
        {"executor": "ProcessPoolExecutor", "message": "thread exhaustion"},
        counts="creation_retries",
        versions=V_POOL_CREATION,
        meaning="creating the pool failed for lack of threads; retried after a pause",
    ),
    MessagePattern(
        Kind.POOL_CREATION_FAILED,
        r"-- (?P<executor>\w++) creation failed: (?P<message>{TEXT})",
        "run_batt.py:182: -- ProcessPoolExecutor creation failed: can't start new thread",
        {"executor": "ProcessPoolExecutor", "message": "can't start new thread"},
        counts="pool_creation_failures",
        versions=V_POOL_CREATION,
        meaning="creating the pool failed for good (the batch then runs sequentially)",
    ),
    # The most frequent line. Its sample type is checked in the text *before* the match, so
    # that the regex starts with the literal "[" and the search jumps between brackets.
    MessagePattern(
        Kind.SAMPLE_DONE,
        r"\[(?P<sample_index>\d++)\] - {ID} - (?P<number>\d++)",
        "<dynamic-code>:931: demo[2] - 0ca9ddb6 - 32",
        {"sample_type": "demo", "sample_index": 2, "task_id": "0ca9ddb6", "number": 32},
        before=("sample_type", ("demo", "test")),
        routine=True,
        versions=V_SAMPLE,
        meaning="sample k finished with n outputs",
    ),
    # The same line in the versions that called the sample `train` (the grammar searches both
    # rows in one go: same regex, the words before it are pooled).
    MessagePattern(
        Kind.SAMPLE_DONE,
        r"\[(?P<sample_index>\d++)\] - {ID} - (?P<number>\d++)",
        "run_batt.py:171: train[0] - 00d62c1b - 57",
        {"sample_type": "train", "sample_index": 0, "task_id": "00d62c1b", "number": 57},
        before=("sample_type", ("train",)),
        routine=True,
        versions="2025-08-09 to 2025-09-22",
        meaning="sample k finished with n outputs (`demo` was called `train`)",
    ),
    MessagePattern(
        Kind.SAMPLE_TIMEOUT,
        r"-- {ID} - {TYPE}\[(?P<sample_index>\d++)\] timed out",
        "<dynamic-code>:919: -- 31f7f899 - demo[0] timed out",
        {"task_id": "31f7f899", "sample_type": "demo", "sample_index": 0},
        versions=V_TIMEOUT,
        meaning="the sample hit its per-call timeout",
    ),
    MessagePattern(
        Kind.SAMPLE_TIMEOUT,
        r"-- {ID} - {TYPE}\[(?P<sample_index>\d++)\] result collection timed out after"
        r" (?P<number>\d++)s",
        "run_batt.py:279: -- 31f7f899 - test[0] result collection timed out after 600s",
        {"task_id": "31f7f899", "sample_type": "test", "sample_index": 0, "number": 600},
        versions=V_COLLECT,
        meaning="the sample's result never came back from the pool",
    ),
    MessagePattern(
        Kind.SAMPLE_FAILED,
        r"-- {ID} - {TYPE}\[(?P<sample_index>\d++)\] failed: (?P<message>{TEXT})",
        "<dynamic-code>:451: -- 025d127b - demo[1] failed: KeyError: 5",
        {"task_id": "025d127b", "sample_type": "demo", "sample_index": 1, "message": "KeyError: 5"},
        versions=V_SAMPLE_FAILED,
        meaning="the sample raised (a `KeyError: 5` here is the sample's, not a thread's)",
    ),
    MessagePattern(
        Kind.SAMPLE_MEMORY_ERROR,
        r"-- {ID} - {TYPE}\[(?P<sample_index>\d++)\] failed due to MemoryError",
        "run_batt.py:291: -- 981571dc - demo[0] failed due to MemoryError",
        {"task_id": "981571dc", "sample_type": "demo", "sample_index": 0},
        versions=V_COLLECT,
        meaning="the sample ran out of memory (a `CRITICAL: MemoryError` line follows)",
    ),
    MessagePattern(
        Kind.NESTED_THREAD_EXHAUSTION,
        r"(?:-- {ITEM} )?failed due to nested thread exhaustion(?P<message>{TEXT})",
        "run_batt.py:298: -- 6e19193c - test[0] failed due to nested thread exhaustion"
        " (in call_with_timeout)",
        {"task_id": "6e19193c", "sample_type": "test", "sample_index": 0,
         "message": " (in call_with_timeout)"},
        anchor="failed due to nested thread exhaustion",
        versions=V_COLLECT,
        meaning="the sample could not start its own timeout thread: it failed",
    ),
    MessagePattern(
        Kind.THREAD_CREATION_RETRY,
        r"(?:-- {ITEM} )?thread creation failed(?: \([^)\n]*\))?, retrying with backoff",
        "run_batt.py:232: -- 6e19193c - demo[1] thread creation failed, retrying with"
        " backoff...",
        {"task_id": "6e19193c", "sample_type": "demo", "sample_index": 1},
        anchor="thread creation failed",
        counts="creation_retries",
        versions=V_SUBMIT,
        meaning="submitting work failed for lack of threads; retried after a pause",
    ),
    MessagePattern(
        Kind.THREAD_CREATION_RETRY,
        r"THREAD EXHAUSTION: (?P<message>{TEXT}?) - retrying with backoff",
        "run_batt.py:1392: THREAD EXHAUSTION: task_id=00d62c1b solver_id=1f2e3d4c - retrying"
        " with backoff",
        {"message": "task_id=00d62c1b solver_id=1f2e3d4c"},
        counts="creation_retries",
        versions=V_INNER,
        meaning="inlining a solver ran out of threads; retried after a pause",
    ),
    MessagePattern(
        Kind.THREAD_CREATION_FAILED,
        r"Warning: Thread exhaustion submitting (?P<message>\w++) item (?P<number>\d++),"
        r" skipping remaining",
        "run_batt.py:479: Warning: Thread exhaustion submitting inline_variables item 9,"
        " skipping remaining in chunk",
        {"message": "inline_variables", "number": 9},
        versions=V_INNER_SKIP,
        meaning="inner work was given up for lack of threads",
    ),
    MessagePattern(
        Kind.THREAD_CREATION_FAILED,
        r"-- {ID} - {TYPE}\[(?P<sample_index>\d++)\] thread creation failed: (?P<message>{TEXT})",
        "run_batt.py:1076: -- 00d62c1b - demo[3] thread creation failed: can't start new thread",
        {"task_id": "00d62c1b", "sample_type": "demo", "sample_index": 3,
         "message": "can't start new thread"},
        versions="2025-11-14 to 2025-11-15",
        meaning="the sample was skipped: no thread could be started",
    ),
    MessagePattern(
        Kind.THREAD_CREATION_FAILED,
        r"(?:-- {ITEM} )?thread creation failed after (?P<number>\d++) retries",
        "run_batt.py:241: -- inline_differ_item_9 - inline_differ[9] thread creation failed"
        " after 3 retries",
        {"task_id": None, "number": 3},
        anchor="thread creation failed after",
        versions=V_SUBMIT,
        meaning="the work item was given up: no thread could be started",
    ),
    MessagePattern(
        Kind.NATIVE_THREAD_FAILED,
        r"OpenBLAS blas_thread_init: pthread_create failed for thread (?P<number>\d++) of"
        r" (?P<items>\d++): (?P<message>{TEXT})",
        "OpenBLAS blas_thread_init: pthread_create failed for thread 1 of 2: Resource"
        " temporarily unavailable",
        {"number": 1, "items": 2, "message": "Resource temporarily unavailable"},
        counts="thread_creation_failures",
        versions="any (OpenBLAS, loaded by numpy, on stderr)",
        meaning="a native library could not start a thread: the process is out of threads",
    ),
    MessagePattern(
        Kind.CHUNK_TIMEOUT,
        r"Warning: (?P<message>\w++) chunk timeout - (?:(?P<number>\d++) )?(?:of (?P<items>\d++) )?"
        r"futures unfinished",
        "run_batt.py:504: Warning: inline_variables chunk timeout - of 8 futures unfinished,"
        " using partial results",
        {"message": "inline_variables", "number": None, "items": 8},
        counts="chunk_timeouts",
        versions=V_CHUNK,
        meaning="a chunk of inner work timed out: results are partial",
    ),
    MessagePattern(
        Kind.SOLVER_MATCH,
        r"- o_solver_id = '(?P<task_id>[^']*)' - match = (?P<message>True|False)",
        "run_batt.py:702: - o_solver_id = '1b2d62fb' - match = True",
        {"task_id": "1b2d62fb", "message": "True"},
        routine=True,
        versions=V_MATCH_OLD,
        meaning="a solver matched (progress only)",
    ),
    MessagePattern(
        Kind.SOLVER_MATCH,
        r"- MATCH: o_solver_id = '(?P<task_id>[^']*)' - sample_type={TYPE}"
        r"\[(?P<sample_index>\d++)\]",
        "<dynamic-code>:971: - MATCH: o_solver_id = '46f33fce' - sample_type=demo[0]"
        " task_id=46f33fce",
        {"task_id": "46f33fce", "sample_type": "demo", "sample_index": 0},
        routine=True,
        versions=V_MATCH_NEW,
        meaning="a solver matched (progress only)",
    ),
    MessagePattern(
        Kind.RUN_SUMMARY,
        r"(?P<number>\d++) tasks - (?P<items>\d++) timeouts",
        "400 tasks - 400 timeouts",
        {"number": 400, "items": 400},
        anchor=" tasks - ",
        versions=V_SUMMARY_OLD,
        meaning="the run completed (its timeout count was wrong in some versions)",
    ),
    MessagePattern(
        Kind.RUN_SUMMARY,
        r"(?P<number>\d++) tasks - timeouts = (?P<items>\d++) - tot_d_score = \d+",
        "6 tasks - timeouts = 0 - tot_d_score = 3396981 in 40.930s",
        {"number": 6, "items": 0},
        anchor=" tasks - timeouts = ",
        versions=V_SUMMARY_NEW,
        meaning="the run completed",
    ),
    MessagePattern(
        Kind.MEMORY_ERROR,
        r"CRITICAL: MemoryError(?: in CPU (?P<executor>\w++))?(?P<message>{TEXT})",
        "run_batt.py:292: CRITICAL: MemoryError during future collection. System out of"
        " memory. Exiting.",
        {"executor": None, "message": " during future collection. System out of memory. Exiting."},
        versions=V_MEMORY,
        meaning="the program ran out of memory and exits (no run summary follows)",
    ),
    MessagePattern(
        Kind.MEMORY_EXIT,
        r"System critically low on memory\. Cannot create (?P<message>[\w ]+)\. Exiting\.",
        "run_batt.py:1310: System critically low on memory. Cannot create workers. Exiting.",
        {"message": "workers"},
        versions=V_MEMORY_LOW,
        meaning="the second line of a `CRITICAL: MemoryError` (which is the one counted)",
    ),
    MessagePattern(
        Kind.SCRIPT_TIMEOUT,
        # coreutils quotes the command with typographic quotes in a UTF-8 locale
        r"timeout: sending signal (?P<error_type>\w++) to command "
        "(?:'|\u2018|\")(?P<message>[^\n]*?)(?:'|\u2019|\")",
        "timeout: sending signal TERM to command \u2018python\u2019",
        {"error_type": "TERM", "message": "python"},
        versions="any (coreutils `timeout -v`, on stderr; quotes depend on the locale)",
        meaning="the script's own time limit fired: the run was killed",
    ),
    MessagePattern(
        Kind.RUN_DATE,
        r"(?m:^)(?P<message>(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) (?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug"
        r"|Sep|Oct|Nov|Dec) [ \d]\d \d\d:\d\d:\d\d [A-Z]{1,5} \d{4})(?=\r?\n|\Z)",
        "Fri Nov 27 17:41:33 UTC 2026",
        {"message": "Fri Nov 27 17:41:33 UTC 2026"},
        routine=True,
        versions="any (`date`, printed by run_card.sh before each round)",
        meaning="a new round of the loop begins",
    ),
)


class KindUse(NamedTuple):
    """What a kind's lines are for beyond being found (``MessagePattern.counts``, ``.routine``)."""

    counts: CountKey | None = None
    routine: bool = False


# The kinds found outside the table, with what a row would say of them: traceback blocks
# (tracebacks.py), the guard's own lines (guardline.py; its other lines reuse the table's
# kinds), and the stall that ``tail`` makes. Every kind is in the table or here.
OUTSIDE_TABLE: Mapping[Kind, KindUse] = MappingProxyType({
    Kind.THREAD_CLEANUP_KEYERROR: KindUse(counts="thread_keyerror"),
    Kind.THREAD_ERROR: KindUse(counts="thread_errors"),
    Kind.TRACEBACK: KindUse(),
    Kind.GUARD_DECISION: KindUse(routine=True),
    Kind.GUARD_BATCH_DONE: KindUse(routine=True),
    Kind.STALLED: KindUse(),
})


def kind_uses(patterns: Iterable[MessagePattern]) -> dict[Kind, KindUse]:
    """Each kind's use, as ``OUTSIDE_TABLE`` and the rows of ``patterns`` say.

    Raises:
        ValueError: two rows of one kind disagree (what a kind counts is one thing).
    """
    uses = dict(OUTSIDE_TABLE)
    for pattern in patterns:
        use = KindUse(pattern.counts, pattern.routine)
        if uses.setdefault(pattern.kind, use) != use:
            raise ValueError(f"the rows of kind {pattern.kind.value} disagree on counts or"
                             f" routine (row of {pattern.example!r})")
    return uses


# Each kind's use, read by the rest of threadwatch: health counts ``PLAIN_COUNTS`` one a line,
# alerts leave ``ROUTINE_KINDS`` out of their sample lines.
KIND_USES: Mapping[Kind, KindUse] = MappingProxyType(kind_uses(PATTERNS))
PLAIN_COUNTS: Mapping[Kind, CountKey] = MappingProxyType(
    {kind: use.counts for kind, use in KIND_USES.items() if use.counts is not None}
)
ROUTINE_KINDS: frozenset[Kind] = frozenset(kind for kind, use in KIND_USES.items() if use.routine)


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
