"""The one level type: a verdict, and what a rule raises (yellow or red).

``Level``'s value is the monitoring-plugin exit code. In TOML a level is written by its label
(``level = "red"``); ``health.settings.RaisedLevel`` is the settings type that reads and writes
it so, and only yellow or red (there, so that this module needs no pydantic: the command line
imports it for exit codes before it knows whether it will read a config).
"""

from __future__ import annotations

import enum


class Level(enum.IntEnum):
    """A verdict; the value is the monitoring-plugin exit code."""

    GREEN = 0
    YELLOW = 1
    RED = 2
    UNKNOWN = 3

    @property
    def label(self) -> str:
        return self.name.lower()
