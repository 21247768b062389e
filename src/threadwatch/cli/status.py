"""``threadwatch status``: ask the running ``tail`` how it is."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from threadwatch.cli.app import OutputFormat, app, fail
from threadwatch.errors import ThreadwatchError


@app.command()
def status(
    state: Annotated[
        Path | None,
        typer.Option("--state", help="The state file the tail uses (default in XDG_STATE_HOME)."),
    ] = None,
    socket: Annotated[
        Path | None,
        typer.Option("--socket", help="The tail's status socket (default: STATE.sock)."),
    ] = None,
    output: Annotated[
        OutputFormat, typer.Option("--format", "-f", help="table or json.")
    ] = OutputFormat.table,
) -> None:
    """Ask the running `threadwatch tail` how it is: levels per scope with the worst reason,
    files followed, read lag, alerts waiting per sink, sink states, uptime, and how old the
    tail's snapshot answered from is.

    Exit code: 0 green, 1 yellow, 2 red (the total's level, as `report`); 3 unknown, no
    tail running, or a stale answer (the tail's loop stuck: no snapshot for 10 s).
    """
    from threadwatch.live.control import ask_status, socket_path  # noqa: PLC0415 - lazy
    from threadwatch.live.status import answer_level, format_status  # noqa: PLC0415 - lazy
    from threadwatch.statefile import default_state_path  # noqa: PLC0415 - lazy

    path = socket or socket_path(state or default_state_path())
    try:
        answer = ask_status(path)
    except ThreadwatchError as exc:
        fail(str(exc))
    if output is OutputFormat.json:
        sys.stdout.write(json.dumps(answer, indent=2) + "\n")
    else:
        sys.stdout.write(format_status(answer) + "\n")
    raise typer.Exit(int(answer_level(answer)))
