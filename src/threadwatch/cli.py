"""The command line: each command parses its options, calls one library function, and maps
``ThreadwatchError`` to exit code 3 with a one-line message on stderr."""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from threadwatch.config import Config, load_config
from threadwatch.errors import ThreadwatchError
from threadwatch.health.rules import Level
from threadwatch.render import print_report, report_console, safe_text
from threadwatch.report import build_report

app = typer.Typer(
    help="Watch run_batt batch runs and say, in time, when they are degrading.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root() -> None:
    """threadwatch: report on logs once, or follow them live."""


class OutputFormat(StrEnum):
    table = "table"
    json = "json"


ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="TOML config read over the defaults."),
]


def _fail(message: str) -> NoReturn:
    print(f"threadwatch: {safe_text(message)}", file=sys.stderr)
    raise typer.Exit(int(Level.UNKNOWN))


def _config(path: Path | None) -> Config:
    try:
        return load_config(path)
    except ThreadwatchError as exc:
        _fail(str(exc))


@app.command()
def report(
    paths: Annotated[list[str], typer.Argument(help="Files, folders, globs, or - for stdin.")],
    output: Annotated[
        OutputFormat, typer.Option("--format", "-f", help="table or json.")
    ] = OutputFormat.table,
    config: ConfigOption = None,
) -> None:
    """Scan logs once and print a health verdict.

    Exit code: 0 green, 1 yellow, 2 red, 3 unknown or error.
    """
    settings = _config(config)
    try:
        result = build_report(paths, settings)
    except ThreadwatchError as exc:
        _fail(str(exc))
    for problem in result.problems:
        print(f"threadwatch: {safe_text(problem)}", file=sys.stderr)
    if output is OutputFormat.json:
        sys.stdout.write(json.dumps(result.as_json(), indent=2) + "\n")
    else:
        print_report(result, report_console())
    raise typer.Exit(int(result.total.verdict.level))


def main() -> None:
    """Console-script entry point."""
    app()
