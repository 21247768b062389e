"""The one level type: a verdict, and what a rule raises (yellow or red).

``Level``'s value is the monitoring-plugin exit code. In TOML a level is written by its label
(``level = "red"``); ``RaisedLevel`` is the settings type that reads and writes it so, and only
yellow or red.
"""

from __future__ import annotations

import enum
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer


class Level(enum.IntEnum):
    """A verdict; the value is the monitoring-plugin exit code."""

    GREEN = 0
    YELLOW = 1
    RED = 2
    UNKNOWN = 3

    @property
    def label(self) -> str:
        return self.name.lower()


def _raised(value: Any) -> Any:
    if isinstance(value, Level) and value in (Level.YELLOW, Level.RED):
        return value
    if value in ("yellow", "red"):
        return Level[str(value).upper()]
    raise ValueError("a level is 'yellow' or 'red'")


# A level a rule raises: "yellow" or "red" in TOML, ``Level.YELLOW``/``Level.RED`` in code.
RaisedLevel = Annotated[Level, BeforeValidator(_raised), PlainSerializer(lambda level: level.label)]
