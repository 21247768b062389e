"""Inhibition with an injected clock: the dispatcher, a memory sink, a real state file.

A run's files are ``run.log`` (the program) and ``run.err`` (its stderr); ``other.log`` is
another run. The memory-error event alert inhibits the level alerts of its run whose reasons
are all among its metrics, and total is inhibited while one run alone has alerts.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
from alert_helpers import OVERLOAD_RED, alerts_config

from threadwatch.alerts.dispatcher import AlertDispatcher
from threadwatch.alerts.inhibit import inhibitions
from threadwatch.alerts.log import format_alert_log, read_alert_log
from threadwatch.alerts.model import Alert, Status, Transition
from threadwatch.alerts.outbox import Outbox
from threadwatch.alerts.settings import AlertsConfig
from threadwatch.alerts.testing import FakeClock, MemorySink
from threadwatch.events import Event, Kind
from threadwatch.health.levels import Level
from threadwatch.health.rules import Reason, Verdict
from threadwatch.health.window import LevelChange, ScopeHealth

LOG, ERR, OTHER = "/logs/run.log", "/logs/run.err", "/logs/other.log"
FAILURES = Reason(Level.RED, "sample_failures", True, 1.0, ">", 0.5, "most samples failed")
NO_POOL = Reason(Level.YELLOW, "process_pool_used", True, 0.0, "<=", 0.7, "process pool")
MEMORY_LINE = "run_batt.py:292: CRITICAL: MemoryError during future collection."


def _health(scope: str, level: Level, *reasons: Reason) -> ScopeHealth:
    return ScopeHealth(scope, {}, {}, Verdict(level, reasons))


class Run:
    """A dispatcher over ``state`` with one memory sink, driven with an injected clock."""

    def __init__(self, state: Path, clock: FakeClock, **config: Any) -> None:
        self.clock = clock
        self.sink = MemorySink()
        settings = {"hold_seconds": 120, "group_wait_seconds": 10, **config}
        self.dispatcher = AlertDispatcher(alerts_config(**settings), Outbox(state),
                                          {"mem": self.sink}, clock, background=False,
                                          rng=random.Random(1))
        self.levels: dict[str, ScopeHealth] = {}

    def level(self, scope: str, level: Level, *reasons: Reason) -> None:
        """``scope`` is at ``level`` from now on (every scope's health is reported)."""
        before = self.levels.get(scope)
        self.levels[scope] = _health(scope, level, *reasons)
        previous = before.verdict.level if before else Level.UNKNOWN
        change = LevelChange(scope, previous, level, self.levels[scope], self.clock.now)
        self.dispatcher.on_changes([change], list(self.levels.values()))

    def memory_error(self, source: str = LOG) -> None:
        event = Event(Kind.MEMORY_ERROR, source, 0, text=MEMORY_LINE)
        self.dispatcher.on_events([event], self.clock.now)

    def run_for(self, seconds: float, step: float = 5.0) -> None:
        """Tick every ``step`` seconds for ``seconds``."""
        for _ in range(int(seconds / step)):
            self.dispatcher.tick(self.clock.advance(step))

    def sent(self) -> list[tuple[str, str]]:
        """(key, transition) of every alert sent so far, in order."""
        return [(a.key, a.transition.value) for n in self.sink.sent for a in n.alerts]

    def close(self) -> None:
        self.dispatcher.close()


def _memory_error_run(run: Run) -> None:
    """A memory error in run.log: its samples fail, run.err's batches leave the process pool
    (the guard falls back to threads), total is red."""
    run.level(LOG, Level.RED, FAILURES, NO_POOL)
    run.level(ERR, Level.YELLOW, NO_POOL)
    run.level("total", Level.RED, FAILURES, NO_POOL)
    run.memory_error()


def test_a_memory_error_sends_one_notification_not_four(tmp_path: Path,
                                                        clock: FakeClock) -> None:
    run = Run(tmp_path / "s.db", clock)
    _memory_error_run(run)
    run.run_for(1100)  # past the hold, short of the event alert's end (event_quiet_seconds)
    assert len(run.sink.sent) == 1
    assert run.sent() == [(f"event:memory-error:{LOG}", "firing")]
    held = {entry.alert.key: entry.by for entry in run.dispatcher.inhibited()}
    assert held == {f"level:{LOG}": f"event:memory-error:{LOG}",
                    f"level:{ERR}": f"event:memory-error:{LOG}",
                    "level:total": f"event:memory-error:{LOG}"}
    run.close()


def test_without_inhibition_the_same_run_sends_all_four(tmp_path: Path,
                                                        clock: FakeClock) -> None:
    """The baseline: the four alerts the issue counted."""
    run = Run(tmp_path / "s.db", clock, inhibit=[], inhibit_total=False)
    _memory_error_run(run)
    run.run_for(300)
    assert sorted(run.sent()) == sorted([
        (f"event:memory-error:{LOG}", "firing"), (f"level:{LOG}", "firing"),
        (f"level:{ERR}", "firing"), ("level:total", "firing")])
    run.close()


def test_when_the_source_resolves_a_still_bad_target_is_sent_and_later_resolved(
        tmp_path: Path, clock: FakeClock) -> None:
    run = Run(tmp_path / "s.db", clock, event_quiet_seconds=600)
    _memory_error_run(run)
    run.level(ERR, Level.GREEN)  # never sent: its end is not sent either
    run.run_for(620)  # the event alert resolves: run.log is still red, so it pages now
    assert run.sent() == [(f"event:memory-error:{LOG}", "firing"),
                          (f"event:memory-error:{LOG}", "resolved"),
                          (f"level:{LOG}", "firing")]
    # total stays inhibited: only run.log's run has an alert
    assert [e.alert.key for e in run.dispatcher.inhibited()] == ["level:total"]
    run.level(LOG, Level.GREEN)
    run.level("total", Level.GREEN)
    run.run_for(20)
    assert run.sent()[3:] == [(f"level:{LOG}", "resolved")]
    assert run.dispatcher.inhibited() == []
    run.close()


def test_by_default_the_event_alert_outlives_the_window_its_lines_count_in(
        tmp_path: Path, clock: FakeClock) -> None:
    """event_quiet_seconds (1200) > window_seconds (900): the run's batches leave the window
    (its levels turn unknown) before the event alert resolves, so nothing else pages."""
    run = Run(tmp_path / "s.db", clock, event_quiet_seconds=AlertsConfig().event_quiet_seconds)
    _memory_error_run(run)
    run.run_for(910)
    for scope in (LOG, ERR, "total"):
        run.level(scope, Level.UNKNOWN)
    run.run_for(600)
    assert run.sent() == [(f"event:memory-error:{LOG}", "firing"),
                          (f"event:memory-error:{LOG}", "resolved")]
    run.close()


def test_a_level_alert_with_a_reason_of_its_own_is_not_inhibited(
        tmp_path: Path, clock: FakeClock) -> None:
    run = Run(tmp_path / "s.db", clock)
    run.level(LOG, Level.RED, FAILURES, OVERLOAD_RED)  # overload: not the memory error's doing
    run.memory_error()
    run.run_for(300)
    assert (f"level:{LOG}", "firing") in run.sent()
    run.close()


def test_another_runs_level_alert_is_not_inhibited(tmp_path: Path, clock: FakeClock) -> None:
    run = Run(tmp_path / "s.db", clock)
    run.level(OTHER, Level.RED, FAILURES)
    run.memory_error(LOG)
    run.run_for(300)
    assert sorted(run.sent()) == [(f"event:memory-error:{LOG}", "firing"),
                                  (f"level:{OTHER}", "firing")]
    run.close()


def test_total_is_inhibited_while_one_source_is_bad_not_when_two_are(
        tmp_path: Path, clock: FakeClock) -> None:
    run = Run(tmp_path / "s.db", clock)
    run.level(LOG, Level.RED, OVERLOAD_RED)
    run.level("total", Level.RED, OVERLOAD_RED)
    run.run_for(300)
    assert run.sent() == [(f"level:{LOG}", "firing")]
    assert {e.alert.key: e.by for e in run.dispatcher.inhibited()} == {
        "level:total": f"level:{LOG}"}
    run.level(OTHER, Level.RED, OVERLOAD_RED)  # a second run: total says more than either
    run.run_for(20)
    assert run.sent()[1:] == [("level:total", "firing")]  # released at once
    run.run_for(120)
    assert run.sent()[2:] == [(f"level:{OTHER}", "firing")]  # after its hold
    run.close()


def test_total_is_not_inhibited_when_no_source_is_bad(tmp_path: Path, clock: FakeClock) -> None:
    """Several sources each under a threshold can add up to a bad total: it is all there is."""
    run = Run(tmp_path / "s.db", clock)
    run.level(LOG, Level.GREEN)
    run.level(OTHER, Level.GREEN)
    run.level("total", Level.YELLOW, NO_POOL)
    run.run_for(300)
    assert run.sent() == [("level:total", "firing")]
    run.close()


def test_a_target_sent_before_its_source_fired_is_silent_then_but_its_end_is_sent(
        tmp_path: Path, clock: FakeClock) -> None:
    run = Run(tmp_path / "s.db", clock, repeat_seconds=600, event_quiet_seconds=3000)
    run.level(LOG, Level.YELLOW, NO_POOL)
    run.run_for(200)
    assert run.sent() == [(f"level:{LOG}", "firing")]
    run.memory_error()
    run.level(LOG, Level.RED, FAILURES, NO_POOL)  # escalation while inhibited: not sent
    run.run_for(1815)  # repeats while inhibited: not sent
    assert run.sent()[1:] == [(f"event:memory-error:{LOG}", "firing"),
                              (f"event:memory-error:{LOG}", "repeat"),
                              (f"event:memory-error:{LOG}", "repeat"),
                              (f"event:memory-error:{LOG}", "repeat")]
    run.level(LOG, Level.GREEN)
    run.run_for(20)
    assert run.sent()[-1] == (f"level:{LOG}", "resolved")  # the receiver was told: it ends
    run.close()


def test_a_target_that_rose_while_inhibited_is_sent_escalated_when_released(
        tmp_path: Path, clock: FakeClock) -> None:
    run = Run(tmp_path / "s.db", clock, event_quiet_seconds=600)
    run.level(LOG, Level.YELLOW, NO_POOL)
    run.run_for(200)
    run.memory_error()
    run.level(LOG, Level.RED, FAILURES, NO_POOL)
    run.run_for(620)
    # not when it rose (its source fired), but when the source resolved
    assert run.sent()[-2:] == [(f"event:memory-error:{LOG}", "resolved"),
                               (f"level:{LOG}", "escalated")]
    [alert] = [a for n in run.sink.sent for a in n.alerts if a.key == f"level:{LOG}"
               and a.transition is Transition.ESCALATED]
    assert (alert.level, alert.previous_level) == ("red", "yellow")
    run.close()


def test_a_target_waiting_in_the_group_is_taken_back_when_its_source_fires(
        tmp_path: Path, clock: FakeClock) -> None:
    """hold 0: the level fires before the memory error's line is read; it has not left the
    group yet, so it is not sent."""
    run = Run(tmp_path / "s.db", clock, hold_seconds=0)
    run.level(LOG, Level.RED, FAILURES)
    run.dispatcher.tick(clock.advance(1))
    run.memory_error()
    run.run_for(60)
    assert run.sent() == [(f"event:memory-error:{LOG}", "firing")]
    run.close()


def test_an_inhibited_alert_is_not_sent_after_a_restart_and_alerts_shows_it(
        tmp_path: Path, clock: FakeClock) -> None:
    state = tmp_path / "s.db"
    first = Run(state, clock)
    _memory_error_run(first)
    first.run_for(300)
    first.close()
    assert len(first.sink.sent) == 1

    log = read_alert_log(state)
    shown = {entry.alert.key: entry.by for entry in log.inhibited}
    assert shown[f"level:{LOG}"] == f"event:memory-error:{LOG}"
    assert f"  red    level:{LOG} by event:memory-error:{LOG} since " in "\n".join(
        format_alert_log(log))
    assert log.as_json()["inhibited"][0]["inhibited_by"] == f"event:memory-error:{LOG}"

    second = Run(state, clock)
    for scope, health in first.levels.items():  # the restored window: still bad
        second.levels[scope] = health
    second.dispatcher.on_changes([], list(second.levels.values()))
    second.run_for(1100)  # a restored event alert lives event_quiet_seconds from the restart
    assert second.sent() == []
    assert len(second.dispatcher.inhibited()) == 3
    second.close()


def test_an_alert_inhibited_before_a_restart_is_sent_when_its_source_ends_after_it(
        tmp_path: Path, clock: FakeClock) -> None:
    state = tmp_path / "s.db"
    first = Run(state, clock, event_quiet_seconds=600)
    _memory_error_run(first)
    first.run_for(300)
    first.close()
    second = Run(state, clock, event_quiet_seconds=600)
    second.levels[LOG] = _health(LOG, Level.RED, FAILURES)
    second.dispatcher.on_changes([], list(second.levels.values()))
    second.run_for(620)
    assert (f"event:memory-error:{LOG}", "resolved") in second.sent()
    assert (f"level:{LOG}", "firing") in second.sent()
    second.close()


def _alert(key: str, rule: str, scope: str, *reasons: Reason) -> Alert:
    from threadwatch.alerts.model import AlertReason  # noqa: PLC0415 - only here

    return Alert(key, rule, Status.FIRING, Transition.REPEAT, "red", scope, "", 0.0,
                 tuple(AlertReason.from_reason(r) for r in reasons))


@pytest.mark.parametrize(("equal", "target", "inhibited"), [
    ("run", ERR, True), ("run", OTHER, False), ("source", ERR, False), ("source", LOG, True),
    ("any", OTHER, True), ("run", "total", False),
])
def test_equal_says_which_scopes_a_source_covers(equal: str, target: str,
                                                 inhibited: bool) -> None:
    config = AlertsConfig.model_validate({"inhibit": [{
        "sources": ["memory-error"], "metrics": ["sample_failures"], "equal": equal}],
        "inhibit_total": False})
    source = _alert(f"event:memory-error:{LOG}", "memory-error", LOG)
    level = _alert(f"level:{target}", "level", target, FAILURES)
    found = inhibitions(config.inhibit, config.inhibit_total, [(source, True), (level, True)])
    assert (level.key in found) is inhibited


def test_a_pending_source_inhibits_nothing() -> None:
    config = AlertsConfig()
    source = _alert(f"event:memory-error:{LOG}", "memory-error", LOG)
    level = _alert(f"level:{LOG}", "level", LOG, FAILURES)
    assert inhibitions(config.inhibit, False, [(source, False), (level, True)]) == {}
