"""``threadwatch alert-test`` and ``threadwatch alerts``: try the sinks, read the alert log
(``alerts`` is a group: with no subcommand it lists; ``alerts_manage.py`` adds retry and
drop)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from threadwatch.cli.app import ConfigOption, OutputFormat, app, fail, load_settings
from threadwatch.errors import ThreadwatchError
from threadwatch.health.levels import Level
from threadwatch.text import safe_text
from threadwatch.usage import ThreadwatchGroup

alerts_app = typer.Typer(
    cls=ThreadwatchGroup,
    invoke_without_command=True,  # `threadwatch alerts` alone lists, as it always did
    rich_markup_mode=None,
)
app.add_typer(alerts_app, name="alerts")


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

    settings = load_settings(config)
    try:
        checks = send_test_alert(settings.alerts, os.environ, sink)
    except ThreadwatchError as exc:
        fail(str(exc))
    for check in checks:
        mark = "ok" if check.accepted else "FAILED"
        print(f"{safe_text(check.sink)}: {mark} ({safe_text(check.detail)})")
    raise typer.Exit(0 if all(check.accepted for check in checks) else int(Level.UNKNOWN))


@alerts_app.callback()
def alerts_command(
    ctx: typer.Context,
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
    """List recent alerts and the outbox (pending, delivered, failed, dropped). Only reads the
    state file. `alerts retry ID` and `alerts drop ID` change a notification's deliveries.

    Exit code: 0 ok (also "no alerts yet": no state file at the default place), 3 error (e.g.
    no state file at the --state given).
    """
    if ctx.invoked_subcommand is not None:
        return  # its options are the subcommand's to read (--state)
    from threadwatch.alerts.log import format_alert_log, read_alert_log  # noqa: PLC0415 - lazy
    from threadwatch.logs import log_to_stderr  # noqa: PLC0415 - lazy
    from threadwatch.statefile import default_state_path  # noqa: PLC0415 - lazy

    log_to_stderr()  # the read-only open may say it reads without the write-ahead log
    try:
        # the default place not there yet: tail has never run as this user, nothing to show;
        # a --state given that is not there is a mistake (a typo) worth an error
        log = read_alert_log(state or default_state_path(), limit, missing_ok=state is None)
    except ThreadwatchError as exc:
        fail(str(exc))
    if output is OutputFormat.json:
        sys.stdout.write(json.dumps(log.as_json(), indent=2) + "\n")
    else:
        for line in format_alert_log(log):
            print(safe_text(line))
