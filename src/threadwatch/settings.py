"""The base of every settings model: frozen, unknown keys refused, numbers finite.

Each stage declares its own settings next to its code (``parse/settings.py``,
``health/settings.py``, ``sources/settings.py``, ``alerts/settings.py``); ``config.py``
assembles them into the one configuration read from TOML.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

HOUR = 3600.0
DAY = 86400.0
WEEK = 7 * DAY
YEAR = 365 * DAY


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
