"""Terminal output: rich tables of verdicts. Log text is stripped of control characters
(terminal escape sequences in a log line must never reach the operator's terminal)."""

from __future__ import annotations

import re

from rich.console import Console
from rich.table import Table
from rich.text import Text

from threadwatch.health.rules import Level
from threadwatch.report import Report, ScopeReport

LEVEL_STYLE = {
    Level.GREEN: "bold green",
    Level.YELLOW: "bold yellow",
    Level.RED: "bold red",
    Level.UNKNOWN: "bold magenta",
}
_CONTROL = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def safe_text(text: str) -> str:
    """``text`` without escape sequences and control characters (tabs and newlines kept)."""
    return _CONTROL.sub("", text)


def _percent(rate: float | None) -> str:
    return "-" if rate is None else f"{rate:.0%}"


def _row(scope: ScopeReport, table: Table, *, bold: bool = False) -> None:
    counts, rates = scope.counts, scope.rates
    level = scope.verdict.level
    reasons = "\n".join(reason.describe() for reason in scope.verdict.reasons)
    table.add_row(
        Text(safe_text(scope.name), style="bold" if bold else ""),
        Text(level.label.upper(), style=LEVEL_STYLE[level]),
        str(counts["batches"]),
        _percent(rates["overload"]),
        _percent(rates["sequential"]),
        _percent(rates["process_pool_used"]),
        str(counts["thread_keyerror"]),
        str(counts["thread_errors"]),
        str(counts["memory_errors"] + counts["script_timeouts"]),
        reasons or "-",
    )


def report_table(report: Report) -> Table:
    """The report as a table: one row per source, then the total."""
    table = Table(title="threadwatch report", title_justify="left", show_lines=False)
    for header, justify in [
        ("source", "left"), ("level", "left"), ("batches", "right"), ("overload", "right"),
        ("sequential", "right"), ("process pool", "right"), ("thread KeyError", "right"),
        ("thread errors", "right"), ("memory/timeout", "right"), ("reasons", "left"),
    ]:
        table.add_column(header, justify=justify)  # type: ignore[arg-type]
    for source in report.sources:
        _row(source, table)
    table.add_section()
    _row(report.total, table, bold=True)
    return table


def print_report(report: Report, console: Console) -> None:
    console.print(report_table(report))
