"""Alert configuration models (the ``[alerts]`` table of the config file)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class AlertsConfig(BaseModel):
    """``[alerts]``: hold, repeat and grouping times."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    hold_seconds: float = Field(120.0, ge=0)
    repeat_seconds: float = Field(3600.0, gt=0)
    group_wait_seconds: float = Field(10.0, ge=0)
