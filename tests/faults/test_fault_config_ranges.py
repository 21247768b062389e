"""Fault: a config that validated and then broke (issue 9, items 6 and 7). ``window_seconds =
inf`` and ``bucket_seconds = 1e-320`` made ``tail`` die with a raw traceback; a 1e12
``firing_ttl_seconds`` blocked the Alertmanager sink, an empty ``secret`` signed with an empty
key, a rate threshold of 50 could never fire. Every real command now refuses such a file before
it starts, with one line per problem (all of them at once) and exit code 3."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "logs"

FOUR_PROBLEMS = """
[tail]
window_seconds = inf

[alerts.sinks.fleet]
type = "alertmanager"
url = "${FLEET_URL}"
firing_ttl_seconds = 1e12

[alerts.sinks.hook]
type = "webhook"
url = "${HOOK_URL}"
secret = ""

[[rules]]
name = "overload-red"
above = 50
"""


def _run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "state"),
           "FLEET_URL": "http://127.0.0.1:9/", "HOOK_URL": "http://127.0.0.1:9/"}
    return subprocess.run(
        [sys.executable, "-m", "threadwatch", *args], capture_output=True, text=True,
        env=env, stdin=subprocess.DEVNULL, timeout=60, check=False,
    )


@pytest.mark.parametrize(
    "command",
    [
        ["report", str(FIXTURES)],
        ["tail", "--format", "jsonl", str(FIXTURES)],
        ["alert-test"],
    ],
    ids=["report", "tail", "alert-test"],
)
def test_every_problem_is_one_line_and_the_command_exits_3(
    tmp_path: Path, command: list[str]
) -> None:
    config = tmp_path / "tw.toml"
    config.write_text(FOUR_PROBLEMS)
    result = _run(tmp_path, *command, "--config", str(config))
    assert result.returncode == 3, result.stderr
    assert result.stdout == ""
    prefix = f"threadwatch: invalid config {config}: "
    assert result.stderr.splitlines() == [
        prefix + "tail.window_seconds: Input should be a finite number",
        prefix + "alerts.sinks.fleet.firing_ttl_seconds: Input should be less than or equal"
                 " to 86400",
        prefix + 'alerts.sinks.hook.secret: empty: give a value ("${VARIABLE}"), or remove the'
                 " key to send unsigned",
        prefix + "rules.0.above: 50 looks like a percentage: write 0.5",
    ]


@pytest.mark.parametrize(
    ("setting", "key"),
    [("window_seconds = inf", "tail.window_seconds"),
     ("bucket_seconds = 1e-320", "tail.bucket_seconds")],
)
def test_tail_with_an_unusable_window_says_one_line_not_a_traceback(
    tmp_path: Path, setting: str, key: str
) -> None:
    config = tmp_path / "tw.toml"
    config.write_text(f"[tail]\n{setting}\n")
    result = _run(tmp_path, "tail", "--format", "jsonl", "--config", str(config),
                  str(FIXTURES))
    assert result.returncode == 3, result.stderr
    assert "Traceback" not in result.stderr
    [line] = result.stderr.splitlines()
    assert line.startswith(f"threadwatch: invalid config {config}: {key}: ")
