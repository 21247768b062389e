"""Terminal output: rich tables of verdicts.

Paths, log text and the config's ``why`` texts go through ``safe_text`` before they reach the
terminal (rich passes escape sequences through), and only as ``Text``, never as markup.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

from rich import box
from rich.cells import cell_len
from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from threadwatch.health.levels import Level
from threadwatch.health.scope import TOTAL, ScopeReport
from threadwatch.report.model import Report
from threadwatch.sources.files import STDIN
from threadwatch.text import safe_text

if TYPE_CHECKING:
    from threadwatch.report.runs import RunReport

__all__ = ["LEVEL_STYLE", "level_text", "percent", "print_report", "report_console",
           "report_table", "safe_text", "short_names"]

LEVEL_STYLE = {
    Level.GREEN: "bold green",
    Level.YELLOW: "bold yellow",
    Level.RED: "bold red",
    Level.UNKNOWN: "bold magenta",
}
def level_text(level: Level) -> Text:
    return Text(level.label.upper(), style=LEVEL_STYLE[level])


def percent(rate: float | None) -> str:
    return "-" if rate is None else f"{rate:.0%}"


def short_names(scopes: Sequence[str]) -> tuple[str, dict[str, str]]:
    """The folder holding every file among ``scopes`` ("" when none), and each scope's name
    relative to it (standard input and the total keep theirs)."""
    files = [scope for scope in scopes if scope not in (STDIN, TOTAL)]
    if not files:
        return "", {scope: scope for scope in scopes}
    folder = os.path.commonpath([os.path.dirname(os.path.abspath(f)) for f in files])
    names = {scope: scope for scope in scopes}
    names.update({f: os.path.relpath(os.path.abspath(f), folder) for f in files})
    return folder, names


def _report_names(report: Report) -> dict[str, str]:
    paths = [source.scope for source in report.sources]
    names = {path: path for path in paths} if len(paths) < 2 else short_names(paths)[1]
    return {path: safe_text(name) for path, name in names.items()}


def _row(table: Table, name: str, scope: ScopeReport, *, bold: bool = False) -> None:
    counts, rates = scope.counts, scope.rates
    table.add_row(
        level_text(scope.verdict.level),
        str(counts["batches"]),
        percent(rates["overload"]),
        percent(rates["sequential"]),
        percent(rates["process_pool_used"]),
        percent(rates["sample_failures"]),
        percent(rates["sample_timeouts"]),
        str(counts["thread_keyerror"]),
        str(counts["thread_errors"]),
        str(counts["memory_errors"]),
        str(counts["script_timeouts"]),
        str(counts["cut_off_runs"]),
        Text(name, style="bold" if bold else ""),
    )


def _source_rows(report: Report) -> list[tuple[ScopeReport, ScopeReport, RunReport | None]]:
    """(source, scope of the row, its run): one row per source, or with runs one per run (with
    ``last_run``, the last run of each)."""
    if report.runs is None:
        return [(source, source, None) for source in report.sources]
    rows: list[tuple[ScopeReport, ScopeReport, RunReport | None]] = []
    for source, runs in zip(report.sources, report.runs, strict=True):
        shown = runs[-1:] if report.last_run else runs
        rows += [(source, run.judged, run) for run in shown]
    return rows


def report_table(report: Report, *, by_run: bool = False) -> Group:
    """The report: one row per source (``by_run``: per run of each source) and the total,
    then every row's reasons."""
    names = _report_names(report)
    by_run = by_run and report.runs is not None
    rows = _source_rows(report) if by_run else [(s, s, None) for s in report.sources]
    # one space between columns, and the level and the numbers never cut: on an 80-column
    # terminal they take 62 columns and the name folds (it was the level that was cut,
    # "YEL…", and a name folded 4 characters a line)
    table = Table(
        title="threadwatch report", title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False,
        padding=0,  # the box draws a space between columns
    )
    table.add_column("level", no_wrap=True, min_width=7)
    # batches; overload, sequential and process-pool shares of them; failed and timed-out
    # shares of samples; thread KeyErrors, thread errors, memory errors, script timeouts and
    # cut-off runs (README, "What is counted")
    for header in ("batch", "ovld", "seq", "proc", "fail", "slow", "KeyE", "thrE", "mem",
                   "t/o", "cut"):
        table.add_column(header, justify="right", no_wrap=True)
    # by run: a line with the source's name, then a row per run named by its start and state
    # as wide as its longest name, folded only where the console is narrower
    table.add_column("source / run" if by_run else "source", overflow="fold")
    heading = None
    for source, scope, run in rows:
        if run is None:
            _row(table, names[source.scope], scope)
            continue
        if source is not heading:
            heading = source
            table.add_row(*[""] * (len(table.columns) - 1), Text(names[source.scope]))
        _row(table, f" {run.label}, {run.state.value}", scope)
    table.add_section()
    _row(table, "total", report.total, bold=True)
    reasons = Text()
    for reason in report.total.verdict.reasons:
        reasons.append("  ")
        reasons.append(reason.level.label.upper(), style=LEVEL_STYLE[reason.level])
        if reason.rule:  # the name a config changes or disables the rule by
            reasons.append(f" {safe_text(reason.rule)}:", style="dim")
        reasons.append(f" {safe_text(reason.describe())}")
        reasons.append(f" ({safe_text(reason.why)})\n" if reason.why else "\n")
    if not reasons.plain:
        reasons.append("  no rule fired\n")
    for source, scope, run in rows:
        name = names[source.scope] if run is None else f"{names[source.scope]} [{run.label}]"
        deciding = [r for r in scope.verdict.reasons if r.level is scope.verdict.level]
        if deciding:
            reasons.append(f"  {name}: ")
            reasons.append(scope.verdict.level.label.upper(), style=LEVEL_STYLE[deciding[0].level])
            reasons.append(" " + "; ".join(safe_text(r.describe()) for r in deciding) + "\n")
        for note in scope.notes:
            reasons.append(f"  {name}: {safe_text(note)}\n", style="dim")
    return Group(table, Text("why:", style="bold"), reasons)


def print_report(report: Report, console: Console, *, by_run: bool = False) -> None:
    """The table fitted to the console; the reasons one line each however long (a terminal
    wraps them, a pipe keeps them whole for grep)."""
    table, *reasons = report_table(report, by_run=by_run).renderables
    # narrower than the level, the numbers and a bit of the name: wider lines, which the
    # terminal wraps, rather than cut numbers ("10…" for 100%) and no name at all
    width = console.width
    assert isinstance(table, Table)  # report_table's first part
    console.width = max(width, _least_width(table))
    try:
        console.print(table)
    finally:
        console.width = width
    for part in reasons:
        console.print(part, soft_wrap=True, end="")
        console.line()


_LEAST_NAME = 12  # columns of a source's name, folded


def _least_width(table: Table) -> int:
    """The width the level and the numbers take whole (the columns that never wrap), with a
    space between columns and ``_LEAST_NAME`` for the name."""
    fixed = [max(cell_len(str(cell)) for cell in (column.header, *column.cells))
             for column in table.columns if column.no_wrap]
    return sum(fixed) + len(table.columns) - 1 + _LEAST_NAME


def report_console(width: int = 132) -> Console:
    """A console for reports: a pipe or file gets ``width`` columns rather than rich's 80 (the
    wide-printer width: the counts and a source name of about 45 characters, or a run's start
    and state, fit on one line)."""
    console = Console()
    if not console.is_terminal:
        console = Console(width=max(console.width, width))
    return console
