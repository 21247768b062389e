"""A fleet's path end to end, every part real: a ``threadwatch tail --metrics-listen`` follows
a log, a real Prometheus (Debian's ``prometheus``) scrapes it with the rules that ``threadwatch
rules --format prometheus`` generated, and the alert Prometheus raises for an overloaded batch
arrives at a real Alertmanager."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

CONFIG = """
[tail]
window_seconds = 120
poll_seconds = 0.05
sweep_seconds = 0.2
refresh_seconds = 0.1
[alerts]
hold_seconds = 0
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def overloaded_batch(n: int) -> str:
    task = f"{n:08x}"
    return (f"run_batt.py:475: -- {task} - {n} --\n"
            "run_batt.py:566: -- System overloaded (64 threads), using sequential processing\n"
            f"run_batt.py:902: -- {task} - {n} done - 1 candidates scored\n")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


@pytest.fixture
def prometheus_binary() -> str:
    found = shutil.which("prometheus")
    if found is None:
        reason = "prometheus not installed (apt-get install prometheus)"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; required when CI is set")
        pytest.skip(reason)
    return found


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in reversed(started):
        stop(process)


def test_an_overload_alert_goes_tail_to_prometheus_to_alertmanager(
    tmp_path: Path, alertmanager: str, prometheus_binary: str,
    processes: list[subprocess.Popen[bytes]],
) -> None:
    config = tmp_path / "threadwatch.toml"
    config.write_text(CONFIG)
    rules = subprocess.run(
        [sys.executable, "-m", "threadwatch", "rules", "--format", "prometheus",
         "--config", str(config)], capture_output=True, text=True, timeout=60, check=True)
    (tmp_path / "threadwatch.rules.yml").write_text(rules.stdout)

    log = tmp_path / "batt.log"
    log.write_text("")
    metrics_port = free_port()
    with (tmp_path / "tail.err").open("wb") as err:
        processes.append(subprocess.Popen(
            [sys.executable, "-m", "threadwatch", "tail", "--format", "jsonl",
             "--config", str(config), "--state", str(tmp_path / "state.db"),
             "--metrics-listen", f"127.0.0.1:{metrics_port}", str(log)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err))

    am_host = alertmanager.removeprefix("http://")
    (tmp_path / "prometheus.yml").write_text(f"""
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: ["{tmp_path / 'threadwatch.rules.yml'}"]
alerting:
  alertmanagers:
    - static_configs: [{{targets: ["{am_host}"]}}]
scrape_configs:
  - job_name: threadwatch
    static_configs: [{{targets: ["127.0.0.1:{metrics_port}"]}}]
""")
    prometheus_port = free_port()
    with (tmp_path / "prometheus.log").open("wb") as out:
        processes.append(subprocess.Popen(
            [prometheus_binary, f"--config.file={tmp_path / 'prometheus.yml'}",
             f"--storage.tsdb.path={tmp_path / 'tsdb'}",
             f"--web.listen-address=127.0.0.1:{prometheus_port}"],
            stdout=out, stderr=subprocess.STDOUT))

    with log.open("a") as stream:
        stream.write(overloaded_batch(1) + overloaded_batch(2))

    def arrived() -> list[dict[str, Any]]:
        for process, name in zip(processes, ("tail.err", "prometheus.log"), strict=True):
            assert process.poll() is None, (tmp_path / name).read_text()[-3000:]
        try:
            found: list[dict[str, Any]] = httpx.get(
                f"{alertmanager}/api/v2/alerts", timeout=5).json()
        except httpx.HTTPError:
            return []
        return [alert for alert in found
                if alert["labels"].get("alertname") == "ThreadwatchOverloadRatioCritical"
                and alert["labels"].get("job") == "threadwatch"]

    def scopes(alerts: list[dict[str, Any]]) -> set[str]:
        return {alert["labels"]["scope"] for alert in alerts}

    deadline = time.monotonic() + 90
    found = arrived()
    while not scopes(found) >= {str(log), "total"}:
        if time.monotonic() > deadline:
            pytest.fail("no alert from Prometheus at Alertmanager; prometheus log:\n"
                        + (tmp_path / "prometheus.log").read_text()[-3000:])
        time.sleep(0.5)
        found = arrived()
    labels = {alert["labels"]["scope"]: alert["labels"] for alert in found}
    assert labels[str(log)]["severity"] == "critical"
    assert labels[str(log)]["rate"] == "overload"
    assert labels[str(log)]["instance"] == f"127.0.0.1:{metrics_port}"
    assert found[0]["annotations"]["description"] == "system overload detection constant"
    assert found[0]["status"]["state"] == "active"
