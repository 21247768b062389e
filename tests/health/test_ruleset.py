"""Rules by name: a config's ``[[rules]]`` change, disable or add rules without restating the
others (``health/ruleset.py`` through ``load_config``, on real files)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from threadwatch.config import Config, load_config, show_config
from threadwatch.errors import ConfigError
from threadwatch.health.levels import Level
from threadwatch.health.metrics import COUNT_KEYS, rates_of
from threadwatch.health.rules import judge
from threadwatch.report.model import build_report

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "logs"
DEFAULTS = load_config()


def load(tmp_path: Path, text: str) -> Config:
    path = tmp_path / "tw.toml"
    path.write_text(text)
    return load_config(path)


def problems(tmp_path: Path, text: str) -> list[tuple[str | None, str]]:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, text)
    return list(caught.value.problems)


def rule_named(config: Config, name: str):  # type: ignore[no-untyped-def]
    (rule,) = [rule for rule in config.rules if rule.name == name]
    return rule


def levels(config: Config) -> dict[str, Level]:
    report = build_report([str(FIXTURES)], config, workers=1, now=time.time() + 86400)
    return {source.scope: source.verdict.level for source in (*report.sources, report.total)}


def test_every_default_rule_has_a_stable_kebab_case_name_of_its_own() -> None:
    names = [rule.name for rule in DEFAULTS.rules]
    assert len(set(names)) == len(names) == 20
    # the name is the metric and the level, so a reader can guess it
    for rule in DEFAULTS.rules:
        assert rule.name == f"{rule.metric}-{rule.level.label}".replace("_", "-")
    assert {"overload-red", "process-pool-used-yellow", "memory-errors-red"} <= set(names)


@pytest.mark.parametrize("entry", [
    # a default changed
    '[[rules]]\nname = "overload-red"\nabove = 0.6\n',
    # a rule added that does not fire on them
    '[[rules]]\nname = "many-thread-errors"\nlevel = "red"\ncount = "thread_errors"\n'
    "at_least = 100\n",
], ids=["changed", "added"])
def test_one_rules_entry_keeps_the_other_defaults_on_the_fixtures(
    tmp_path: Path, entry: str
) -> None:
    """The issue's case: one [[rules]] entry used to replace all the defaults, and the bundled
    fixtures turned green. Now every fixture keeps the level the defaults give it."""
    config = load(tmp_path, entry)
    assert len(config.rules) in (20, 21)
    judged = levels(config)
    assert judged == levels(DEFAULTS)
    assert Level.RED in judged.values() and Level.YELLOW in judged.values()


def test_a_change_by_name_changes_only_the_keys_given(tmp_path: Path) -> None:
    config = load(tmp_path, '[[rules]]\nname = "overload-red"\nabove = 0.6\n'
                            '[[rules]]\nname = "sequential-yellow"\nabove = 0.3\n')
    overload = rule_named(config, "overload-red")
    assert (overload.level, overload.rate, overload.comparison, overload.why) == (
        Level.RED, "overload", (">", 0.6), "system overload detection constant")
    # a comparison replaces the default's (sequential-yellow was at_least = 0.25)
    assert rule_named(config, "sequential-yellow").comparison == (">", 0.3)
    assert [rule.name for rule in config.rules] == [rule.name for rule in DEFAULTS.rules]


def test_a_rule_disabled_by_name_never_fires(tmp_path: Path) -> None:
    config = load(tmp_path, '[[rules]]\nname = "process-pool-used-yellow"\nenabled = false\n')
    assert rule_named(config, "process-pool-used-yellow").enabled is False
    counts = dict.fromkeys(COUNT_KEYS, 0) | {"batches": 10, "large_batches": 10,
                                             "process_pool_used": 2, "thread_pool_used": 8}
    assert judge(counts, rates_of(counts), DEFAULTS.rules).level is Level.YELLOW
    assert judge(counts, rates_of(counts), config.rules).level is Level.GREEN


def test_a_rule_added_under_a_new_name_comes_after_the_defaults_and_fires(
    tmp_path: Path,
) -> None:
    config = load(tmp_path, '[[rules]]\nname = "any-thread-error"\nlevel = "yellow"\n'
                            'count = "thread_errors"\nat_least = 1\nwhy = "a thread died"\n')
    assert [rule.name for rule in config.rules][-1] == "any-thread-error"
    counts = dict.fromkeys(COUNT_KEYS, 0) | {"thread_errors": 1}
    verdict = judge(counts, rates_of(counts), config.rules)
    assert verdict.level is Level.YELLOW
    assert [(reason.rule, reason.why) for reason in verdict.reasons] == [
        ("any-thread-error", "a thread died")]


def test_an_unnamed_entry_is_refused_with_the_way_out(tmp_path: Path) -> None:
    # written when a [[rules]] list replaced the defaults: merging it would bring back the
    # rules it left out, so it must say what it means
    found = problems(tmp_path, '[[rules]]\nlevel = "red"\nrate = "overload"\nabove = 0.5\n')
    assert len(found) == 1
    key, problem = found[0]
    assert key == "rules.0"
    assert problem.startswith("no name: ")
    assert "replace_default_rules = true" in problem and "threadwatch config show" in problem


def test_replace_default_rules_makes_the_file_s_rules_the_whole_set(tmp_path: Path) -> None:
    config = load(tmp_path, 'replace_default_rules = true\n'
                            '[[rules]]\nlevel = "red"\nrate = "overload"\nabove = 0.5\n'
                            '[[rules]]\nlevel = "yellow"\nrate = "overload"\nabove = 0.25\n')
    # unnamed entries are named after their metric and level
    assert [rule.name for rule in config.rules] == ["overload-red", "overload-yellow"]
    assert config.replace_default_rules is True


def test_replace_with_two_rules_of_one_name_asks_for_names(tmp_path: Path) -> None:
    found = problems(tmp_path, 'replace_default_rules = true\n'
                               '[[rules]]\nlevel = "red"\nrate = "overload"\nabove = 0.5\n'
                               '[[rules]]\nlevel = "red"\nrate = "overload"\nbelow = 0.1\n')
    assert found == [("rules.1", "two rules named 'overload-red' (rules.0 too): give each a name"
                                 " of its own")]


def test_a_name_given_twice_is_an_error(tmp_path: Path) -> None:
    found = problems(tmp_path, '[[rules]]\nname = "overload-red"\nabove = 0.6\n'
                               '[[rules]]\nname = "overload-red"\nabove = 0.7\n')
    assert found == [("rules.1.name", "'overload-red' is given twice (rules.0 too)")]


def test_an_unknown_name_with_part_of_a_rule_is_an_error_naming_it(tmp_path: Path) -> None:
    found = problems(tmp_path, '[[rules]]\nname = "overlaod-red"\nabove = 0.6\n')
    assert found == [("rules.0", "no default rule is named 'overlaod-red' (did you mean"
                                 " 'overload-red'?); a new rule needs level, rate or count")]
    (_, problem), = problems(tmp_path, '[[rules]]\nname = "quiet"\nenabled = false\n')
    assert problem.startswith("no default rule is named 'quiet' (`threadwatch config show`")
    assert problem.endswith("needs level, rate or count, one of above/at_least/at_most/below")


def test_a_name_is_kebab_case(tmp_path: Path) -> None:
    found = problems(tmp_path, '[[rules]]\nname = "Overload Red"\nlevel = "red"\n'
                               'rate = "overload"\nabove = 0.6\n')
    assert found[0][0] == "rules.0.name" and "kebab-case" in found[0][1]


def test_a_problem_names_the_entry_of_the_file_and_every_problem_is_listed(
    tmp_path: Path,
) -> None:
    found = problems(tmp_path, '[tail]\nwindow_seconds = inf\n'
                               '[[rules]]\nname = "mine"\nlevel = "red"\ncount = "stalled"\n'
                               'at_least = 1\n'
                               '[[rules]]\nname = "overload-red"\nabove = 50\n'
                               '[[rules]]\nlevel = "red"\n'
                               '[[rules]]\nname = "stalled-red"\nhold_seconds = -1\n')
    # overload-red is the first rule of the merged set, but the second entry of the file
    assert [key for key, _ in found] == [
        "tail.window_seconds", "rules.1.above", "rules.2", "rules.3.hold_seconds"]


def test_config_show_reads_back_as_the_same_rules(tmp_path: Path) -> None:
    for text in (
        '[[rules]]\nname = "overload-red"\nabove = 0.6\nhold_seconds = 300\n'
        '[[rules]]\nname = "process-pool-used-yellow"\nenabled = false\n'
        '[[rules]]\nname = "any-thread-error"\nlevel = "yellow"\ncount = "thread_errors"\n'
        "at_least = 1\n",
        'replace_default_rules = true\n[[rules]]\nlevel = "red"\ncount = "stalled"\n'
        "at_least = 1\n",
    ):
        config = load(tmp_path, text)
        shown = show_config(config)
        assert 'name = "overload-red"' in shown or 'name = "stalled-red"' in shown
        assert load(tmp_path, shown) == config


def test_the_readme_example_changes_one_threshold_and_disables_one_rule(tmp_path: Path) -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text("utf-8")
    section = readme[readme.index("**Rules by name.**"):]
    example = section[section.index("```toml\n") + 8:section.index("```\n", 8)]
    config = load(tmp_path, example)
    changed = {rule.name: rule for rule in config.rules}
    assert changed.pop("overload-red").comparison == (">", 0.6)
    assert changed.pop("process-pool-used-yellow").enabled is False
    assert changed.pop("any-thread-error").hold_seconds == 600
    # every other default rule as it was
    assert list(changed.values()) == [rule for rule in DEFAULTS.rules if rule.name in changed]
