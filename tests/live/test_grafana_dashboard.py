"""``config/grafana-dashboard.json`` against what a real ``tail --metrics-listen`` exports: every
metric its queries name is in a real scrape, and every query (Grafana's variables filled in)
is accepted and answered by a real Prometheus (Debian's ``prometheus``) scraping that tail."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from pytest_httpserver import HTTPServer

from faults.tail_process import MEMORY_ERROR, append, healthy_batch
from sources.tail_helpers import wait_until
from threadwatch.live.metrics import FAMILIES

DASHBOARD = Path(__file__).resolve().parents[2] / "config" / "grafana-dashboard.json"

CONFIG = """
[tail]
poll_seconds = 0.05
sweep_seconds = 0.2
refresh_seconds = 0.1
[alerts]
hold_seconds = 0
group_wait_seconds = 0
[alerts.sinks.hook]
type = "webhook"
url = "${DASHBOARD_HOOK_URL}"
"""

# Grafana's variables, as its "All" option fills them (allValue ".*")
VARIABLES = {"$job": ".*", "$host": ".*", "$__rate_interval": "1m"}
_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and",
             "or", "unless", "offset", "inf", "nan"}


def overloaded_batch(n: int) -> str:
    task = f"{n:08x}"
    return (f"run_batt.py:475: -- {task} - {n} --\n"
            "run_batt.py:566: -- System overloaded (64 threads), using sequential processing\n"
            f"run_batt.py:902: -- {task} - {n} done - 1 candidates scored\n")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def queries(dashboard: dict[str, Any]) -> list[str]:
    """Every PromQL expression of the dashboard, variables filled in: each panel's targets
    (rows' nested panels too), and the selector inside each ``label_values(SELECTOR, label)``
    variable."""
    found: list[str] = []

    def panels(items: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        for item in items:
            yield item
            yield from panels(item.get("panels", []))

    for panel in panels(dashboard["panels"]):
        found += [target["expr"] for target in panel.get("targets", [])]
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            query = variable["query"]["query"]
            inner = re.fullmatch(r"label_values\((.+), *\w+\)", query)
            assert inner is not None, query
            found.append(inner.group(1))
    filled = []
    for query in found:
        for name, value in VARIABLES.items():
            query = query.replace(name, value)  # noqa: PLW2901 - filled in step by step
        assert "$" not in query, f"a variable the test does not know: {query}"
        filled.append(query)
    return filled


def metric_names(expr: str) -> set[str]:
    """The metric names of a PromQL expression: its identifiers, once strings, label
    matchers, ranges and grouping clauses are taken out, that are not functions (followed by
    ``(``) or keywords."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    expr = re.sub(r"\{[^}]*\}", " ", expr)
    expr = re.sub(r"\[[^\]]*\]", " ", expr)
    expr = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ",
                  expr)
    names = set()
    for match in re.finditer(r"(?<![\w.])[a-zA-Z_:][a-zA-Z0-9_:]*", expr):
        rest = expr[match.end():].lstrip()
        if not rest.startswith("(") and match.group().lower() not in _KEYWORDS:
            names.add(match.group())
    return names


def test_metric_names_are_found_in_promql() -> None:
    expr = ('sum by (instance, count) (rate(threadwatch_events_total{job=~".*", '
            'scope="total"}[1m])) > 0 and on (instance) time() - up offset 5m')
    assert metric_names(expr) == {"threadwatch_events_total", "up"}


@pytest.fixture
def exporting_tail(tmp_path: Path, httpserver: HTTPServer) -> Iterator[tuple[int, str]]:
    """A real tail with metrics, having read healthy and overloaded batches and delivered an
    alert for a memory error (so every family has a sample): its port and a scrape."""
    httpserver.expect_request("/hook").respond_with_data("ok")
    config = tmp_path / "threadwatch.toml"
    config.write_text(CONFIG)
    log = tmp_path / "batt.log"
    log.write_text("")
    port = free_port()
    with (tmp_path / "tail.err").open("wb") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "threadwatch", "tail", "--format", "jsonl",
             "--config", str(config), "--state", str(tmp_path / "state.db"),
             "--metrics-listen", f"127.0.0.1:{port}", str(log)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
            env={**os.environ, "DASHBOARD_HOOK_URL": httpserver.url_for("/hook")})
    try:
        append(log, healthy_batch(1) + overloaded_batch(2) + MEMORY_ERROR)
        scraped = ""

        def complete() -> bool:
            nonlocal scraped
            assert process.poll() is None, (tmp_path / "tail.err").read_text()
            try:
                scraped = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
            except httpx.TransportError:
                return False
            return "threadwatch_last_delivery_timestamp_seconds{" in scraped

        wait_until(complete, "a scrape with a delivered alert", timeout=30)
        yield port, scraped
    finally:
        process.terminate()
        process.wait(20)


def test_every_metric_the_dashboard_queries_is_exported(
        exporting_tail: tuple[int, str]) -> None:
    _, scraped = exporting_tail
    exported = {sample.name for family in text_string_to_metric_families(scraped)
                for sample in family.samples}
    dashboard = json.loads(DASHBOARD.read_text())
    used: set[str] = set()
    for expr in queries(dashboard):
        names = metric_names(expr)
        assert names, f"no metric in {expr!r}"
        assert names <= exported, f"{expr!r} names metrics not exported: {names - exported}"
        used |= names
    # and the dashboard shows every family but none left out
    assert used == {spec.name for spec in FAMILIES}


@pytest.fixture
def prometheus_binary() -> str:
    found = shutil.which("prometheus")
    if found is None:
        reason = "prometheus not installed (apt-get install prometheus)"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; required when CI is set")
        pytest.skip(reason)
    return found


def test_prometheus_answers_every_query_of_the_dashboard(
        tmp_path: Path, exporting_tail: tuple[int, str], prometheus_binary: str) -> None:
    port, _ = exporting_tail
    (tmp_path / "prometheus.yml").write_text(f"""
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: threadwatch
    static_configs: [{{targets: ["127.0.0.1:{port}"]}}]
""")
    prometheus_port = free_port()
    api = f"http://127.0.0.1:{prometheus_port}/api/v1/query"
    with (tmp_path / "prometheus.log").open("wb") as out:
        prometheus = subprocess.Popen(
            [prometheus_binary, f"--config.file={tmp_path / 'prometheus.yml'}",
             f"--storage.tsdb.path={tmp_path / 'tsdb'}",
             f"--web.listen-address=127.0.0.1:{prometheus_port}"],
            stdout=out, stderr=subprocess.STDOUT)
    try:
        def scraped_twice() -> bool:  # rate() needs two samples
            assert prometheus.poll() is None, (tmp_path / "prometheus.log").read_text()[-3000:]
            try:
                response = httpx.get(api, params={"query": "count_over_time(up[1m])"},
                                     timeout=5)
            except httpx.HTTPError:
                return False
            if response.status_code != 200:  # 503 "Service Unavailable" while it starts
                return False
            answer = response.json()
            result = answer.get("data", {}).get("result", [])
            return bool(result) and float(result[0]["value"][1]) >= 3

        wait_until(scraped_twice, "Prometheus to scrape the tail three times", timeout=60)
        bad = httpx.get(api, params={"query": "threadwatch_level{"}, timeout=5).json()
        assert bad["status"] == "error"  # what a query Prometheus cannot parse gets

        for expr in queries(json.loads(DASHBOARD.read_text())):
            answer = httpx.get(api, params={"query": expr}, timeout=5).json()
            assert answer["status"] == "success", f"{expr!r}: {answer}"
            if " > 0" not in expr:  # a filter: no failed delivery, no series
                assert answer["data"]["result"], f"{expr!r} has no data"
    finally:
        prometheus.terminate()
        prometheus.wait(20)
