"""``report --format nagios``: the verdict as a monitoring plugin's one status line.

Nagios, Icinga, Naemon and Sensu read the exit code (0 ok, 1 warning, 2 critical, 3 unknown,
as ``report`` always exits) and one line of output: a status text, then ``|`` and *perfdata*,
``'label'=value[unit];warn;crit;min;max`` for each metric, so that they can graph it (one
line, shown on two here)::

    THREADWATCH RED - memory_errors 1 >= 1 (memory errors); 2 red of 5 sources
        | 'overload'=19%;25;50;0;100 'memory_errors_count'=1;;0;0; …

Rates are written in percent under their own names, counts as ``<count>_count`` (some names
are both); each metric's warn and crit ranges are the yellow and red rules
on it, in the plugin range syntax (``T``: alert above T, ``T:``: alert below T; for whole-number
counts ``at_least N`` is exactly ``N-1``). A rate with no batches or samples to divide by has no
value (``U``), as the plugin guidelines ask. With ``report --last-run`` the numbers are each
source's last run's, and the status text says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from threadwatch.health.levels import Level
from threadwatch.health.settings import Rule
from threadwatch.report.model import Report
from threadwatch.text import safe_text

_MAX_REASONS = 3


def nagios_unknown(messages: Sequence[str]) -> str:
    """The status line when there is no verdict (nothing could be read, a bad config): the
    plugin's output is its stdout alone, so the reason must be there too (UNKNOWN, exit 3)."""
    more = f" (+{len(messages) - 1} more)" if len(messages) > 1 else ""
    return safe_text(f"THREADWATCH UNKNOWN - {messages[0]}{more}").replace("|", "/")


def nagios_status(report: Report, rules: Sequence[Rule]) -> str:
    """The one status line: ``THREADWATCH <LEVEL> - <why> | <perfdata>``."""
    total = report.as_json()
    level = report.total.verdict.level
    head = f"THREADWATCH {level.label.upper()} - {_summary(report, total)}"
    # a "|" in the text would start the perfdata early; the line must stay one line
    head = safe_text(head).replace("|", "/")
    return f"{head} | {' '.join(_perfdata(total, rules))}"


def _summary(report: Report, total: dict[str, Any]) -> str:
    sources = len(report.sources)
    levels = [source.verdict.level for source in report.sources]
    bad = ", ".join(
        f"{levels.count(level)} {level.label}" for level in (Level.RED, Level.YELLOW)
        if level in levels
    )
    noun = "source" if sources == 1 else "sources"
    of = f"{bad} of {sources} {noun}" if bad else f"{sources} {noun}"
    if report.last_run:
        of += " (last run of each)"
    if report.problems:  # on stderr too, which a plugin's reader never sees
        count = len(report.problems)
        of += f"; {count} problem{'s' if count > 1 else ''}: {report.problems[0]}"
    reasons = report.total.verdict.reasons
    if reasons:
        said = "; ".join(
            f"{reason.describe()} ({reason.why})" if reason.why else reason.describe()
            for reason in reasons[:_MAX_REASONS]
        )
        more = len(reasons) - _MAX_REASONS
        return f"{said}{f' (+{more} more)' if more > 0 else ''}; {of}"
    if report.total.verdict.level is Level.UNKNOWN:
        notes = [note for source in report.sources for note in source.notes]
        return f"no batch seen in {of}" + (f": {notes[0]}" if notes else "")
    return f"{total['counts']['batches']} batches, no threshold crossed; {of}"


def _perfdata(total: dict[str, Any], rules: Sequence[Rule]) -> list[str]:
    items = []
    for name, value in total["rates"].items():
        warn, crit = (_range(rules, name, level, is_rate=True) for level in ("yellow", "red"))
        shown = "U" if value is None else f"{value * 100:.4g}%"
        items.append(f"'{name}'={shown};{warn};{crit};0;100")
    for name, value in total["counts"].items():
        warn, crit = (_range(rules, name, level, is_rate=False) for level in ("yellow", "red"))
        items.append(f"'{name}_count'={value};{warn};{crit};0;")
    return items


def _range(rules: Sequence[Rule], metric: str, level: str, *, is_rate: bool) -> str:
    """The plugin range of the first enabled ``level`` rule on ``metric`` ('' when there is
    none)."""
    for rule in rules:
        if (not rule.enabled or rule.level.label != level or rule.metric != metric
                or rule.is_rate != is_rate):
            continue
        operator, threshold = rule.comparison
        if is_rate:  # percent; > and >= (< and <=) read alike at this precision
            value = f"{threshold * 100:g}"
            return value if operator in (">", ">=") else f"{value}:"
        count = int(threshold)
        return {">": f"{count}", ">=": f"{count - 1}", "<": f"{count}:",
                "<=": f"{count + 1}:"}[operator]
    return ""
