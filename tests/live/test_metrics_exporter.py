"""The metrics consumer in process, with a real health window and injected time: counters
that never go down (a window that empties, a source let go), scope labels capped."""

from __future__ import annotations

from threadwatch.config import load_config
from threadwatch.events import Event
from threadwatch.health.metrics import LIVE_KINDS
from threadwatch.health.window import ScopeHealth, WindowedHealth
from threadwatch.live.metrics import OTHER, MetricsExporter, ScopeLabels
from threadwatch.parse.grammar import Grammar
from threadwatch.parse.scanner import Scanner

CONFIG = load_config()


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
