"""``threadwatch rules --format prometheus``: the file is checked by ``promtool check rules``,
and ``promtool test rules`` (Debian's ``prometheus`` package) runs, for every configured rule,
one series that crosses its threshold and one that stays on the safe side of it: the crossing
one fires after the hold time, never before, with the severity and the rule's ``why``; the
other never fires. The series are made from the config, so a rule added is a rule tested."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from threadwatch.config import load_config
from threadwatch.health.settings import Rule

needs_promtool = pytest.mark.skipif(
    shutil.which("promtool") is None and not os.environ.get("CI"),
    reason="promtool (Debian package prometheus) is not installed")

CUSTOM = """
[alerts]
hold_seconds = 90
[[rules]]
name = "process-pool-used-yellow"
below = 0.3
why = "few batches on the process pool"
hold_seconds = 300
[[rules]]
name = "chunk-timeouts-red"
level = "red"
count = "chunk_timeouts"
above = 2
why = "chunks time out"
[[rules]]
name = "chunk-timeouts-yellow"
above = 2
[[rules]]
name = "stalled-red"
enabled = false
"""


def run_rules(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "threadwatch", "rules", *args],
                          capture_output=True, text=True, timeout=120, check=False)


def alerts_of(text: str, group: str = "threadwatch") -> list[dict[str, Any]]:
    """The alerting rules of ``group`` in the generated file (each ``key: "json string"``
    line of an alert, labels and annotations flattened)."""
    found: list[dict[str, Any]] = []
    inside = False
    for line in text.splitlines():
        key, _, value = line.strip().removeprefix("- ").partition(": ")
        if key == "name" and line.startswith("  - "):
            inside = json.loads(value) == group
        if not inside:
            continue
        if key == "alert":
            found.append({})
        if found and value.startswith('"'):
            found[-1][key] = json.loads(value)
    return found


def crossing_and_safe(rule: Rule) -> tuple[float, float | None]:
    """A value that meets the rule, and one that does not (None: every value meets it)."""
    operator, threshold = rule.comparison
    step = 0.05 if rule.is_rate else 1.0
    top = 1.0 if rule.is_rate else math.inf
    if operator == ">":
        return min(top, threshold + step), threshold
    if operator == ">=":
        return threshold, threshold - step if threshold >= step else None
    if operator == "<":
        return max(0.0, threshold - step), threshold
    return threshold, min(top, threshold + step)  # <=


def series(rule: Rule, scope: str) -> str:
    family, label = (("threadwatch_ratio", "rate") if rule.is_rate
                     else ("threadwatch_window_events", "count"))
    return (f'{family}{{scope="{scope}",{label}="{rule.metric}",instance="batt1:9464",'
            f'job="threadwatch"}}')


def enabled(rules: tuple[Rule, ...]) -> list[Rule]:
    return [rule for rule in rules if rule.enabled]


def hold_of(rule: Rule, hold_seconds: float) -> float:
    return hold_seconds if rule.hold_seconds is None else rule.hold_seconds


def unit_tests(rules: tuple[Rule, ...], alerts: list[dict[str, Any]],
               hold_seconds: float) -> dict[str, Any]:
    """A ``promtool test rules`` file: one test per enabled rule."""
    tests = []
    for rule, alert in zip(enabled(rules), alerts, strict=True):
        hold = hold_of(rule, hold_seconds)
        minutes = math.ceil(hold / 60) + 1  # past the hold time
        crossing, safe = crossing_and_safe(rule)
        inputs = [{"series": series(rule, "/logs/bad.log"),
                   "values": f"{crossing!r}x{minutes + 5}"}]
        if safe is not None:
            inputs.append({"series": series(rule, "/logs/fine.log"),
                           "values": f"{safe!r}x{minutes + 5}"})
        label = "rate" if rule.is_rate else "count"
        fired = {
            "exp_labels": {"scope": "/logs/bad.log", label: rule.metric,
                           "instance": "batt1:9464", "job": "threadwatch",
                           "severity": {"yellow": "warning", "red": "critical"}[rule.level.label],
                           "rule": rule.name},
            "exp_annotations": {
                "summary": alert["summary"].replace("{{ $labels.scope }}", "/logs/bad.log"),
                "description": rule.why or alert["description"],
            },
        }
        checks = [{"eval_time": f"{minutes}m", "alertname": alert["alert"],
                   "exp_alerts": [fired]}]
        if hold >= 60:
            checks.append({"eval_time": "0m", "alertname": alert["alert"], "exp_alerts": []})
        tests.append({"interval": "1m", "input_series": inputs, "alert_rule_test": checks})
    return {"rule_files": ["rules.yml"], "evaluation_interval": "1m", "tests": tests}


@pytest.fixture(params=["default", "custom"])
def config_args(request: pytest.FixtureRequest, tmp_path: Path) -> list[str]:
    if request.param == "default":
        return []
    path = tmp_path / "custom.toml"
    path.write_text(CUSTOM)
    return ["--config", str(path)]


def test_one_alert_per_rule_with_hold_severity_and_why(config_args: list[str]) -> None:
    config = load_config(config_args[1] if config_args else None)
    result = run_rules("--format", "prometheus", *config_args)
    assert result.returncode == 0, result.stderr
    alerts = alerts_of(result.stdout)
    assert len(alerts) == len(enabled(config.rules)) > 0
    assert len({alert["alert"] for alert in alerts}) == len(alerts)  # names are unique
    for rule, alert in zip(enabled(config.rules), alerts, strict=True):
        operator, threshold = rule.comparison
        assert alert["for"] == f"{hold_of(rule, config.alerts.hold_seconds):g}s"
        assert alert["severity"] == {"yellow": "warning", "red": "critical"}[rule.level.label]
        assert alert["rule"] == rule.name
        assert f'"{rule.metric}"}} {operator} ' in alert["expr"]
        assert float(alert["expr"].rsplit(" ", 1)[1]) == threshold
        if rule.why:
            assert alert["description"] == rule.why


@needs_promtool
def test_promtool_checks_and_tests_every_rule(config_args: list[str], tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    assert promtool is not None, "CI must install the prometheus package (promtool)"
    config = load_config(config_args[1] if config_args else None)
    text = run_rules("--format", "prometheus", *config_args).stdout
    (tmp_path / "rules.yml").write_text(text)
    check = subprocess.run([promtool, "check", "rules", "rules.yml"], cwd=tmp_path,
                           capture_output=True, text=True, timeout=60, check=False)
    assert check.returncode == 0, check.stdout + check.stderr
    assert f"SUCCESS: {len(enabled(config.rules)) + 1} rules found" in check.stdout  # SinkDown
    tests = unit_tests(config.rules, alerts_of(text), config.alerts.hold_seconds)
    (tmp_path / "tests.yml").write_text(json.dumps(tests, indent=1))  # JSON is YAML
    run = subprocess.run([promtool, "test", "rules", "tests.yml"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 0, run.stdout + run.stderr


@needs_promtool
def test_promtool_test_fails_when_a_rule_is_off(tmp_path: Path) -> None:
    """The generated tests can fail: a threshold moved in the file is caught."""
    promtool = shutil.which("promtool")
    assert promtool is not None
    config = load_config(None)
    text = run_rules("--format", "prometheus").stdout
    moved = text.replace('threadwatch_ratio{rate=\\"overload\\"} > 0.5',
                         'threadwatch_ratio{rate=\\"overload\\"} > 0.6')
    assert moved != text
    (tmp_path / "rules.yml").write_text(moved)
    tests = unit_tests(config.rules, alerts_of(text), config.alerts.hold_seconds)
    (tmp_path / "tests.yml").write_text(json.dumps(tests))
    run = subprocess.run([promtool, "test", "rules", "tests.yml"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode != 0
    assert "ThreadwatchOverloadRatioCritical" in run.stdout + run.stderr


def test_a_bad_config_is_exit_3(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('[[rules]]\nname = "overload-red"\nabove = 50\n')
    result = run_rules("--config", str(path))
    assert result.returncode == 3
    assert result.stderr.startswith("threadwatch: ") and "percentage" in result.stderr
    assert result.stdout == ""


@needs_promtool
def test_a_sink_failing_for_ten_minutes_fires_sink_down(tmp_path: Path) -> None:
    """The ``threadwatch-delivery`` group: a sink down (``threadwatch_sink_up`` 0) fires
    ``ThreadwatchSinkDown`` after 10 minutes, not before; a sink that recovers, or is up,
    does not."""
    promtool = shutil.which("promtool")
    assert promtool is not None
    text = run_rules("--format", "prometheus").stdout
    sink_down, = alerts_of(text, "threadwatch-delivery")
    assert sink_down["alert"] == "ThreadwatchSinkDown" and sink_down["for"] == "600s"
    (tmp_path / "rules.yml").write_text(text)
    labels = 'instance="batt1:9464",job="threadwatch"'
    tests = {"rule_files": ["rules.yml"], "evaluation_interval": "1m", "tests": [{
        "interval": "1m",
        "input_series": [
            {"series": f'threadwatch_sink_up{{sink="ops",{labels}}}', "values": "0x15"},
            {"series": f'threadwatch_sink_up{{sink="flaky",{labels}}}',
             "values": "0x8 1 0x6"},  # never 10 minutes in a row
            {"series": f'threadwatch_sink_up{{sink="fine",{labels}}}', "values": "1x15"},
        ],
        "alert_rule_test": [
            {"eval_time": "9m", "alertname": "ThreadwatchSinkDown", "exp_alerts": []},
            {"eval_time": "15m", "alertname": "ThreadwatchSinkDown", "exp_alerts": [{
                "exp_labels": {"sink": "ops", "instance": "batt1:9464", "job": "threadwatch",
                               "severity": "warning"},
                "exp_annotations": {
                    "summary": "batt1:9464: alert sink ops failing for 10 minutes",
                    "description": sink_down["description"]},
            }]},
        ],
    }]}
    (tmp_path / "tests.yml").write_text(json.dumps(tests))
    run = subprocess.run([promtool, "test", "rules", "tests.yml"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
