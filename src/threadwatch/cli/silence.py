"""``threadwatch silence add|list|expire``: silences in the state file ``tail`` reads."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from threadwatch.cli.app import OutputFormat, app, fail
from threadwatch.errors import ThreadwatchError
from threadwatch.text import safe_text
from threadwatch.usage import ThreadwatchGroup

silence_app = typer.Typer(
    cls=ThreadwatchGroup,
    help="Silence alerts for a while: add, list, expire.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(silence_app, name="silence")

StateOption = Annotated[
    Path | None,
    typer.Option("--state", help="The state file tail writes (default as for tail)."),
]


@silence_app.command("add")
def silence_add(
    scope: Annotated[
        str, typer.Option("--scope", metavar="GLOB",
                          help="Scopes to silence: a glob over the file name (no '/'), or over"
                               " the path; 'total' is the total.")
    ],
    duration: Annotated[
        str, typer.Option("--for", metavar="DURATION", help="How long: 90s, 30m, 2h, 1d.")
    ],
    rule: Annotated[
        str | None, typer.Option("--rule", metavar="NAME",
                                 help="Only alerts of this rule (glob): 'level' or an event"
                                      " rule's name.")
    ] = None,
    comment: Annotated[
        str, typer.Option("--comment", metavar="TEXT", help="Why (shown by list and alerts).")
    ] = "",
    state: StateOption = None,
) -> None:
    """Add a silence from now on; print its id.

    Exit code: 0, or 3 on a bad duration or glob, or a state file that cannot be written.
    """
    from threadwatch.alerts.silences import (  # noqa: PLC0415 - lazy
        SilenceStore,
        parse_duration,
        user_at_host,
    )
    from threadwatch.statefile import default_state_path  # noqa: PLC0415 - lazy

    try:
        seconds = parse_duration(duration)
        store = SilenceStore(state or default_state_path())
        try:
            silence = store.add(scope, rule=rule, seconds=seconds, created_by=user_at_host(),
                                comment=comment, now=time.time())
        finally:
            store.close()
    except ThreadwatchError as exc:
        fail(str(exc))
    print(silence.id)


@silence_app.command("list")
def silence_list(
    every: Annotated[
        bool, typer.Option("--all", help="Ended silences too (kept 30 days).")
    ] = False,
    output: Annotated[
        OutputFormat, typer.Option("--format", "-f", help="table or json.")
    ] = OutputFormat.table,
    state: StateOption = None,
) -> None:
    """List the active silences with the time left (--all: ended ones too). Only reads the
    state file.

    Exit code: 0 (also with no state file at the default place), 3 error.
    """
    from threadwatch.alerts.silences import format_silences, read_silences  # noqa: PLC0415
    from threadwatch.logs import log_to_stderr  # noqa: PLC0415 - lazy
    from threadwatch.statefile import default_state_path  # noqa: PLC0415 - lazy

    log_to_stderr()  # the read-only open may say it reads without the write-ahead log
    now = time.time()
    try:
        silences = read_silences(state or default_state_path(), now, ended=every,
                                 missing_ok=state is None)
    except ThreadwatchError as exc:
        fail(str(exc))
    if output is OutputFormat.json:
        body = {"silences": [silence.as_dict(now) for silence in silences]}
        sys.stdout.write(json.dumps(body, indent=2) + "\n")
    else:
        for line in format_silences(silences, now):
            print(safe_text(line))


@silence_app.command("expire")
def silence_expire(
    silence_id: Annotated[str, typer.Argument(metavar="ID", help="The silence's id.")],
    state: StateOption = None,
) -> None:
    """End a silence now: tail sends what it held back and still fires within seconds.

    Exit code: 0 (also if it had ended already), 3 on an unknown id.
    """
    from threadwatch.alerts.silences import SilenceStore, user_at_host  # noqa: PLC0415
    from threadwatch.statefile import default_state_path  # noqa: PLC0415 - lazy

    path = state or default_state_path()
    if not path.is_file():
        fail(f"no silence {silence_id!r}: no state file at {path}")
    try:
        store = SilenceStore(path)
        try:
            silence, ended_now = store.expire(silence_id, user_at_host(), time.time())
        finally:
            store.close()
    except ThreadwatchError as exc:
        fail(str(exc))
    print(f"{silence.id} expired" if ended_now else f"{silence.id} had ended already")
