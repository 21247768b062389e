"""The message table as operators read it: every recognised line, the versions of run_batt that
print it, and the counts it feeds, rendered to ``docs/messages.md``.

What a message feeds is not written down a second time: it is measured by counting the
table's example line (after a start line of its task) with the real ``Tally``, so the
document cannot drift from the code. Regenerate with ``python -m threadwatch.health.catalog``.
"""

from __future__ import annotations

from threadwatch.events import Event, Kind
from threadwatch.health.metrics import COUNT_KEYS, CountKey, Counts, Tally
from threadwatch.health.settings import InferenceConfig
from threadwatch.parse.grammar import Grammar
from threadwatch.parse.patterns import PATTERNS, MessagePattern
from threadwatch.parse.scanner import Scanner

_HEADER = """\
# Messages threadwatch recognises

Generated from the message table (`src/threadwatch/parse/patterns.py`) by
`python -m threadwatch.health.catalog`; a test checks that this file matches it.

Messages are matched by their text wherever they stand in a line, never by the
`file:lineno:` prefix (line numbers change with every version; `<dynamic-code>` marks a
process-pool worker). *Versions* are commit dates of run_batt (`pierreb4/tokpidjin`); the
lines about tasks, samples and executors are printed only where run_batt's `DO_PRINT`
host-name switch is on (hosts `simone` and `mbp-2022*` from 2025-11-13; every host from
2025-10-09 to 2025-11-06; see the README). *Feeds* lists the counts one such line adds to
(after its task's start line); the README defines each count, and how a batch's executor
(`process_pool_used`, `thread_pool_used`) and whether it was large enough for a process pool
(`large_batches`) follow from all its lines.

| kind | example | versions | feeds | meaning |
|---|---|---|---|---|
"""

_FOOTER = """
Also recognised, outside the table: traceback blocks (`Exception in thread …`,
`Exception ignored in thread started by …`; the thread-cleanup `KeyError` of CPython 3.11 to
3.13 feeds `thread_keyerror`, other thread blocks `thread_errors`) and the lines of
`threadwatch.guard` (`threadwatch-guard event=…`, see docs/guard.md).
"""


_OPENERS = frozenset({Kind.TASK_START, Kind.BATCH})
# which executor a batch ended on, and whether it was large, follow from all its lines
# (README): not one line's doing
_INFERRED: frozenset[CountKey] = frozenset(
    {"process_pool_used", "thread_pool_used", "large_batches"})


def feeds(pattern: MessagePattern) -> tuple[CountKey, ...]:
    """The counts one example line adds to: alone for a line that opens a batch, else after
    a start line of its task (if it names one)."""
    before = _counts(pattern, b"")
    after = _counts(pattern, pattern.example.encode() + b"\n")
    return tuple(
        key for key in COUNT_KEYS if after[key] > before[key] and key not in _INFERRED
    )


def _counts(pattern: MessagePattern, line: bytes) -> Counts:
    task = pattern.expect.get("task_id")
    opener = pattern.kind in _OPENERS
    start = f"run_batt.py:1: -- {task} - 0 start --\n".encode() if task and not opener else b""
    scanner = Scanner("catalog", Grammar())
    events: list[Event] = scanner.feed(start + line) + scanner.close()
    tally = Tally(InferenceConfig())
    tally.add_all(events)
    return dict(tally.finish())


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def render_markdown() -> str:
    """``docs/messages.md``: one row per message of the table."""
    rows = []
    for pattern in PATTERNS:
        fed = ", ".join(f"`{key}`" for key in feeds(pattern)) or "-"
        rows.append(
            f"| `{pattern.kind.value}` | `{_cell(pattern.example)}` | {_cell(pattern.versions)}"
            f" | {fed} | {_cell(pattern.meaning)} |"
        )
    return _HEADER + "\n".join(rows) + "\n" + _FOOTER


if __name__ == "__main__":
    print(render_markdown(), end="")
