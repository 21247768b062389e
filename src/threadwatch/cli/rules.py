"""``threadwatch rules``: the configured rules for another engine."""

from __future__ import annotations

import sys
from enum import StrEnum
from typing import Annotated

import typer

from threadwatch.cli.app import ConfigOption, app, load_settings


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

    settings = load_settings(config)
    sys.stdout.write(rules_yaml(settings.rules, settings.alerts.hold_seconds))
