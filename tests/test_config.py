"""Config loading: defaults, overrides, and one-line errors naming file and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from threadwatch.config import default_config_text, load_config
from threadwatch.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]


def test_repository_config_is_the_bundled_default() -> None:
    assert (REPO / "config" / "threadwatch.toml").read_text() == default_config_text()


def test_defaults_hold_every_threshold_of_the_alert_table() -> None:
    rules = {(r.level, r.metric, r.comparison) for r in load_config().rules}
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
        ("[[rules]]\nlevel = 'red'\nrate = 'overlord'\nabove = 0.5\n", "rules.0"),
        ("[[rules]]\nlevel = 'red'\ncount = 'memory_errors'\n", "rules.0"),
        ("[[rules]]\nlevel = 'orange'\ncount = 'memory_errors'\nabove = 1\n", "rules.0.level"),
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
