"""The metrics consumer in process, with a real health window and injected time: counters
that never go down (a window that empties, a source let go), scope labels capped."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import httpx
from prometheus_client.exposition import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import CollectorRegistry

from threadwatch.alerts.dispatcher import AlertDispatcher
from threadwatch.alerts.model import Notification
from threadwatch.alerts.outbox import Outbox
from threadwatch.alerts.testing import FakeClock, MemorySink
from threadwatch.config import load_config
from threadwatch.events import Event, Kind
from threadwatch.health.metrics import LIVE_KINDS
from threadwatch.health.window import Counted, ScopeHealth, WindowedHealth
from threadwatch.live.metrics import (
    FAMILIES,
    OTHER,
    MetricsCollector,
    MetricsExporter,
    MetricsServer,
    ScopeLabels,
)
from threadwatch.parse.grammar import Grammar
from threadwatch.parse.scanner import Scanner

CONFIG = load_config()
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def events_of(source: str, text: str) -> list[Event]:
    scanner = Scanner(source, Grammar(CONFIG.parse.program_files, LIVE_KINDS))
    return [*scanner.feed(text.encode()), *scanner.close()]


def batch(n: int, overloaded: bool = False) -> str:
    task = f"{n:08x}"
    middle = ("run_batt.py:566: -- System overloaded (64 threads), using sequential processing\n"
              if overloaded else "".join(f"<dynamic-code>:512: demo[{k}] - {task} - 1\n"
                                         for k in range(4)))
    return (f"run_batt.py:475: -- {task} - {n} --\n{middle}"
            f"run_batt.py:902: -- {task} - {n} done - 1 candidates scored\n")


class Followed:
    """The tail's side the exporter reads: a real window, no files."""

    def __init__(self) -> None:
        self.health = WindowedHealth(CONFIG, window_seconds=60, bucket_seconds=10)

    def snapshot(self, now: float) -> list[ScopeHealth]:
        return self.health.snapshot(now)

    def lag_bytes(self) -> dict[str, int]:
        return {}

    def followed(self) -> int:
        return len(self.health.sources())

    def counted(self, sources: Iterable[str]) -> dict[str, Counted]:
        return self.health.counted(sources)


def feed(tail: Followed, exporter: MetricsExporter, source: str, text: str, at: float) -> None:
    events = events_of(source, text)
    tail.health.add_all(events, at)
    exporter.on_events(events, at)


def test_counters_outlive_the_window_and_the_source() -> None:
    tail = Followed()
    exporter = MetricsExporter(tail, CONFIG)
    feed(tail, exporter, "a.log", batch(1) + batch(2, overloaded=True), at=1000.0)
    first = exporter.take(1001.0)
    assert first.scopes["a.log"].events["batches"] == 2
    assert first.scopes["a.log"].report is not None
    assert first.scopes["a.log"].report.counts["overload"] == 1

    later = exporter.take(2000.0)  # the window (60 s) is empty, the counter is not
    assert later.scopes["a.log"].report is not None
    assert later.scopes["a.log"].report.counts["batches"] == 0
    assert later.scopes["a.log"].events["batches"] == 2

    tail.health.forget("a.log")  # its file went away
    gone = exporter.take(2001.0)
    assert gone.scopes["a.log"].report is None  # no level or ratio for it any more
    assert gone.scopes["a.log"].events["overload"] == 1
    feed(tail, exporter, "a.log", batch(3), at=2002.0)  # the same name again
    back = exporter.take(2003.0)
    assert back.scopes["a.log"].events["batches"] == 3
    assert back.scopes["total"].events["batches"] == 3


def test_sources_past_the_cap_are_judged_together_as_other() -> None:
    tail = Followed()
    exporter = MetricsExporter(tail, CONFIG, max_scopes=1)
    feed(tail, exporter, "a.log", batch(1), at=1000.0)
    feed(tail, exporter, "b.log", batch(2, overloaded=True), at=1000.0)
    feed(tail, exporter, "c.log", batch(3), at=1000.0)
    snapshot = exporter.take(1001.0)
    assert set(snapshot.scopes) == {"a.log", OTHER, "total"}
    other = snapshot.scopes[OTHER]
    assert other.events["batches"] == 2
    assert other.report is not None and other.report.rates["overload"] == 0.5
    assert snapshot.scopes["total"].events["batches"] == 3


def test_labels_stay_with_the_first_sources_seen() -> None:
    labels = ScopeLabels(2)
    assert [labels(s) for s in ("a", "b", "c", "a", "total", "other")] == [
        "a", "b", OTHER, "a", OTHER, OTHER]


def families_of(text: str) -> dict[str, tuple[str, str, Samples]]:
    return {
        family.name: (family.type, family.documentation, {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for sample in family.samples})
        for family in text_string_to_metric_families(text)
    }


def test_the_served_text_says_what_prometheus_client_would(tmp_path: Path) -> None:
    """``/metrics`` is written without prometheus-client's encoder (too slow for a thousand
    sources): the families, types, help and every sample equal what its encoder writes from
    ``collect``, with label values that need escaping, a folded scope, a source gone and a
    sink with deliveries waiting and delivered."""
    tail = Followed()
    clock = FakeClock(1000.0)
    outbox = Outbox(tmp_path / "state.db")
    sink = MemorySink()
    sinks = {'hook "1"': sink, "b": MemorySink()}
    dispatcher = AlertDispatcher(CONFIG.alerts, outbox, sinks, clock, background=False,
                                 host="h")
    exporter = MetricsExporter(tail, CONFIG, max_scopes=5, dispatcher=dispatcher, outbox=outbox)
    odd = ['/var/log/"quoted".log', "C:\\runs\\b.log", "line\nbreak.log", "stalled.log",
           "gone.log", "folded.día"]
    for n, source in enumerate(odd):
        feed(tail, exporter, source, batch(n, overloaded=n % 2 == 0), at=1000.0)
    exporter.on_events([Event(Kind.STALLED, "stalled.log", 0)], 1001.0)  # labelled first
    tail.health.forget("gone.log")  # labelled next
    outbox.enqueue(Notification((), 1001.0, "h"), ['hook "1"', "b"])
    dispatcher.sender.deliver_due(1002.0)
    sink.fail_next()
    outbox.enqueue(Notification((), 1003.0, "h"), ['hook "1"'])
    dispatcher.sender.deliver_due(1003.5)  # the hook fails, b is fine
    exporter.tick(1004.0)

    collector = MetricsCollector(exporter)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    served = collector.exposition().decode()
    expected = families_of(generate_latest(registry).decode())
    assert families_of(served) == expected
    assert expected["threadwatch_events"][2][
        ("threadwatch_events_total", (("count", "batches"), ("scope", "line\nbreak.log")))] == 1
    assert len(expected) == len(FAMILIES)
    assert expected["threadwatch_sink_up"][2] == {
        ("threadwatch_sink_up", (("sink", 'hook "1"'),)): 0,
        ("threadwatch_sink_up", (("sink", "b"),)): 1}
    assert expected["threadwatch_sink_consecutive_failures"][2][
        ("threadwatch_sink_consecutive_failures", (("sink", 'hook "1"'),))] == 1
    assert expected["threadwatch_alerts"][2] == {
        ("threadwatch_alerts", (("state", state),)): 0
        for state in ("firing", "pending", "silenced", "inhibited")}
    dispatcher.close()


def test_without_a_sink_the_alert_families_have_no_series() -> None:
    """No sink configured: nothing is judged for alerting, so no alert counts (not zeros that
    would read as "all is well"); the families are still described."""
    tail = Followed()
    exporter = MetricsExporter(tail, CONFIG)
    feed(tail, exporter, "a.log", batch(1), at=1000.0)
    exporter.tick(1001.0)
    found = families_of(MetricsCollector(exporter).exposition().decode())
    for name in ("threadwatch_alerts", "threadwatch_sink_up",
                 "threadwatch_sink_consecutive_failures"):
        assert found[name][0] == "gauge" and found[name][2] == {}


def test_the_server_answers_the_text_format_gzipped_to_prometheus() -> None:
    """Prometheus asks for OpenMetrics first and takes gzip: it gets the text format,
    gzipped; a client without gzip gets it plain; a POST is refused."""
    tail = Followed()
    exporter = MetricsExporter(tail, CONFIG)
    feed(tail, exporter, "a.log", batch(1), at=1000.0)
    exporter.tick(1001.0)
    server = MetricsServer("127.0.0.1:0", MetricsCollector(exporter))
    url = f"http://127.0.0.1:{server.port}/metrics"
    try:
        with httpx.Client() as client:
            asked = client.get(url, headers={
                "Accept": "application/openmetrics-text;version=1.0.0,text/plain;"
                          "version=0.0.4;q=0.5", "Accept-Encoding": "gzip"})
            plain = client.get(url, headers={"Accept-Encoding": "identity"})
            posted = client.post(url)
    finally:
        server.close()
    assert asked.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert asked.headers["content-encoding"] == "gzip"
    assert "content-encoding" not in plain.headers
    assert asked.text == plain.text
    assert families_of(plain.text)["threadwatch_events"][2][
        ("threadwatch_events_total", (("count", "batches"), ("scope", "a.log")))] == 1
    assert posted.status_code == 405


def test_a_source_let_go_and_back_between_snapshots_keeps_counting_up() -> None:
    tail = Followed()
    exporter = MetricsExporter(tail, CONFIG)
    feed(tail, exporter, "a.log", batch(1) + batch(2), at=1000.0)
    assert exporter.take(1001.0).scopes["a.log"].events["batches"] == 2
    tail.health.forget("a.log")  # rotated away, and a new a.log read before the next snapshot
    feed(tail, exporter, "a.log", batch(3), at=1002.0)
    assert exporter.take(1003.0).scopes["a.log"].events["batches"] == 3
    assert exporter.take(1004.0).scopes["total"].events["batches"] == 3


def test_the_readme_lists_every_family() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text("utf-8")
    section = readme[readme.index("\n### Prometheus\n"):]
    section = section[:section.index("\n## ")]
    listed = {line.split("`")[1] for line in section.splitlines()
              if line.startswith("| `threadwatch_")}
    assert listed == {family.name for family in FAMILIES}


def test_a_label_that_is_not_utf8_is_written_with_escapes() -> None:
    # a file name in another encoding, as os.fsdecode gives it: the exposition must be UTF-8
    # (it raised UnicodeEncodeError: /metrics answered 500)
    from threadwatch.live.metrics import _label  # noqa: PLC0415 - the writer's own helper

    written = _label(os.fsdecode(b"/logs/m\xe9m.log"))
    assert written == "/logs/m\\\\udce9m.log"
    written.encode("utf-8")
