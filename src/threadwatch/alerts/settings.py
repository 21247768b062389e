"""Alert configuration models (the ``[alerts]`` table of the config file).

Sink URLs and secrets are written as ``${VARIABLE}`` references and expanded from the
environment only when the sinks are built (``threadwatch.alerts.sinks.build_sinks``), so a
config file can be shared and printed without leaking them. Each sink type's keys are its own
module's (``alerts/sinks/registry.py``); a table's ``type`` picks them.

Numbers are finite and within the ranges documented in ``default_config.toml``; a ``secret``,
when given, is not empty.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, PlainValidator, SerializeAsAny, model_validator

from threadwatch.alerts.model import LEVEL_RULE
from threadwatch.alerts.sinks.registry import SinkSettings, validate_sink
from threadwatch.events import Kind
from threadwatch.health.levels import Level
from threadwatch.health.metrics import COUNT_KEYS, RATE_KEYS
from threadwatch.health.settings import RaisedLevel
from threadwatch.settings import DAY, HOUR, WEEK, YEAR, Settings

# An [alerts.sinks.NAME] table: the settings of the sink type its ``type`` names (dumped with
# all of that type's keys, not only the ones every sink has).
SinkConfig = Annotated[SerializeAsAny[SinkSettings], PlainValidator(validate_sink)]


class EventRuleConfig(Settings):
    """``[[alerts.events]]``: alert at once when an event of these kinds is seen in a source."""

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    kinds: tuple[Kind, ...] = Field(min_length=1)
    level: RaisedLevel = Level.RED
    summary: str = ""


METRICS = frozenset((*COUNT_KEYS, *RATE_KEYS))


class InhibitRuleConfig(Settings):
    """``[[alerts.inhibit]]``: while an alert of a ``sources`` rule fires, alerts of the
    ``targets`` rules in the same run (``equal``) are not sent; a level target only while every
    reason it has is one of ``metrics`` (empty: whatever its reasons)."""

    sources: tuple[str, ...] = Field(min_length=1)
    targets: tuple[str, ...] = Field((LEVEL_RULE,), min_length=1)
    metrics: tuple[str, ...] = ()
    # "run": the files of one run (NAME.log, NAME.err); "source": the same file; "any": any.
    equal: Literal["run", "source", "any"] = "run"


class DeliveryConfig(Settings):
    """``[alerts.delivery]``: retries of the outbox sender, and how long the outbox keeps
    what is done with."""

    backoff_initial_seconds: float = Field(5.0, ge=0.01, le=HOUR)
    backoff_max_seconds: float = Field(300.0, ge=0.01, le=DAY)
    # Longest ``Retry-After`` honoured; a longer one is cut to this.
    retry_after_max_seconds: float = Field(3600.0, gt=0, le=DAY)
    # A notification still undelivered after this long is marked failed (kept, shown).
    max_age_seconds: float = Field(86400.0, gt=0, le=30 * DAY)
    # Retention: delivered (and dropped) deliveries, then failed ones, are deleted from the
    # state file this long after they were done with; pending ones never are.
    keep_delivered_seconds: float = Field(7 * DAY, ge=60, le=YEAR)
    keep_failed_seconds: float = Field(30 * DAY, ge=60, le=YEAR)


def _default_event_rules() -> tuple[EventRuleConfig, ...]:
    return (
        EventRuleConfig(name="thread-cleanup-keyerror", kinds=(Kind.THREAD_CLEANUP_KEYERROR,),
                        level=Level.YELLOW, summary="thread-cleanup KeyError"),
        EventRuleConfig(name="memory-error", kinds=(Kind.MEMORY_ERROR,), level=Level.RED,
                        summary="memory error"),
    )


# A memory error fails the samples of its batch (or times them out under memory pressure),
# breaks the process pool (the batch goes on in threads or sequentially) and ends run_batt
# mid-task (cut off, stalled): a level alert that only says so is the same page.
_MEMORY_ERROR_METRICS = ("memory_errors", "sample_failures", "sample_timeouts", "cut_off_runs",
                         "stalled", "sequential", "process_pool_used")


def _default_inhibit_rules() -> tuple[InhibitRuleConfig, ...]:
    return (
        InhibitRuleConfig(sources=("memory-error",), metrics=_MEMORY_ERROR_METRICS),
        InhibitRuleConfig(sources=("thread-cleanup-keyerror",), metrics=("thread_keyerror",)),
    )


class AlertsConfig(Settings):
    """``[alerts]``: hold, repeat and grouping times, event rules, sinks and delivery."""

    hold_seconds: float = Field(120.0, ge=0, le=DAY)
    repeat_seconds: float = Field(3600.0, ge=1, le=WEEK)
    group_wait_seconds: float = Field(10.0, ge=0, le=HOUR)
    # An event alert resolves after this long without a new matching event.
    event_quiet_seconds: float = Field(1200.0, gt=0, le=WEEK)
    # Levels that fire: "yellow" (yellow and red) or "red" (red only).
    min_level: RaisedLevel = Level.YELLOW
    max_samples: int = Field(5, ge=0, le=50)
    # Host label of every alert; empty means this machine's host name.
    host: str = ""
    events: tuple[EventRuleConfig, ...] = Field(default_factory=_default_event_rules)
    inhibit: tuple[InhibitRuleConfig, ...] = Field(default_factory=_default_inhibit_rules)
    # total's level alert is not sent while only one run has an alert: it would say the same.
    inhibit_total: bool = True
    sinks: dict[str, SinkConfig] = Field(default_factory=dict)
    delivery: DeliveryConfig = DeliveryConfig()

    @model_validator(mode="after")
    def _check(self) -> AlertsConfig:
        names = [rule.name for rule in self.events]
        if len(names) != len(set(names)):
            raise ValueError("event rule names must be unique")
        rules = (LEVEL_RULE, *names)
        # The default entries (also what the bundled file states) name the default event
        # rules: those of the event rules a config keeps stay.
        if self.inhibit == _default_inhibit_rules():
            kept = tuple(rule for rule in self.inhibit if set(rule.sources) <= set(rules))
            object.__setattr__(self, "inhibit", kept)  # frozen: set once, while validating
        for number, inhibit in enumerate(self.inhibit, 1):
            for field in ("sources", "targets"):
                _known(f"inhibit rule {number}: {field}", getattr(inhibit, field), rules)
            unknown = [metric for metric in inhibit.metrics if metric not in METRICS]
            if unknown:
                raise ValueError(f"inhibit rule {number}: metrics: unknown {unknown[0]!r}"
                                 " (a count or rate name, as [[rules]] use them)")
        for name, sink in self.sinks.items():
            if not name or not name.replace("-", "").replace("_", "").isalnum():
                raise ValueError(f"sink name {name!r}: use letters, digits, '-' and '_'")
            _known(f"sink {name!r}: rules", sink.rules, rules)
            conflict = sink.conflict(repeat_seconds=self.repeat_seconds)
            if conflict is not None:
                raise ValueError(f"sink {name!r}: {conflict}")
        return self


def _known(where: str, given: tuple[str, ...], rules: tuple[str, ...]) -> None:
    unknown = [name for name in given if name not in rules]
    if unknown:
        raise ValueError(f"{where}: unknown rule {unknown[0]!r} (known: {', '.join(rules)})")
