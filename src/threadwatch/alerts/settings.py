"""Alert configuration models (the ``[alerts]`` table of the config file).

Sink URLs and secrets are written as ``${VARIABLE}`` references and expanded from the
environment only when the sinks are built (``threadwatch.alerts.sinks.build_sinks``), so a
config file can be shared and printed without leaking them. Each sink type's keys are its own
module's (``alerts/sinks/registry.py``); a table's ``type`` picks them.

Numbers are finite and within the ranges documented in ``default_config.toml``; a ``secret``,
when given, is not empty.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, PlainValidator, SerializeAsAny, model_validator

from threadwatch.alerts.sinks.registry import SinkSettings, validate_sink
from threadwatch.events import Kind
from threadwatch.health.levels import Level
from threadwatch.health.settings import RaisedLevel
from threadwatch.settings import DAY, HOUR, WEEK, Settings

# An [alerts.sinks.NAME] table: the settings of the sink type its ``type`` names (dumped with
# all of that type's keys, not only the ones every sink has).
SinkConfig = Annotated[SerializeAsAny[SinkSettings], PlainValidator(validate_sink)]


class EventRuleConfig(Settings):
    """``[[alerts.events]]``: alert at once when an event of these kinds is seen in a source."""

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    kinds: tuple[Kind, ...] = Field(min_length=1)
    level: RaisedLevel = Level.RED
    summary: str = ""


class DeliveryConfig(Settings):
    """``[alerts.delivery]``: retries of the outbox sender."""

    backoff_initial_seconds: float = Field(5.0, ge=0.01, le=HOUR)
    backoff_max_seconds: float = Field(300.0, ge=0.01, le=DAY)
    # Longest ``Retry-After`` honoured; a longer one is cut to this.
    retry_after_max_seconds: float = Field(3600.0, gt=0, le=DAY)
    # A notification still undelivered after this long is marked failed (kept, shown).
    max_age_seconds: float = Field(86400.0, gt=0, le=30 * DAY)


def _default_event_rules() -> tuple[EventRuleConfig, ...]:
    return (
        EventRuleConfig(name="thread-cleanup-keyerror", kinds=(Kind.THREAD_CLEANUP_KEYERROR,),
                        level=Level.YELLOW, summary="thread-cleanup KeyError"),
        EventRuleConfig(name="memory-error", kinds=(Kind.MEMORY_ERROR,), level=Level.RED,
                        summary="memory error"),
    )


class AlertsConfig(Settings):
    """``[alerts]``: hold, repeat and grouping times, event rules, sinks and delivery."""

    hold_seconds: float = Field(120.0, ge=0, le=DAY)
    repeat_seconds: float = Field(3600.0, ge=1, le=WEEK)
    group_wait_seconds: float = Field(10.0, ge=0, le=HOUR)
    # An event alert resolves after this long without a new matching event.
    event_quiet_seconds: float = Field(600.0, gt=0, le=WEEK)
    # Levels that fire: "yellow" (yellow and red) or "red" (red only).
    min_level: RaisedLevel = Level.YELLOW
    max_samples: int = Field(5, ge=0, le=50)
    # Host label of every alert; empty means this machine's host name.
    host: str = ""
    events: tuple[EventRuleConfig, ...] = Field(default_factory=_default_event_rules)
    sinks: dict[str, SinkConfig] = Field(default_factory=dict)
    delivery: DeliveryConfig = DeliveryConfig()

    @model_validator(mode="after")
    def _check(self) -> AlertsConfig:
        names = [rule.name for rule in self.events]
        if len(names) != len(set(names)):
            raise ValueError("event rule names must be unique")
        for name, sink in self.sinks.items():
            if not name or not name.replace("-", "").replace("_", "").isalnum():
                raise ValueError(f"sink name {name!r}: use letters, digits, '-' and '_'")
            conflict = sink.conflict(repeat_seconds=self.repeat_seconds)
            if conflict is not None:
                raise ValueError(f"sink {name!r}: {conflict}")
        return self
