"""``report --format prometheus``: the verdict in the Prometheus text format, for
node_exporter's textfile collector (write it to ``<dir>/threadwatch.prom`` from cron; use a
temporary file and ``mv``, so that node_exporter never reads half a file).

Families (every series has ``scope``: ``total``, or a source's path as given):

* ``threadwatch_report_level`` — 0 green, 1 yellow, 2 red, 3 unknown;
* ``threadwatch_report_events{count=…}`` — each count of the report's JSON (``batches``,
  ``overload``, ``memory_errors`` …), one series per count key;
* ``threadwatch_report_ratio{rate=…}`` — each rate, 0 to 1 (absent when there is nothing to
  divide by: no batches, no samples);
* ``threadwatch_report_sources``, ``threadwatch_report_timestamp_seconds`` — how many sources
  were read, and when.

Label values are bounded: ``count`` and ``rate`` take the fixed keys of the JSON, ``scope`` one
value per source given (report a folder of 20 logs: 21 scopes). Counts are gauges, not
counters: a report reads files that are rotated and rewritten, so a count can go down.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector, CollectorRegistry

from threadwatch.health.levels import Level
from threadwatch.health.scope import ScopeReport
from threadwatch.report.model import Report


def prometheus_text(report: Report, now: float | None = None) -> bytes:
    """The report in the Prometheus text exposition format (version 0.0.4)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_ReportCollector(report, time.time() if now is None else now))
    return generate_latest(registry)


def prometheus_unknown(now: float | None = None) -> bytes:
    """The text when there is no verdict (nothing could be read, an invalid config): the
    total's level 3 (unknown) and no source, so that the textfile replaced by a failing run
    says so, rather than holding no series at all."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_UnknownCollector(time.time() if now is None else now))
    return generate_latest(registry)


class _UnknownCollector(Collector):
    def __init__(self, now: float) -> None:
        self._now = now

    def collect(self) -> Iterator[Metric]:
        level = GaugeMetricFamily(
            "threadwatch_report_level", "Verdict: 0 green, 1 yellow, 2 red, 3 unknown.",
            labels=["scope"])
        level.add_metric(["total"], int(Level.UNKNOWN))
        yield level
        yield GaugeMetricFamily("threadwatch_report_sources", "Sources read.", value=0)
        yield GaugeMetricFamily("threadwatch_report_timestamp_seconds",
                                "When the report was made (unix time).", value=self._now)


class _ReportCollector(Collector):
    def __init__(self, report: Report, now: float) -> None:
        self._report = report
        self._now = now

    def collect(self) -> Iterator[Metric]:
        scopes: list[ScopeReport] = [self._report.total, *self._report.sources]
        level = GaugeMetricFamily(
            "threadwatch_report_level", "Verdict: 0 green, 1 yellow, 2 red, 3 unknown.",
            labels=["scope"])
        events = GaugeMetricFamily(
            "threadwatch_report_events", "Events counted in the scope's files, by count key.",
            labels=["scope", "count"])
        ratio = GaugeMetricFamily(
            "threadwatch_report_ratio", "A rate of the scope (0 to 1), by rate name.",
            labels=["scope", "rate"])
        for scope in scopes:
            judged = scope.as_dict()
            name = _label(scope.scope)
            level.add_metric([name], int(scope.verdict.level))
            for key, value in judged["counts"].items():
                events.add_metric([name, key], value)
            for key, rate in judged["rates"].items():
                if rate is not None:
                    ratio.add_metric([name, key], rate)
        yield level
        yield events
        yield ratio
        yield GaugeMetricFamily("threadwatch_report_sources", "Sources read.",
                                value=len(self._report.sources))
        yield GaugeMetricFamily("threadwatch_report_timestamp_seconds",
                                "When the report was made (unix time).", value=self._now)


def _label(path: str) -> str:
    """A path as a label value, which must be UTF-8: the bytes of a file name in another
    encoding (decoded with surrogates) written as escapes, ``m\\udce9m.log``, as in the table."""
    return path.encode("utf-8", "backslashreplace").decode("utf-8")
