"""The command group and what every command shares: the ``--config`` option, loading it, and
failing with one line per problem on stderr and exit code 3."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from threadwatch.errors import ConfigError
from threadwatch.health.levels import Level
from threadwatch.text import safe_text
from threadwatch.usage import ThreadwatchGroup, version_line

if TYPE_CHECKING:
    from threadwatch.config import Config

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


ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="TOML config read over the defaults."),
]


def warn(*messages: str) -> None:
    """Each message as one line on stderr, ``threadwatch: MESSAGE``, made safe for a terminal."""
    for message in messages:
        print(f"threadwatch: {safe_text(message)}", file=sys.stderr)


def fail(*messages: str) -> NoReturn:
    """``warn`` each message, then exit 3."""
    warn(*messages)
    raise typer.Exit(int(Level.UNKNOWN))


def load_settings(path: Path | None) -> Config:
    """The configuration (``path`` over the defaults), or exit 3 with every problem of it.

    Imported here, not at the top: ``--help`` and usage errors need no pydantic (about half of
    a report's start-up)."""
    from threadwatch.config import load_config  # noqa: PLC0415 - see above

    try:
        return load_config(path)
    except ConfigError as exc:
        fail(*exc.lines)  # every problem of the file, one line each
