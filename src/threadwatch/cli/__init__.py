"""The command line: each command parses its options, calls one library function, and maps
``ThreadwatchError`` to exit code 3 with a one-line message on stderr. Usage errors exit 3 too
(see ``usage.py``). One module per command (or command group); each registers on ``app``.
``main``, the console script, also decides how the process ends (``leave.py``).
"""

from __future__ import annotations

import os

from threadwatch.cli import (  # noqa: F401 - register commands
    alerts,
    alerts_manage,
    config,
    report,
    rules,
    silence,
    status,
    tail,
)
from threadwatch.cli.app import app
from threadwatch.cli.leave import leave

__all__ = ["app", "main"]


def main() -> None:
    """Console-script entry point (also ``python -m threadwatch``).

    It never returns: the process ends with the command's exit code through ``leave``
    (``os._exit`` once output is flushed and the atexit handlers have run). To run a command
    inside another program, call ``app`` (as typer's ``CliRunner`` does)."""
    # threadwatch uses no pydantic plugin: skip their discovery, a scan of every installed
    # package's metadata (~15 ms of each start)
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    try:
        app(prog_name="threadwatch")  # also under `python -m threadwatch`
    except SystemExit as done:  # every command ends so (typer's standalone mode)
        leave(done)
