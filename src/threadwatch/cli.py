"""The command line: each command parses its options, calls one library function, and maps
``ThreadwatchError`` to exit code 3 with a one-line message on stderr. Usage errors exit 3 too
(see ``usage.py``)."""

from __future__ import annotations

import json
import os
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from threadwatch.config import Config, load_config
from threadwatch.errors import ConfigError, ThreadwatchError
from threadwatch.health.levels import Level
from threadwatch.report.model import build_report
from threadwatch.text import safe_text
from threadwatch.usage import ThreadwatchGroup, version_line

app = typer.Typer(
    cls=ThreadwatchGroup,  # usage errors exit 3, not 2
    help="Watch run_batt batch runs and say, in time, when they are degrading.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help: no boxes, no type placeholders; it fits a pager
)


def _print_version(value: bool) -> None:
    if value:
        print(version_line())
        raise typer.Exit(0)


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_print_version, is_eager=True,
                     help="Print the version and exit."),
    ] = False,
) -> None:
    """threadwatch: report on logs once, or follow them live."""


class OutputFormat(StrEnum):
    table = "table"
    json = "json"


class ReportFormat(StrEnum):
    table = "table"
    json = "json"
    nagios = "nagios"
    prometheus = "prometheus"


ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="TOML config read over the defaults."),
]


def _fail(*messages: str) -> NoReturn:
    for message in messages:
        print(f"threadwatch: {safe_text(message)}", file=sys.stderr)
    raise typer.Exit(int(Level.UNKNOWN))


def _config(path: Path | None) -> Config:
    try:
        return load_config(path)
    except ConfigError as exc:
        _fail(*exc.lines)  # every problem of the file, one line each


_REPORT_LEGEND = """\b
Table columns, per source and in total:
  batch  batches (one run of the executor chain over a task's samples)
  ovld   share of batches made sequential by overload (over 40 threads)
  seq    share of batches that ended sequential (overload, failed pools)
  proc   share of batches that ran on the process pool
  fail   share of samples that failed;  slow: share that timed out
  KeyE   thread-cleanup KeyErrors;  thrE: other thread errors
  mem    memory errors;  t/o: script timeouts;  cut: runs cut off mid-task
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
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Also list the files a folder scan skipped.")
    ] = False,
) -> None:
    """Scan logs once and print a health verdict.

    Exit code: 0 green, 1 yellow, 2 red, 3 unknown or error.
    """
    settings = _config(config)
    try:
        result = build_report(paths, settings, verbose=verbose)
    except ThreadwatchError as exc:
        _fail(str(exc))
    for problem in result.problems:
        print(f"threadwatch: {safe_text(problem)}", file=sys.stderr)
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

        print_report(result, report_console())
    raise typer.Exit(int(result.total.verdict.level))


class TailFormat(StrEnum):
    live = "live"
    jsonl = "jsonl"


@app.command()
def tail(
    paths: Annotated[
        list[str], typer.Argument(metavar="PATH", help="Folders, files, globs, or - for stdin.")
    ],
    output: Annotated[
        TailFormat | None,
        typer.Option("--format", "-f", help="live (default on a terminal) or jsonl."),
    ] = None,
    state: Annotated[
        Path | None, typer.Option("--state", help="Checkpoint file (default in XDG_STATE_HOME).")
    ] = None,
    from_end: Annotated[
        bool, typer.Option("--from-end", help="Start files not seen before at their end.")
    ] = False,
    config: ConfigOption = None,
    *,
    metrics_listen: Annotated[
        str | None,
        typer.Option("--metrics-listen", metavar="HOST:PORT",
                     help="Serve Prometheus metrics at http://HOST:PORT/metrics."),
    ] = None,
    metrics_max_scopes: Annotated[
        int,
        typer.Option("--metrics-max-scopes", min=0,
                     help="Sources with a scope label of their own; more go to 'other'."),
    ] = 100,
) -> None:
    """Follow logs live: a health view on a terminal, JSON lines otherwise.

    Exit code: 0 when stopped by SIGINT/SIGTERM, 3 on error.
    """
    from threadwatch.live.loop import TailOptions, tail_logs  # noqa: PLC0415 - rich is slow to import
    from threadwatch.logs import log_to_stderr  # noqa: PLC0415 - only tail logs to stderr

    settings = _config(config)
    log_to_stderr()  # every threadwatch.* logger, one safe line per message
    try:
        tail_logs(paths, settings, output=output.value if output else None,
                  options=TailOptions(state_path=state, from_end=from_end,
                                      metrics_listen=metrics_listen,
                                      metrics_max_scopes=metrics_max_scopes))
    except ThreadwatchError as exc:
        _fail(str(exc))
    except BrokenPipeError:
        # the reader of the JSON lines went away (`| head`): a normal way to stop. What could
        # not be written was not checkpointed, so a restart delivers it.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise typer.Exit(0) from None


class RulesFormat(StrEnum):
    prometheus = "prometheus"


@app.command()
def rules(
    output: Annotated[
        RulesFormat,
        typer.Option("--format", "-f", help="prometheus (an alerting-rules file over the"
                     " metrics of tail --metrics-listen)."),
    ] = RulesFormat.prometheus,
    config: ConfigOption = None,
) -> None:
    """Print the configured [[rules]] as alerting rules for another engine.

    Exit code: 0, or 3 on a bad config.
    """
    from threadwatch.live.prometheus_rules import rules_yaml  # noqa: PLC0415 - lazy

    settings = _config(config)
    sys.stdout.write(rules_yaml(settings.rules, settings.alerts.hold_seconds))


@app.command("alert-test")
def alert_test(
    sink: Annotated[
        str | None, typer.Option("--sink", help="Only this sink (its name in the config).")
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Send a test alert through the configured sinks; say for each whether it was accepted.

    Exit code: 0 every sink accepted it, 3 any did not (or an error).
    """
    from threadwatch.alerts.checks import send_test_alert  # noqa: PLC0415 - httpx is slow

    settings = _config(config)
    try:
        checks = send_test_alert(settings.alerts, os.environ, sink)
    except ThreadwatchError as exc:
        _fail(str(exc))
    for check in checks:
        mark = "ok" if check.accepted else "FAILED"
        print(f"{safe_text(check.sink)}: {mark} ({safe_text(check.detail)})")
    raise typer.Exit(0 if all(check.accepted for check in checks) else int(Level.UNKNOWN))


@app.command("alerts")
def alerts_command(
    state: Annotated[
        Path | None,
        typer.Option("--state", help="The state file tail writes (default as for tail)."),
    ] = None,
    limit: Annotated[
        int, typer.Option("--limit", "-n", min=0, help="How many of each to show.")
    ] = 20,
    output: Annotated[
        OutputFormat, typer.Option("--format", "-f", help="table or json.")
    ] = OutputFormat.table,
) -> None:
    """List recent alerts and the outbox (pending, delivered, failed). Only reads the state
    file.

    Exit code: 0 ok (also "no alerts yet": no state file at the default place), 3 error (e.g.
    no state file at the --state given).
    """
    from threadwatch.alerts.log import format_alert_log, read_alert_log  # noqa: PLC0415 - lazy
    from threadwatch.logs import log_to_stderr  # noqa: PLC0415 - lazy
    from threadwatch.statefile import default_state_path  # noqa: PLC0415 - lazy

    log_to_stderr()  # the read-only open may say it reads without the write-ahead log
    try:
        # the default place not there yet: tail has never run as this user, nothing to show;
        # a --state given that is not there is a mistake (a typo) worth an error
        log = read_alert_log(state or default_state_path(), limit, missing_ok=state is None)
    except ThreadwatchError as exc:
        _fail(str(exc))
    if output is OutputFormat.json:
        sys.stdout.write(json.dumps(log.as_json(), indent=2) + "\n")
    else:
        for line in format_alert_log(log):
            print(safe_text(line))


config_app = typer.Typer(
    cls=ThreadwatchGroup,
    help="Check a config file, or show the effective configuration.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(config_app, name="config")


@config_app.command("check")
def config_check(
    files: Annotated[list[Path], typer.Argument(metavar="FILE", help="TOML config files.")],
) -> None:
    """Validate config files: every problem of each, one line each on stderr.

    Exit code: 0 all valid, 3 a file has a problem.
    """
    bad = False
    for file in files:
        try:
            load_config(file)
        except ConfigError as exc:
            bad = True
            for line in exc.lines:
                print(f"threadwatch: {safe_text(line)}", file=sys.stderr)
        else:
            print(f"{safe_text(str(file))}: valid")
    raise typer.Exit(int(Level.UNKNOWN) if bad else 0)


@config_app.command("show")
def config_show(config: ConfigOption = None) -> None:
    """Print the effective configuration (the file over the defaults) as TOML.

    Sink URLs and secrets written out in the file are shown as <hidden>; ${VARIABLE}
    references are shown as written. Exit code: 0, or 3 if the config is invalid.
    """
    from threadwatch.config import show_config  # noqa: PLC0415 - lazy: tomli_w

    sys.stdout.write(show_config(_config(config)))


def main() -> None:
    """Console-script entry point."""
    app()
