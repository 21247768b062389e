"""The alert state machine: scope levels and events in, alerts out (time is always passed in).

Level alerts (key ``level:<scope>``), one episode per scope:

    green/unknown ──bad──▶ pending ──held hold_seconds──▶ firing ──green──▶ resolved
                             │                              │ ▲
                             └──green before hold: dropped  │ └ repeat every repeat_seconds
                                (a flap, never sent)        └ yellow→red: escalated, at once

"Bad" is yellow or red (or red only, with ``min_level = "red"``). The alert's level is that of
the worst reason that has held: a reason of a rule with a ``hold_seconds`` of its own once the
rule has given it without a break for that long, any other once the scope has been bad for
``[alerts] hold_seconds`` (so, without holds of their own, a yellow→red step while firing
escalates at once). A red→yellow step while firing sends nothing (the next repeat shows it),
and a later yellow→red step in the same episode does not escalate again: flapping between
levels must not flood. Unknown (no batches left in the window) counts as not bad, so an
episode whose run has stopped resolves.

Event alerts (key ``event:<rule>:<source>``) fire at once on a matching event, fold later
matches into the same episode (counted, newest lines kept as samples), repeat like level
alerts, and resolve after ``event_quiet_seconds`` without a new match.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from threadwatch.alerts.model import LEVEL_RULE, Alert, AlertReason, Status, Transition
from threadwatch.alerts.settings import AlertsConfig, EventRuleConfig
from threadwatch.events import Event, Kind
from threadwatch.health.levels import Level
from threadwatch.health.rules import Reason
from threadwatch.health.scope import TOTAL
from threadwatch.health.window import ScopeHealth
from threadwatch.parse.patterns import ROUTINE_KINDS

_SAMPLE_CHARS = 4000  # one sample (a traceback block) is cut here; sinks cut further


@dataclass
class _Episode:
    key: str
    rule: str
    scope: str
    summary: str
    level: Level
    since: float
    hold: float
    firing: bool = False
    notified_level: Level = Level.GREEN
    last_sent_at: float = 0.0
    last_event_at: float = 0.0
    occurrences: int = 0
    reasons: tuple[AlertReason, ...] = ()
    samples: deque[str] = field(default_factory=deque)
    # a level episode: the verdict's reasons last observed, and since when each rule with a
    # hold of its own has given its reason without a break
    current: tuple[Reason, ...] = ()
    held_since: dict[str, float] = field(default_factory=dict)


def _label(level: Level) -> str:
    return level.label


def watched_kinds(config: AlertsConfig) -> frozenset[Kind]:
    """The event kinds the ``[[alerts.events]]`` rules of ``config`` watch."""
    return frozenset(kind for rule in config.events for kind in rule.kinds)


class AlertRules:
    """Turns observed scope levels and events into alerts.

    Args:
        config: the ``[alerts]`` settings (hold, repeat, event rules, ...).
    """

    def __init__(self, config: AlertsConfig) -> None:
        self._config = config
        self._min = config.min_level
        self._episodes: dict[str, _Episode] = {}
        self._by_kind: dict[Kind, list[EventRuleConfig]] = {}
        for rule in config.events:
            for kind in rule.kinds:
                self._by_kind.setdefault(kind, []).append(rule)
        self.kinds = watched_kinds(config)
        self._recent: dict[str, deque[str]] = {}
        self._recent_total: deque[str] = deque(maxlen=config.max_samples)

    # -- input ----------------------------------------------------------------------------

    def observe_events(self, events: Iterable[Event], at: float) -> None:
        """Remember sample lines and open or extend event-rule episodes."""
        for event in events:
            if event.kind not in ROUTINE_KINDS and event.text:  # a routine line is no sample
                text = event.text[:_SAMPLE_CHARS]
                recent = self._recent.get(event.source)
                if recent is None:
                    recent = self._recent[event.source] = deque(maxlen=self._config.max_samples)
                recent.append(text)
                self._recent_total.append(text)
            for rule in self._by_kind.get(event.kind, ()):
                self._match(rule, event, at)

    def observe_level(self, scope: str, level: Level, health: ScopeHealth | None,
                      at: float) -> list[Alert]:
        """A scope's current level at ``at``; returns an escalation or resolution, if any."""
        key = f"{LEVEL_RULE}:{scope}"
        episode = self._episodes.get(key)
        if level in (Level.YELLOW, Level.RED) and level >= self._min:
            if episode is None:
                episode = self._episodes[key] = _Episode(key, LEVEL_RULE, scope, "", level, at,
                                                         self._config.hold_seconds)
            _observe_reasons(episode, level, () if health is None else health.verdict.reasons,
                             at)
            if not episode.firing:
                return []
            return self._escalation(episode, at)
        if episode is None:
            return []
        del self._episodes[key]
        if episode.firing:
            return [self._alert(episode, Transition.RESOLVED, ends_at=at)]
        return []

    def level_scopes(self) -> list[str]:
        """Scopes with an open level episode (pending or firing)."""
        return [e.scope for e in self._episodes.values() if e.rule == LEVEL_RULE]

    def open_alerts(self) -> list[tuple[Alert, bool]]:
        """Every open episode as an alert of its current state (no samples), and whether it
        fires (else it is pending): what inhibition is judged on. Nothing changes."""
        return [(Alert(key=e.key, rule=e.rule, status=Status.FIRING, transition=Transition.REPEAT,
                       level=_label(e.level), scope=e.scope, summary=e.summary,
                       starts_at=e.since, reasons=e.reasons, occurrences=e.occurrences),
                 e.firing) for e in self._episodes.values()]

    def send_now(self, key: str, transition: Transition, at: float,
                 previous: Level | None = None) -> Alert | None:
        """The firing episode ``key`` as sent at ``at`` (its inhibition ended), or None if it
        is not firing; ``previous``: the level it was last sent at (an escalation)."""
        episode = self._episodes.get(key)
        if episode is None or not episode.firing:
            return None
        episode.notified_level = episode.level
        episode.last_sent_at = at
        return self._alert(episode, transition, previous=previous)

    def restore(self, alert: Alert, sent_at: float, now: float) -> None:
        """Re-open a firing episode saved before a restart, so it repeats and resolves
        instead of firing a second time."""
        level = Level.RED if alert.level == "red" else Level.YELLOW
        is_level = alert.rule == LEVEL_RULE
        hold = self._config.hold_seconds if is_level else 0.0
        # a level alert's summary is made from its reasons each time it is sent (an episode's
        # own summary is an event rule's)
        summary = "" if is_level else alert.summary
        episode = _Episode(alert.key, alert.rule, alert.scope, summary, level,
                           alert.starts_at, hold, firing=True, notified_level=level,
                           last_sent_at=sent_at, last_event_at=now,
                           occurrences=alert.occurrences, reasons=alert.reasons,
                           samples=deque(alert.samples, maxlen=self._config.max_samples))
        self._episodes[alert.key] = episode

    def current(self, key: str, now: float, told_level: str | None = None) -> Alert | None:
        """The firing alert of ``key`` as it is at ``now``, to send once more after a silence
        held it back: *firing* if the receivers never heard of it, else a *repeat* (with the
        level they last heard, ``told_level``, if it differs). Its repeats count from now.
        None if its episode is over or not firing."""
        episode = self._episodes.get(key)
        if episode is None or not episode.firing:
            return None
        episode.last_sent_at = now
        episode.notified_level = episode.level
        if told_level is None:
            return self._alert(episode, Transition.FIRING)
        told = Level.RED if told_level == "red" else Level.YELLOW
        return self._alert(episode, Transition.REPEAT,
                           previous=told if told != episode.level else None)

    # -- time -----------------------------------------------------------------------------

    def due(self, now: float) -> list[Alert]:
        """Alerts whose time has come at ``now``: held long enough, repeats, quiet events."""
        alerts = []
        for key, episode in list(self._episodes.items()):
            if not episode.firing:
                if self._due_to_fire(episode, now):
                    episode.firing = True
                    episode.notified_level = episode.level
                    episode.last_sent_at = now
                    alerts.append(self._alert(episode, Transition.FIRING))
            elif episode.rule == LEVEL_RULE and (escalated := self._escalation(episode, now)):
                alerts += escalated
            elif (episode.rule != LEVEL_RULE
                  and now - episode.last_event_at >= self._config.event_quiet_seconds):
                del self._episodes[key]
                alerts.append(self._alert(episode, Transition.RESOLVED, ends_at=now))
            elif now - episode.last_sent_at >= self._config.repeat_seconds:
                # After a red→yellow step the repeat carries the old level too, so that
                # receivers keyed on severity (Alertmanager) can end the red one.
                previous = episode.notified_level
                episode.last_sent_at = now
                episode.notified_level = episode.level
                alerts.append(self._alert(
                    episode, Transition.REPEAT,
                    previous=previous if previous != episode.level else None))
        return alerts

    # -- helpers --------------------------------------------------------------------------

    def _held(self, episode: _Episode, now: float) -> bool:
        """Set a level episode's level and reasons to the reasons that have held their hold
        at ``now``; False (nothing changed) when none has, or none of ``min_level``."""
        if not episode.current:  # no reasons known: the scope's level, held as a whole
            return now - episode.since >= episode.hold
        held = [reason for reason in episode.current if (
            now - episode.held_since[reason.rule] >= reason.hold_seconds
            if reason.hold_seconds is not None else now - episode.since >= episode.hold)]
        if not held or max(reason.level for reason in held) < self._min:
            return False
        episode.level = max(reason.level for reason in held)
        episode.reasons = tuple(AlertReason.from_reason(reason) for reason in held)
        return True

    def _due_to_fire(self, episode: _Episode, now: float) -> bool:
        if episode.rule != LEVEL_RULE:
            return now - episode.since >= episode.hold
        return self._held(episode, now)

    def _escalation(self, episode: _Episode, at: float) -> list[Alert]:
        self._held(episode, at)
        if episode.level <= episode.notified_level:
            return []
        previous = episode.notified_level
        episode.notified_level = episode.level
        episode.last_sent_at = at
        return [self._alert(episode, Transition.ESCALATED, previous=previous)]

    def _match(self, rule: EventRuleConfig, event: Event, at: float) -> None:
        key = f"event:{rule.name}:{event.source}"
        episode = self._episodes.get(key)
        if episode is None:
            level = rule.level
            summary = f"{rule.summary or rule.name} in {event.source}"
            episode = self._episodes[key] = _Episode(
                key, rule.name, event.source, summary, level, at, 0.0,
                samples=deque(maxlen=self._config.max_samples))
        episode.occurrences += 1
        episode.last_event_at = at
        if event.text:
            episode.samples.append(event.text[:_SAMPLE_CHARS])
        kinds = ", ".join(kind.value for kind in rule.kinds)
        episode.reasons = (AlertReason(
            rule.name, "event", episode.occurrences, ">=", 1, rule.summary or rule.name,
            f"{episode.occurrences} x {kinds}", rule.name),)

    def _samples(self, episode: _Episode) -> tuple[str, ...]:
        if episode.rule != LEVEL_RULE:
            return tuple(episode.samples)
        recent = self._recent_total if episode.scope == TOTAL else self._recent.get(
            episode.scope, ())
        return tuple(recent) or tuple(episode.samples)

    def _alert(self, episode: _Episode, transition: Transition, *, previous: Level | None = None,
               ends_at: float | None = None) -> Alert:
        resolved = transition is Transition.RESOLVED
        level = episode.notified_level if resolved else episode.level
        summary = episode.summary or _level_summary(episode.scope, level, episode.reasons)
        if resolved:
            summary = (f"{episode.summary} (no new one for "
                       f"{self._config.event_quiet_seconds:g} s)") if episode.summary else (
                f"{episode.scope} is healthy again")
        samples = self._samples(episode)
        episode.samples = deque(samples, maxlen=self._config.max_samples)
        return Alert(
            key=episode.key, rule=episode.rule,
            status=Status.RESOLVED if resolved else Status.FIRING,
            transition=transition, level=_label(level), scope=episode.scope, summary=summary,
            starts_at=episode.since, reasons=() if resolved else episode.reasons,
            samples=() if resolved else samples,
            previous_level=None if previous is None else _label(previous),
            ends_at=ends_at, occurrences=episode.occurrences,
        )


def _observe_reasons(episode: _Episode, level: Level, reasons: Sequence[Reason],
                     at: float) -> None:
    """A level episode's scope is at ``level`` for ``reasons`` at ``at``: a rule with a hold
    of its own holds from when it was first seen in an unbroken row of observations."""
    if not reasons:  # no reasons known: the scope's level stands for them
        episode.current = ()
        episode.level = level
        return
    episode.current = tuple(reasons)
    own = {reason.rule for reason in reasons if reason.hold_seconds is not None}
    for rule in list(episode.held_since):
        if rule not in own:
            del episode.held_since[rule]
    for rule in own:
        episode.held_since.setdefault(rule, at)


def _level_summary(scope: str, level: Level, reasons: Sequence[AlertReason]) -> str:
    # The level itself leads every sink's headline, so the summary names what is wrong.
    return f"{scope}: {reasons[0].text}" if reasons else f"{scope} is {level.label}"
