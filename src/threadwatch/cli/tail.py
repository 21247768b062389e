"""``threadwatch tail``: follow logs live."""

from __future__ import annotations

import contextlib
import os
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from threadwatch.cli.app import ConfigOption, app, fail, load_settings, warn
from threadwatch.errors import TerminalGoneError, ThreadwatchError


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

    SIGHUP reads --config again (on a terminal it is the terminal hanging up, and
    stops tail); `threadwatch status` asks this tail how it is.
    Exit code: 0 when stopped by SIGINT/SIGTERM or a hang-up, 3 on error.
    """
    from threadwatch.live.loop import TailOptions  # noqa: PLC0415 - rich is slow to import
    from threadwatch.live.service import tail_logs  # noqa: PLC0415 - rich is slow to import
    from threadwatch.logs import log_to_stderr  # noqa: PLC0415 - only tail logs to stderr

    settings = load_settings(config)
    log_to_stderr()  # every threadwatch.* logger, one safe line per message
    try:
        tail_logs(paths, settings, output=output.value if output else None,
                  options=TailOptions(state_path=state, from_end=from_end,
                                      metrics_listen=metrics_listen,
                                      metrics_max_scopes=metrics_max_scopes),
                  config_path=config)
    except TerminalGoneError as exc:
        # the live view's terminal went away: a normal way to stop, said where stderr still goes
        _stdout_to_devnull()
        with contextlib.suppress(OSError):
            warn(str(exc))
        raise typer.Exit(0) from None
    except ThreadwatchError as exc:
        fail(str(exc))
    except BrokenPipeError:
        # the reader of the JSON lines went away (`| head`): a normal way to stop. What could
        # not be written was not checkpointed, so a restart delivers it.
        _stdout_to_devnull()
        raise typer.Exit(0) from None


def _stdout_to_devnull() -> None:
    # what is still buffered for a reader that has gone is then flushed at exit without error
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
