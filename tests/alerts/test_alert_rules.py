"""The alert state machine: hold, escalate, repeat, resolve, event rules (time passed in)."""

from __future__ import annotations

from alert_helpers import alerts_config, health

from threadwatch.alerts.model import Status, Transition
from threadwatch.alerts.rules import AlertRules
from threadwatch.events import Event, Kind
from threadwatch.health.levels import Level
from threadwatch.parse.grammar import Grammar
from threadwatch.parse.patterns import PATTERNS
from threadwatch.parse.scanner import Scanner

T0 = 1_800_000_000.0


def _bad_at(rules: AlertRules, level: Level, at: float, scope: str = "total") -> list[object]:
    return list(rules.observe_level(scope, level, health(scope, level), at))


def test_level_alert_fires_only_after_the_hold_time() -> None:
    rules = AlertRules(alerts_config(hold_seconds=120))
    _bad_at(rules, Level.YELLOW, T0)
    assert rules.due(T0 + 119) == []
    [alert] = rules.due(T0 + 120)
    assert (alert.status, alert.transition, alert.level) == (Status.FIRING, Transition.FIRING,
                                                             "yellow")
    assert alert.key == "level:total"
    assert alert.starts_at == T0
    assert alert.reasons[0].metric == "overload"


def test_a_flap_shorter_than_the_hold_time_sends_nothing() -> None:
    rules = AlertRules(alerts_config(hold_seconds=120))
    _bad_at(rules, Level.RED, T0)
    assert rules.observe_level("total", Level.GREEN, health("total", Level.GREEN), T0 + 60) == []
    assert rules.due(T0 + 500) == []


def test_yellow_to_red_while_firing_escalates_at_once() -> None:
    rules = AlertRules(alerts_config(hold_seconds=120))
    _bad_at(rules, Level.YELLOW, T0)
    rules.due(T0 + 120)
    [alert] = rules.observe_level("total", Level.RED, health("total", Level.RED), T0 + 130)
    assert (alert.transition, alert.level, alert.previous_level) == (
        Transition.ESCALATED, "red", "yellow")


def test_flapping_between_red_and_yellow_escalates_only_once() -> None:
    rules = AlertRules(alerts_config(hold_seconds=0))
    _bad_at(rules, Level.YELLOW, T0)
    rules.due(T0)
    assert len(_bad_at(rules, Level.RED, T0 + 1)) == 1
    assert _bad_at(rules, Level.YELLOW, T0 + 2) == []
    assert _bad_at(rules, Level.RED, T0 + 3) == []


def test_an_active_alert_repeats_every_repeat_interval() -> None:
    rules = AlertRules(alerts_config(hold_seconds=0, repeat_seconds=600))
    _bad_at(rules, Level.RED, T0)
    rules.due(T0)
    assert rules.due(T0 + 599) == []
    [alert] = rules.due(T0 + 600)
    assert alert.transition is Transition.REPEAT
    assert rules.due(T0 + 1199) == []
    assert len(rules.due(T0 + 1200)) == 1


def test_green_again_sends_resolved_with_the_end_time() -> None:
    rules = AlertRules(alerts_config(hold_seconds=0))
    _bad_at(rules, Level.RED, T0)
    rules.due(T0)
    [alert] = rules.observe_level("total", Level.GREEN, health("total", Level.GREEN), T0 + 300)
    assert (alert.status, alert.level, alert.ends_at) == (Status.RESOLVED, "red", T0 + 300)
    assert rules.due(T0 + 10_000) == []


def test_unknown_after_the_run_stopped_resolves() -> None:
    rules = AlertRules(alerts_config(hold_seconds=0))
    _bad_at(rules, Level.RED, T0)
    rules.due(T0)
    [alert] = rules.observe_level("total", Level.UNKNOWN, health("total", Level.UNKNOWN), T0 + 9)
    assert alert.status is Status.RESOLVED


def test_min_level_red_ignores_yellow() -> None:
    rules = AlertRules(alerts_config(hold_seconds=0, min_level="red"))
    _bad_at(rules, Level.YELLOW, T0)
    assert rules.due(T0 + 1000) == []


def test_event_rule_fires_at_once_with_the_offending_lines() -> None:
    rules = AlertRules(alerts_config(hold_seconds=120))
    text = "Exception ignored in thread started by: ...\nKeyError: 140220759033536"
    rules.observe_events([Event(Kind.THREAD_CLEANUP_KEYERROR, "a.err", 0, text=text)], T0)
    [alert] = rules.due(T0)
    assert alert.key == "event:thread-cleanup-keyerror:a.err"
    assert (alert.level, alert.samples, alert.occurrences) == ("yellow", (text,), 1)


def test_later_matching_events_fold_into_the_same_alert() -> None:
    rules = AlertRules(alerts_config())
    memory = Event(Kind.MEMORY_ERROR, "a.log", 0, text="CRITICAL: MemoryError in CPU ...")
    rules.observe_events([memory], T0)
    rules.due(T0)
    rules.observe_events([memory, memory], T0 + 5)
    assert rules.due(T0 + 6) == []


def test_event_alert_resolves_after_the_quiet_time() -> None:
    rules = AlertRules(alerts_config(event_quiet_seconds=600))
    rules.observe_events([Event(Kind.MEMORY_ERROR, "a.log", 0, text="x")], T0)
    rules.due(T0)
    assert rules.due(T0 + 599) == []
    [alert] = rules.due(T0 + 600)
    assert (alert.status, alert.level) == (Status.RESOLVED, "red")


def test_level_alert_carries_recent_notable_lines_of_its_source() -> None:
    rules = AlertRules(alerts_config(hold_seconds=0, max_samples=2))
    lines = [f"run_batt.py:1: -- System overloaded ({n} threads), using sequential processing"
             for n in (41, 42, 43)]
    rules.observe_events([Event(Kind.BATCH, "a.log", 0, text="-- 0a1b2c3d - 0 --")], T0)
    rules.observe_events([Event(Kind.OVERLOAD, "a.log", i, text=t) for i, t in enumerate(lines)],
                         T0)
    _bad_at(rules, Level.RED, T0, scope="a.log")
    [alert] = rules.due(T0)
    assert alert.samples == tuple(lines[1:])


def test_lines_the_message_table_calls_routine_are_never_samples() -> None:
    scanner = Scanner("a.log", Grammar())
    examples = "".join(pattern.example + "\n" for pattern in PATTERNS)
    events = scanner.feed(examples.encode()) + scanner.close()
    rules = AlertRules(alerts_config(hold_seconds=0, max_samples=50, events=()))
    rules.observe_events(events, T0)
    _bad_at(rules, Level.RED, T0, scope="a.log")
    [alert] = rules.due(T0)
    assert set(alert.samples) == {p.example for p in PATTERNS if not p.routine}
    assert len(alert.samples) < len(PATTERNS)  # some are routine: the test means something


def test_a_level_alert_restored_after_a_restart_resolves_as_healthy_again() -> None:
    """A level alert's summary is made from its reasons each time it is sent: the one saved
    must not stick to the restored episode (its resolve read "... (no new one for 600 s)",
    the wording of an event alert)."""
    rules = AlertRules(alerts_config(hold_seconds=0))
    _bad_at(rules, Level.RED, T0)
    [fired] = rules.due(T0)
    restarted = AlertRules(alerts_config(hold_seconds=0))
    restarted.restore(fired, T0, T0 + 60)
    [alert] = restarted.observe_level("total", Level.GREEN, health("total", Level.GREEN),
                                      T0 + 120)
    assert alert.status is Status.RESOLVED
    assert alert.summary == "total is healthy again"
