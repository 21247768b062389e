"""``threadwatch config check|show``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from threadwatch.cli.app import ConfigOption, app, load_settings, warn
from threadwatch.errors import ConfigError
from threadwatch.health.levels import Level
from threadwatch.text import safe_text
from threadwatch.usage import ThreadwatchGroup

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
    from threadwatch.config import load_config  # noqa: PLC0415 - not for --help

    bad = False
    for file in files:
        try:
            load_config(file)
        except ConfigError as exc:
            bad = True
            warn(*exc.lines)
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

    sys.stdout.write(show_config(load_settings(config)))
