"""Per-sink routing with an injected clock: each sink gets only the alerts routed to it."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
from alert_helpers import alerts_config, change, health

from threadwatch.alerts.dispatcher import AlertDispatcher
from threadwatch.alerts.outbox import Outbox
from threadwatch.alerts.testing import FakeClock, MemorySink
from threadwatch.events import Event, Kind
from threadwatch.health.levels import Level


def _config(**sinks: dict[str, Any]) -> dict[str, Any]:
    return {"hold_seconds": 0, "group_wait_seconds": 0, "inhibit_total": False,
            "sinks": {name: {"type": "webhook", "url": "${HOOK_URL}", **keys}
                      for name, keys in sinks.items()}}


class Sinks:
    """A dispatcher over a real state file whose configured sinks are memory sinks."""

    def __init__(self, state: Path, clock: FakeClock, config: dict[str, Any]) -> None:
        self.clock = clock
        self.sinks = {name: MemorySink() for name in config["sinks"]}
        self.dispatcher = AlertDispatcher(alerts_config(**config), Outbox(state), self.sinks,
                                          clock, background=False, rng=random.Random(1))
        self.scopes: dict[str, Level] = {}

    def level(self, scope: str, level: Level) -> None:
        previous = self.scopes.get(scope, Level.UNKNOWN)
        self.scopes[scope] = level
        self.dispatcher.on_changes([change(scope, previous, level, self.clock.now)],
                                   [health(s, lv) for s, lv in self.scopes.items()])
        self.dispatcher.tick(self.clock.advance(1))

    def got(self, sink: str) -> list[tuple[str, str, str]]:
        return [(a.key, a.transition.value, a.level) for n in self.sinks[sink].sent
                for a in n.alerts]

    def close(self) -> None:
        self.dispatcher.close()


def test_a_red_only_sink_gets_the_red_alert_not_the_yellow_one(tmp_path: Path,
                                                                clock: FakeClock) -> None:
    run = Sinks(tmp_path / "s.db", clock, _config(pager={"min_level": "red"}, chat={}))
    run.level("a.log", Level.YELLOW)
    run.level("b.log", Level.RED)
    run.close()
    assert run.got("pager") == [("level:b.log", "firing", "red")]
    assert run.got("chat") == [("level:a.log", "firing", "yellow"),
                               ("level:b.log", "firing", "red")]


def test_a_sink_with_no_alert_routed_to_it_is_sent_nothing(tmp_path: Path,
                                                           clock: FakeClock) -> None:
    run = Sinks(tmp_path / "s.db", clock, _config(pager={"min_level": "red"}, chat={}))
    run.level("a.log", Level.YELLOW)
    run.close()
    assert run.got("pager") == []
    outbox = Outbox(tmp_path / "s.db")
    assert {d.sink for d in outbox.deliveries()} == {"chat"}
    outbox.close()


@pytest.mark.parametrize(("scopes", "expected"), [
    (["*/host16/*"], ["level:/srv/logs/host16/a.log"]),
    (["b.log", "total"], ["level:/srv/logs/host17/b.log", "level:total"]),
    (["*"], ["level:/srv/logs/host16/a.log", "level:/srv/logs/host17/b.log", "level:total"]),
])
def test_a_scope_restricted_sink_gets_only_its_scopes(tmp_path: Path, clock: FakeClock,
                                                       scopes: list[str],
                                                       expected: list[str]) -> None:
    run = Sinks(tmp_path / "s.db", clock, _config(team={"scopes": scopes}, all={}))
    for scope in ("/srv/logs/host16/a.log", "/srv/logs/host17/b.log", "total"):
        run.level(scope, Level.RED)
    run.close()
    assert [key for key, _, _ in run.got("team")] == expected
    assert len(run.got("all")) == 3


def test_a_sink_for_one_rule_gets_that_rules_alerts(tmp_path: Path, clock: FakeClock) -> None:
    run = Sinks(tmp_path / "s.db", clock, _config(mem={"rules": ["memory-error"]}, all={}))
    run.level("a.log", Level.RED)
    run.dispatcher.on_events([Event(Kind.MEMORY_ERROR, "a.log", 0, text="MemoryError")],
                             clock.now)
    run.dispatcher.tick(clock.advance(1))
    run.close()
    assert [key for key, _, _ in run.got("mem")] == ["event:memory-error:a.log"]


def test_a_red_only_sink_hears_an_escalation_as_firing_and_the_alert_to_its_end(
        tmp_path: Path, clock: FakeClock) -> None:
    config = _config(pager={"min_level": "red"})
    config["repeat_seconds"] = 60
    run = Sinks(tmp_path / "s.db", clock, config)
    run.level("a.log", Level.YELLOW)
    run.level("a.log", Level.RED)  # escalated: the first the pager hears
    run.level("a.log", Level.YELLOW)
    run.dispatcher.tick(clock.advance(70))  # the repeat at yellow: the pager was told, so too
    run.level("a.log", Level.GREEN)
    run.close()
    assert run.got("pager") == [("level:a.log", "firing", "red"),
                                ("level:a.log", "repeat", "yellow"),
                                ("level:a.log", "resolved", "yellow")]


def test_which_sink_was_told_survives_a_restart(tmp_path: Path, clock: FakeClock) -> None:
    config = _config(pager={"min_level": "red"})
    config["repeat_seconds"] = 60
    first = Sinks(tmp_path / "s.db", clock, config)
    first.level("a.log", Level.RED)
    first.level("a.log", Level.YELLOW)
    first.close()
    second = Sinks(tmp_path / "s.db", clock, config)
    second.scopes = dict(first.scopes)
    second.level("a.log", Level.GREEN)
    second.close()
    assert second.got("pager") == [("level:a.log", "resolved", "red")]


def test_the_resolution_of_an_alert_a_sink_never_got_is_not_sent_to_it(
        tmp_path: Path, clock: FakeClock) -> None:
    run = Sinks(tmp_path / "s.db", clock, _config(pager={"min_level": "red"}, chat={}))
    run.level("a.log", Level.YELLOW)
    run.level("a.log", Level.GREEN)
    run.close()
    assert run.got("pager") == []
    assert [t for _, t, _ in run.got("chat")] == ["firing", "resolved"]
