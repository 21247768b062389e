"""``threadwatch report``: scan logs once and print the verdict."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from enum import StrEnum
from typing import Annotated, NoReturn

import typer

from threadwatch.cli.app import ConfigOption, app, fail, warn
from threadwatch.errors import ConfigError, ThreadwatchError


class ReportFormat(StrEnum):
    table = "table"
    json = "json"
    nagios = "nagios"
    prometheus = "prometheus"


_REPORT_LEGEND = """\b
Table columns, per source and in total:
  batch  batches (one run of the executor chain over a task's samples)
  ovld   share of batches made sequential by overload (over 40 threads)
  seq    share of batches that ended sequential (overload, failed pools)
  proc   share of the large batches (4 samples or more: [inference]
         process_min_batch) that ran on the process pool
  fail   share of samples that failed;  slow: share that timed out
  KeyE   thread-cleanup KeyErrors;  thrE: other thread errors
  mem    memory errors;  t/o: script timeouts;  cut: runs cut off mid-task
  source / run  (--by-run) each file, then a row per run: when it began (the
         `date` line the loop prints before each round, else "run N") and
         how it ended: completed, cut off, running, no progress, no run lines

\b
A run (a round of the loop) begins at a `date` line, or where there is none
at a task index that starts again or a task after a run summary.

\b
Levels come from the [[rules]] of the config; "why:" lists the ones crossed.
Every message recognised: docs/messages.md.
"""


@app.command(epilog=_REPORT_LEGEND)
def report(
    paths: Annotated[
        list[str], typer.Argument(metavar="PATH", help="Files, folders, globs, or - for stdin.")
    ],
    output: Annotated[
        ReportFormat,
        typer.Option("--format", "-f", help="table, json, nagios (one status line with"
                     " perfdata) or prometheus (node_exporter textfile format)."),
    ] = ReportFormat.table,
    config: ConfigOption = None,
    *,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Also list the files a folder scan skipped.")
    ] = False,
    last_run: Annotated[
        bool, typer.Option("--last-run", help="Judge each file on its last run (round) only:"
                           " verdict, exit code and every format.")
    ] = False,
    by_run: Annotated[
        bool, typer.Option("--by-run", help="One row per run of each file, with when it began,"
                           " its verdict and why (JSON: a runs list per source).")
    ] = False,
) -> None:
    """Scan logs once and print a health verdict.

    Exit code: 0 green, 1 yellow, 2 red, 3 unknown or error.
    """
    from threadwatch.config import load_config  # noqa: PLC0415 - not for --help
    from threadwatch.report.model import build_report  # noqa: PLC0415 - not for --help

    try:
        settings = load_config(config)
        result = build_report(paths, settings, verbose=verbose, by_run=by_run,
                              last_run=last_run)
    except ConfigError as exc:
        _fail(output, exc.lines)  # every problem of the file, one line each
    except ThreadwatchError as exc:
        _fail(output, [str(exc)])
    warn(*result.problems)
    if output is ReportFormat.json:
        sys.stdout.write(json.dumps(result.as_json(), indent=2) + "\n")
    elif output is ReportFormat.nagios:
        from threadwatch.report.nagios import nagios_status  # noqa: PLC0415 - lazy

        sys.stdout.write(nagios_status(result, settings.rules) + "\n")
    elif output is ReportFormat.prometheus:
        from threadwatch.report.prometheus import prometheus_text  # noqa: PLC0415 - lazy

        sys.stdout.buffer.write(prometheus_text(result))
    else:
        from threadwatch.report.render import print_report, report_console  # noqa: PLC0415 - rich is slow to import; JSON needs none

        print_report(result, report_console(), by_run=by_run)
    raise typer.Exit(int(result.total.verdict.level))


def _fail(output: ReportFormat, messages: Sequence[str]) -> NoReturn:
    """Exit 3 with each message on stderr; a monitoring plugin (``nagios``) also gets its
    status line on stdout, the only output Nagios and Icinga show, and ``prometheus`` the
    level unknown."""
    if output is ReportFormat.nagios:
        from threadwatch.report.nagios import nagios_unknown  # noqa: PLC0415 - lazy

        sys.stdout.write(nagios_unknown(messages) + "\n")
    elif output is ReportFormat.prometheus:  # a textfile replaced from cron says "unknown"
        from threadwatch.report.prometheus import prometheus_unknown  # noqa: PLC0415 - lazy

        sys.stdout.flush()
        sys.stdout.buffer.write(prometheus_unknown())
    fail(*messages)
