"""``threadwatch alerts retry|drop ID``: send a notification again now, or never."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from threadwatch.cli.alerts import alerts_app
from threadwatch.cli.app import fail
from threadwatch.errors import ThreadwatchError
from threadwatch.text import safe_text

if TYPE_CHECKING:
    from threadwatch.alerts.manage import Changed

IdArgument = Annotated[
    str, typer.Argument(metavar="ID", help="The notification's number, as `alerts` shows it "
                                           "(12 or #12).")]
SinkOption = Annotated[
    str | None, typer.Option("--sink", help="Only its delivery to this sink.")]
StateOption = Annotated[
    Path | None,
    typer.Option("--state", help="The state file tail writes (default as for tail)."),
]


def _state(ctx: typer.Context, state: Path | None) -> Path:
    """``--state`` given here, else to ``alerts`` (``alerts --state F retry 12``), else
    tail's default."""
    from threadwatch.statefile import default_state_path  # noqa: PLC0415 - lazy

    parent = ctx.parent.params.get("state") if ctx.parent is not None else None
    return state or parent or default_state_path()


@alerts_app.command("retry")
def alerts_retry(ctx: typer.Context, notification: IdArgument, sink: SinkOption = None,
                 state: StateOption = None) -> None:
    """Make a notification's pending or failed deliveries due now (or its delivery to
    --sink): a running tail sends them within about a second, else the next tail does.

    Exit code: 0 done, 3 error (no such notification or sink, nothing pending or failed).
    """
    from threadwatch.alerts.manage import retry_deliveries  # noqa: PLC0415

    _change(retry_deliveries, _state(ctx, state), notification, sink)


@alerts_app.command("drop")
def alerts_drop(ctx: typer.Context, notification: IdArgument, sink: SinkOption = None,
                state: StateOption = None) -> None:
    """Never deliver a notification's pending or failed deliveries (or its delivery to
    --sink): they are marked dropped.

    Exit code: 0 done, 3 error (no such notification or sink, nothing pending or failed).
    """
    from threadwatch.alerts.manage import drop_deliveries  # noqa: PLC0415

    _change(drop_deliveries, _state(ctx, state), notification, sink)


def _change(action: Callable[..., Sequence[Changed]], state: Path, notification: str,
            sink: str | None) -> None:
    """Apply ``action`` (retry or drop) to a notification's deliveries; one line each."""
    from threadwatch.alerts.manage import parse_number  # noqa: PLC0415

    try:
        changed = action(state, parse_number(notification), time.time(), sink)
    except ThreadwatchError as exc:
        fail(str(exc))
    for one in changed:
        print(safe_text(one.line()))
