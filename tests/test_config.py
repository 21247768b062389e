"""Config loading: defaults, overrides, and one-line errors naming file and key."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import annotated_types
import pytest
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from threadwatch.alerts.settings import AlertsConfig, DeliveryConfig
from threadwatch.alerts.sinks.alertmanager import AlertmanagerSinkConfig
from threadwatch.alerts.sinks.registry import SinkSettings, type_name
from threadwatch.alerts.sinks.slack import SlackSinkConfig
from threadwatch.alerts.sinks.webhook import WebhookSinkConfig
from threadwatch.config import default_config_text, load_config
from threadwatch.errors import ConfigError
from threadwatch.guard import GuardPolicy
from threadwatch.health.settings import InferenceConfig, RunsConfig
from threadwatch.parse.settings import ParseConfig
from threadwatch.sources.settings import TailConfig

REPO = Path(__file__).resolve().parents[1]


def test_repository_config_is_the_bundled_default() -> None:
    assert (REPO / "config" / "threadwatch.toml").read_text() == default_config_text()


def test_defaults_hold_every_threshold_of_the_alert_table() -> None:
    rules = {(r.level.label, r.metric, r.comparison) for r in load_config().rules}
    assert rules == {
        ("red", "overload", (">", 0.5)),
        ("red", "sequential", (">", 0.4)),
        ("red", "threads_over_60", (">=", 0.25)),
        ("red", "memory_errors", (">=", 1.0)),
        ("red", "script_timeouts", (">=", 1.0)),
        ("yellow", "overload", (">", 0.25)),
        ("yellow", "sequential", (">=", 0.25)),
        ("yellow", "threads_40_60", (">=", 0.25)),
        ("yellow", "thread_keyerror", (">=", 1.0)),
        ("yellow", "process_pool_used", ("<=", 0.7)),
        # judged since the run_batt of 2025-11: samples lost, runs cut off or hung, threads
        ("red", "sample_failures", (">", 0.5)),
        ("red", "sample_timeouts", (">", 0.5)),
        ("red", "cut_off_runs", (">=", 1.0)),
        ("red", "stalled", (">=", 1.0)),
        ("yellow", "sample_failures", (">=", 0.1)),
        ("yellow", "sample_timeouts", (">=", 0.1)),
        ("yellow", "thread_creation_failures", (">=", 1.0)),
        ("yellow", "pool_creation_failures", (">=", 1.0)),
        ("yellow", "nested_thread_exhaustion", (">=", 1.0)),
        ("yellow", "chunk_timeouts", (">=", 1.0)),
    }


def test_user_file_overrides_one_key_and_keeps_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "tw.toml"
    path.write_text("[inference]\nprocess_min_batch = 6\n")
    config = load_config(path)
    assert config.inference.process_min_batch == 6
    assert len(config.rules) == 20


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("[inference]\nprocess_min_batch = 'four'\n", "inference.process_min_batch"),
        ("[inference]\nprocess_min_bach = 4\n", "inference.process_min_bach"),
        ("[[rules]]\nname = 'mine'\nlevel = 'red'\nrate = 'overlord'\nabove = 0.5\n", "rules.0"),
        ("[[rules]]\nname = 'mine'\nlevel = 'red'\ncount = 'memory_errors'\n", "rules.0"),
        ("[[rules]]\nname = 'mine'\nlevel = 'orange'\ncount = 'memory_errors'\nabove = 1\n",
         "rules.0.level"),
        ("[tail]\nwindow_seconds = 60\nbucket_seconds = 120\n", "tail"),
    ],
)
def test_invalid_config_names_the_file_and_the_key(tmp_path: Path, text: str, key: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.key == key
    assert str(path) in str(caught.value) and "\n" not in str(caught.value)


def test_not_toml_and_missing_file_are_config_errors(tmp_path: Path) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text("[inference\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(broken)
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "absent.toml")


def test_tail_bucket_longer_than_the_window_is_named(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[tail]\nbucket_seconds = 1000\n")  # the default window is 900 s
    with pytest.raises(ConfigError, match=r"bucket_seconds .* window_seconds") as caught:
        load_config(path)
    assert caught.value.key == "tail"


def test_tail_bucket_equal_to_the_window_is_allowed(tmp_path: Path) -> None:
    path = tmp_path / "ok.toml"
    path.write_text("[tail]\nwindow_seconds = 60\nbucket_seconds = 60\n")
    assert load_config(path).tail.bucket_seconds == 60


# -- every value checked: finite, in range, every problem at once (issue 9, items 6 and 7) ----

# Every table a user can write, with what a table needs besides the key under test. Sinks are
# written as one sink of each type.
TABLES: list[tuple[str, type[BaseModel], str]] = [
    ("inference", InferenceConfig, ""),
    ("parse", ParseConfig, ""),
    ("runs", RunsConfig, ""),
    ("tail", TailConfig, ""),
    ("alerts", AlertsConfig, ""),
    ("alerts.delivery", DeliveryConfig, ""),
    ("alerts.sinks.chat", SlackSinkConfig, 'type = "slack"\nurl = "${U}"\n'),
    ("alerts.sinks.hook", WebhookSinkConfig, 'type = "webhook"\nurl = "${U}"\n'),
    ("alerts.sinks.fleet", AlertmanagerSinkConfig, 'type = "alertmanager"\nurl = "${U}"\n'),
]
NUMBERS = [
    (table, preamble, name, field)
    for table, model, preamble in TABLES
    for name, field in model.model_fields.items()
    if field.annotation in (int, float)
]
NUMBER_IDS = [f"{table}.{name}" for table, _, name, _ in NUMBERS]


def _bounds(field: FieldInfo) -> dict[str, float]:
    return {
        kind: getattr(item, kind)
        for item in field.metadata
        for kind in ("gt", "ge", "lt", "le")
        if isinstance(item, annotated_types.Gt | annotated_types.Ge | annotated_types.Lt
                      | annotated_types.Le) and hasattr(item, kind)
    }


def _load(tmp_path: Path, text: str) -> ConfigError:
    path = tmp_path / "tw.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    return caught.value


@pytest.mark.parametrize("value", ["inf", "-inf", "nan", "+nan"])
@pytest.mark.parametrize("number", NUMBERS, ids=NUMBER_IDS)
def test_every_number_must_be_finite(
    tmp_path: Path, number: tuple[str, str, str, FieldInfo], value: str
) -> None:
    table, preamble, name, _ = number
    error = _load(tmp_path, f"[{table}]\n{preamble}{name} = {value}\n")
    assert error.problems == ((f"{table}.{name}", error.problem),)
    assert "finite" in error.problem


@pytest.mark.parametrize(("table", "preamble", "name", "field"), NUMBERS, ids=NUMBER_IDS)
def test_every_number_has_a_lower_and_an_upper_bound(
    table: str, preamble: str, name: str, field: FieldInfo
) -> None:
    bounds = _bounds(field)
    assert {"gt", "ge"} & bounds.keys(), f"{table}.{name} has no lower bound"
    if name != "bucket_seconds":  # bounded by window_seconds
        assert {"lt", "le"} & bounds.keys(), f"{table}.{name} has no upper bound"


@pytest.mark.parametrize(("table", "preamble", "name", "field"), NUMBERS, ids=NUMBER_IDS)
def test_the_shipped_config_documents_each_range_next_to_its_key(
    table: str, preamble: str, name: str, field: FieldInfo
) -> None:
    # the key's line (commented out for the sink examples) ends with a comment giving its range
    lines = re.findall(rf"^(?:# )?{name} = [^#\n]*#(.*)$", default_config_text(), re.MULTILINE)
    assert len(lines) == 1, f"{name}: no line with a range comment in the shipped config"
    documented = {float(number) for number in re.findall(r"\d+(?:\.\d+)?", lines[0])}
    assert set(_bounds(field).values()) <= documented, (name, lines[0])


@pytest.mark.parametrize(
    ("text", "key", "problem"),
    [
        # issue 9 item 6: these were raw tracebacks in tail
        ("[tail]\nwindow_seconds = inf\n", "tail.window_seconds", "finite number"),
        ("[tail]\nbucket_seconds = 1e-320\n", "tail.bucket_seconds",
         "greater than or equal to 0.1"),
        ("[tail]\nwindow_seconds = 900\nbucket_seconds = 0.5\n", "tail",
         "must be at most 1000: make bucket_seconds at least 0.9"),
        # item 7: these validated and then broke
        ('[alerts.sinks.fleet]\ntype = "alertmanager"\nurl = "${U}"\nfiring_ttl_seconds = 1e12\n',
         "alerts.sinks.fleet.firing_ttl_seconds", "less than or equal to 86400"),
        ('[alerts.sinks.hook]\ntype = "webhook"\nurl = "${U}"\nsecret = ""\n',
         "alerts.sinks.hook.secret", "empty"),
        ('[alerts.sinks.hook]\ntype = "webhook"\nurl = "${U}"\nsecret = "  "\n',
         "alerts.sinks.hook.secret", "empty"),
        ("[[rules]]\nname = 'mine'\nlevel = 'red'\ncount = 'memory_errors'\nat_least = nan\n",
         "rules.0.at_least", "finite number"),
        ("[[rules]]\nname = 'mine'\nlevel = 'red'\nrate = 'overload'\nabove = 50\n",
         "rules.0.above", "50 looks like a percentage: write 0.5"),
        ("[[rules]]\nname = 'mine'\nlevel = 'red'\nrate = 'overload'\nat_least = 2.5\n",
         "rules.0.at_least", "2.5 looks like a percentage: write 0.025"),
        ("[[rules]]\nname = 'mine'\nlevel = 'red'\nrate = 'overload'\nat_most = -0.1\n",
         "rules.0.at_most", "a rate is a fraction from 0 to 1"),
        ("[[rules]]\nname = 'mine'\nlevel = 'red'\nrate = 'overload'\nabove = 500\n",
         "rules.0.above", "a rate is a fraction from 0 to 1"),
        ("[[rules]]\nname = 'mine'\nlevel = 'red'\ncount = 'memory_errors'\nat_least = 1.5\n",
         "rules.0.at_least", "whole number"),
        ("[[rules]]\nname = 'mine'\nlevel = 'red'\ncount = 'memory_errors'\nat_least = -1\n",
         "rules.0.at_least", "whole number"),
        # a rule without a metric is named for that, not for its threshold
        ("replace_default_rules = true\n[[rules]]\nlevel = 'red'\nabove = 50\n", "rules.0",
         "exactly one of 'rate' or 'count'"),
        ("[runs]\nstall_seconds = 0\n", "runs.stall_seconds", "greater than 0"),
        ("[tail]\npoll_seconds = 1e-9\n", "tail.poll_seconds", "greater than or equal to 0.01"),
        ("[tail]\nmax_open_files = -1\n", "tail.max_open_files", "greater than or equal to 1"),
        ("[alerts]\nrepeat_seconds = 1e300\n", "alerts.repeat_seconds", "less than or equal"),
        ("[alerts.delivery]\nmax_age_seconds = 1e12\n", "alerts.delivery.max_age_seconds",
         "less than or equal to 2592000"),
    ],
)
def test_a_value_out_of_range_is_named_with_its_key(
    tmp_path: Path, text: str, key: str, problem: str
) -> None:
    error = _load(tmp_path, text)
    assert error.problems == ((key, error.problem),)
    assert problem in error.problem
    assert str(error) == f"invalid config {tmp_path / 'tw.toml'}: {key}: {error.problem}"


def test_the_edges_of_the_ranges_are_allowed(tmp_path: Path) -> None:
    path = tmp_path / "ok.toml"
    path.write_text(
        "replace_default_rules = true\n"
        "[tail]\nwindow_seconds = 100\nbucket_seconds = 0.1\n"
        "[alerts]\nrepeat_seconds = 3600\n"
        '[alerts.sinks.fleet]\ntype = "alertmanager"\nurl = "${U}"\nfiring_ttl_seconds = 86400\n'
        "[[rules]]\nname = 'mine-12'\nlevel = 'red'\nrate = 'overload'\nabove = 1\n"
        "[[rules]]\nname = 'mine-13'\nlevel = 'red'\nrate = 'overload'\nbelow = 0\n"
        "[[rules]]\nname = 'mine-14'\nlevel = 'red'\ncount = 'memory_errors'\nabove = 0\n"
    )
    config = load_config(path)
    assert config.tail.bucket_seconds == 0.1
    assert [rule.comparison for rule in config.rules] == [(">", 1.0), ("<", 0.0), (">", 0.0)]


def test_every_problem_of_a_file_is_listed_at_once(tmp_path: Path) -> None:
    error = _load(tmp_path, (
        "[tail]\nwindow_seconds = inf\n"
        "[alerts]\nhold_seconds = -1\n"
        '[alerts.sinks.hook]\ntype = "webhook"\nurl = "${U}"\nsecret = ""\n'
        "[[rules]]\nname = 'mine'\nlevel = 'yellow'\nrate = 'sequential'\nat_least = 25\n"
    ))
    assert [key for key, _ in error.problems] == [
        "tail.window_seconds", "alerts.hold_seconds", "alerts.sinks.hook.secret",
        "rules.0.at_least",
    ]
    assert error.key == "tail.window_seconds"  # the first, for callers that show one
    path = tmp_path / "tw.toml"
    assert list(error.lines) == [
        f"invalid config {path}: {key}: {problem}" for key, problem in error.problems
    ]
    assert str(error) == "\n".join(error.lines)


# -- each default is stated once, in the bundled file (issue 11, item 6) -------------------------

BUNDLED: dict[str, Any] = tomllib.loads(default_config_text())
NO_DEFAULT_IN_FILE = {("alerts", "sinks")}  # none configured; the file shows commented examples


def _bundled_table(table: str) -> dict[str, Any]:
    data = BUNDLED
    for part in table.split("."):
        data = data[part]
    return data


DEFAULTS = [
    (table, model, name)
    for table, model, _ in TABLES
    if not table.startswith("alerts.sinks.")
    for name, field in model.model_fields.items()
    if not isinstance(field.get_default(call_default_factory=True), BaseModel)  # a table
]


@pytest.mark.parametrize(("table", "model", "name"), DEFAULTS,
                         ids=[f"{t}.{n}" for t, _, n in DEFAULTS])
def test_a_code_default_is_the_bundled_files(table: str, model: type[BaseModel],
                                             name: str) -> None:
    field = model.model_fields[name]
    written = _bundled_table(table)
    if (table, name) in NO_DEFAULT_IN_FILE:
        assert name not in written and not field.get_default(call_default_factory=True)
        return
    assert name in written, f"{table}.{name}: the bundled config does not state its default"
    from_file = getattr(model.model_validate({name: written[name]}), name)
    assert field.get_default(call_default_factory=True) == from_file


def _sink_examples() -> dict[str, dict[str, Any]]:
    """The commented-out sink tables of the bundled config, read as TOML."""
    blocks = re.findall(r"^# (\[alerts\.sinks\.\w+\]\n(?:# \S.*\n|#  .*\n)+)",
                        default_config_text(), re.MULTILINE)
    text = "\n".join(re.sub(r"^# ?", "", block, flags=re.MULTILINE) for block in blocks)
    sinks: dict[str, dict[str, Any]] = tomllib.loads(text)["alerts"]["sinks"]
    return sinks


@pytest.mark.parametrize("model", [SlackSinkConfig, WebhookSinkConfig, AlertmanagerSinkConfig])
def test_the_sink_examples_of_the_bundled_file_state_the_code_defaults(
        model: type[SinkSettings]) -> None:
    [example] = [e for e in _sink_examples().values() if e["type"] == type_name(model)]
    parsed = model.model_validate({**example, "url": "${URL}"})
    stated = [name for name in example if name not in ("type", "url")]
    assert stated, "the example states no default"
    for name in stated:
        default = model.model_fields[name].get_default()
        if default is not None:  # else an optional key (the webhook's secret): a sample value
            assert default == getattr(parsed, name), name


def test_the_guard_decides_by_the_bundled_process_min_batch() -> None:
    """The guard is a library of its own (it reads no config): its default is checked here."""
    assert GuardPolicy().process_min_batch == BUNDLED["inference"]["process_min_batch"]


README = REPO / "README.md"
BUNDLED_TABLES = {table for table, _, _ in TABLES if not table.startswith("alerts.sinks.")}


def test_the_readmes_table_of_ranges_gives_the_bundled_defaults() -> None:
    text = README.read_text("utf-8")
    table = text[text.index("| key | default | range |"):]
    table = table[:table.index("\n\n")]
    rows = re.findall(r"^\| ((?:`[a-z_.]+`(?:, )?)+) \| ([^|]*) \|", table, re.MULTILINE)
    checked = set()
    for keys, defaults in rows:
        names = re.findall(r"`([a-z_.]+)`", keys)
        values = [value.strip() for value in defaults.split(",")]
        for name, value in zip(names, values, strict=True):
            table, key = name.rsplit(".", 1)
            assert float(value) == _bundled_table(table)[key], name
            checked.add(name)
    numbers = {f"{table}.{name}" for table, _, name, _ in NUMBERS if table in BUNDLED_TABLES}
    assert numbers <= checked, f"not in the README's table: {sorted(numbers - checked)}"
