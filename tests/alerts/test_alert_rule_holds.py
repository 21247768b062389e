"""A rule's own ``hold_seconds``: its reason fires (or escalates) the scope's level alert only
once the rule has given it that long without a break; the other rules keep ``[alerts]
hold_seconds``. The rules come from a real config file, the verdicts from ``judge`` on counts;
time is passed in."""

from __future__ import annotations

from pathlib import Path

from threadwatch.alerts.model import Transition
from threadwatch.alerts.rules import AlertRules
from threadwatch.config import Config, load_config
from threadwatch.health.levels import Level
from threadwatch.health.metrics import COUNT_KEYS
from threadwatch.health.scope import judge_scope
from threadwatch.health.window import ScopeHealth

T0 = 1_800_000_000.0
SCOPE = "/logs/a.log"


def config_of(tmp_path: Path, text: str) -> Config:
    path = tmp_path / "tw.toml"
    path.write_text("[alerts]\nhold_seconds = 120\ngroup_wait_seconds = 0\n" + text)
    return load_config(path)


def health(config: Config, **nonzero: int) -> ScopeHealth:
    counts = dict.fromkeys(COUNT_KEYS, 0) | nonzero
    judged = judge_scope(SCOPE, counts, config.rules)
    return ScopeHealth(SCOPE, judged.counts, judged.rates, judged.verdict)


def observe(rules: AlertRules, scope_health: ScopeHealth, at: float) -> list[object]:
    return list(rules.observe_level(SCOPE, scope_health.verdict.level, scope_health, at))


# overload in 6 batches of 10: overload-red (> 50 %) and overload-yellow (> 25 %)
OVERLOADED = {"batches": 10, "overload": 6}
# overload in 3 of 10: overload-yellow only
BUSY = {"batches": 10, "overload": 3}


def test_a_longer_hold_of_a_red_rule_lets_the_yellow_fire_first(tmp_path: Path) -> None:
    config = config_of(tmp_path, '[[rules]]\nname = "overload-red"\nhold_seconds = 600\n')
    rules = AlertRules(config.alerts)
    overloaded = health(config, **OVERLOADED)
    assert overloaded.verdict.level is Level.RED
    observe(rules, overloaded, T0)
    assert rules.due(T0 + 119) == []
    [alert] = rules.due(T0 + 120)  # overload-yellow held the global 120 s; the red not yet
    assert (alert.transition, alert.level) == (Transition.FIRING, "yellow")
    assert [reason.rule for reason in alert.reasons] == ["overload-yellow"]
    assert rules.due(T0 + 599) == []
    [alert] = rules.due(T0 + 600)  # overload-red held its own 600 s: escalated
    assert (alert.transition, alert.level, alert.previous_level) == (
        Transition.ESCALATED, "red", "yellow")
    assert [reason.rule for reason in alert.reasons] == ["overload-red", "overload-yellow"]


def test_a_hold_of_zero_fires_at_once(tmp_path: Path) -> None:
    config = config_of(tmp_path, '[[rules]]\nname = "memory-errors-red"\nhold_seconds = 0\n')
    rules = AlertRules(config.alerts)
    observe(rules, health(config, memory_errors=1), T0)
    [alert] = rules.due(T0)
    assert (alert.level, alert.reasons[0].rule) == ("red", "memory-errors-red")


def test_a_break_in_the_reason_starts_its_hold_again(tmp_path: Path) -> None:
    config = config_of(tmp_path, '[[rules]]\nname = "overload-red"\nhold_seconds = 300\n'
                                 '[[rules]]\nname = "overload-yellow"\nhold_seconds = 3000\n')
    rules = AlertRules(config.alerts)
    observe(rules, health(config, **OVERLOADED), T0)
    observe(rules, health(config, **BUSY), T0 + 100)  # still bad, but not for overload-red
    observe(rules, health(config, **OVERLOADED), T0 + 200)
    assert rules.due(T0 + 499) == []  # not T0 + 300: held from T0 + 200 only
    [alert] = rules.due(T0 + 500)
    assert (alert.level, alert.starts_at) == ("red", T0)  # the episode began at T0


def test_with_min_level_red_a_held_yellow_reason_sends_nothing(tmp_path: Path) -> None:
    config = config_of(tmp_path, 'min_level = "red"\n'  # still in [alerts]
                                 '[[rules]]\nname = "overload-red"\nhold_seconds = 600\n')
    rules = AlertRules(config.alerts)
    observe(rules, health(config, **OVERLOADED), T0)
    assert rules.due(T0 + 599) == []
    [alert] = rules.due(T0 + 600)
    assert alert.level == "red"


def test_without_holds_of_their_own_the_global_hold_and_escalation_are_unchanged(
    tmp_path: Path,
) -> None:
    config = config_of(tmp_path, "")
    rules = AlertRules(config.alerts)
    observe(rules, health(config, **BUSY), T0)
    [alert] = rules.due(T0 + 120)
    assert alert.level == "yellow"
    [escalated] = observe(rules, health(config, **OVERLOADED), T0 + 130)
    assert (escalated.transition, escalated.level) == (Transition.ESCALATED, "red")  # at once
    assert escalated.reasons[0].as_dict()["rule"] == "overload-red"
