"""``report --format prometheus``: the node_exporter textfile format, checked by Prometheus's
own parser and by ``promtool check metrics`` (Debian's ``prometheus`` package)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "logs"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "threadwatch", "report", *args],
                          capture_output=True, text=True, timeout=120, check=False)


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text) for sample in family.samples
    }


def test_every_scope_count_and_rate_is_a_series() -> None:
    result = run("--format", "prometheus", str(FIXTURES))
    assert result.returncode == 2, result.stderr  # the exit code is still the level
    found = samples(result.stdout)
    report = json.loads(run("--format", "json", str(FIXTURES)).stdout)
    assert found["threadwatch_report_level", (("scope", "total"),)] == 2
    assert found["threadwatch_report_sources", ()] == len(report["sources"]) == 7
    for key, value in report["counts"].items():
        assert found["threadwatch_report_events", (("count", key), ("scope", "total"))] == value
    for source in report["sources"]:
        level = {"green": 0, "yellow": 1, "red": 2, "unknown": 3}[source["level"]]
        assert found["threadwatch_report_level", (("scope", source["path"]),)] == level
        for key, rate in source["rates"].items():
            series = ("threadwatch_report_ratio", (("rate", key), ("scope", source["path"])))
            # a rate with nothing to divide by is no series, not a 0 nor a NaN
            assert found.get(series) == rate


@pytest.mark.skipif(shutil.which("promtool") is None and not os.environ.get("CI"),
                    reason="promtool (Debian package prometheus) is not installed")
def test_promtool_accepts_it() -> None:
    promtool = shutil.which("promtool")
    assert promtool is not None, "CI must install the prometheus package (promtool)"
    text = run("--format", "prometheus", str(FIXTURES)).stdout
    check = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True,
                           text=True, timeout=60, check=False)
    assert check.returncode == 0, check.stdout + check.stderr
    assert check.stdout + check.stderr == ""  # no lint remark either


def test_a_file_name_that_is_not_utf8_is_a_label_with_a_visible_escape(tmp_path: Path) -> None:
    # a log written on a Latin-1 host: its name decodes with surrogates, which UTF-8 refuses
    # (the output was a traceback, exit 1, and node_exporter's file was left empty)
    latin = os.fsencode(tmp_path) + b"/m\xe9m.log"
    with open(latin, "wb") as log:
        log.write((FIXTURES / "host-a" / "tmp_batt_k3J9xQ2mPa_run.log").read_bytes())
    result = run("--format", "prometheus", str(tmp_path))
    assert result.returncode == 0, result.stderr
    found = samples(result.stdout)
    assert found["threadwatch_report_level", (("scope", f"{tmp_path}/m\\udce9m.log"),)] == 0


def test_nothing_readable_is_the_level_unknown_not_an_empty_file(tmp_path: Path) -> None:
    # from cron, "report -f prometheus DIR > t.prom.tmp; mv ..." replaced the metrics with an
    # empty file when the folder could not be read: every series gone, nothing said
    result = run("--format", "prometheus", str(tmp_path / "gone"))
    assert result.returncode == 3
    assert result.stderr == (f"threadwatch: nothing could be read: {tmp_path}/gone:"
                             " no such file or folder\n")
    found = samples(result.stdout)
    assert found["threadwatch_report_level", (("scope", "total"),)] == 3
    assert found["threadwatch_report_sources", ()] == 0
