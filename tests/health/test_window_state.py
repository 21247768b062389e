"""The health window saved and taken back: a window restored after any event reads exactly as
the window that never stopped (counts, open batches, runs, stalls, latest event)."""

from __future__ import annotations

from pathlib import Path

from threadwatch.config import Config, load_config
from threadwatch.events import Event, Kind
from threadwatch.health.metrics import LIVE_KINDS
from threadwatch.health.window import ScopeHealth, WindowedHealth
from threadwatch.parse.grammar import Grammar
from threadwatch.parse.scanner import Scanner

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
WINDOW, BUCKET = 60.0, 10.0


def fixture_events(config: Config) -> list[list[Event]]:
    """Every fixture log's events, one list per file."""
    grammar = Grammar(config.parse.program_files, LIVE_KINDS)  # what a tail reads
    found = []
    for path in sorted([*FIXTURES.rglob("*.log"), *FIXTURES.rglob("*.err")]):
        scanner = Scanner(str(path), grammar)
        events = scanner.feed(path.read_bytes()) + scanner.close()
        if events:
            found.append(events)
    return found


def steps(config: Config, chunk: int = 5) -> list[tuple[float, list[Event]]]:
    """The fixtures' events interleaved, ``chunk`` events of one file at a time, 3 s apart
    (so buckets fill, close batches later and leave the 60 s window)."""
    files = fixture_events(config)
    out: list[tuple[float, list[Event]]] = []
    at = 1_800_000_000.0
    position = 0
    while any(position < len(events) for events in files):
        for events in files:
            if position < len(events):
                out.append((at, events[position:position + chunk]))
                at += 3.0
        position += chunk
    return out


def view(healths: list[ScopeHealth]) -> list[tuple[object, ...]]:
    def last(event: Event | None) -> Event | None:
        return None if event is None else event._replace(text=event.text[:4000])

    return [(h.scope, h.counts, h.verdict.level, h.verdict.reasons, h.last_event_at,
             last(h.last_event)) for h in healths]


def restarted(config: Config, saved: dict[str, str], now: float) -> WindowedHealth:
    health = WindowedHealth(config, WINDOW, BUCKET)
    assert health.restore_state(saved, now) == []
    return health


def test_a_window_restored_after_every_step_reads_as_the_one_that_never_stopped() -> None:
    config = load_config()
    steady = WindowedHealth(config, WINDOW, BUCKET)
    restarting = WindowedHealth(config, WINDOW, BUCKET)
    saved: dict[str, str] = {}  # what the state file holds
    plan = steps(config)
    assert len(plan) > 100  # every fixture, a restart after every 5 events
    for at, events in plan:
        steady.add_all(events, at)
        restarting.add_all(events, at)
        for source, body in restarting.unsaved_state().items():
            if body is None:
                saved.pop(source, None)
            else:
                saved[source] = body
        restarting.state_saved()
        now = at + 1.0
        restarting = restarted(config, saved, now)
        assert view(restarting.snapshot(now)) == view(steady.snapshot(now)), at
    end = plan[-1][0] + 30.0
    assert view(restarting.snapshot(end)) == view(steady.snapshot(end))


def test_only_changed_sources_are_saved_and_a_forgotten_one_is_deleted() -> None:
    health = WindowedHealth(load_config(), WINDOW, BUCKET)
    health.add(Event(Kind.BATCH, "a.log", 0, task_id="0000000a", batch_index=1), 100.0)
    health.add(Event(Kind.BATCH, "b.log", 0, task_id="0000000b", batch_index=1), 100.0)
    assert set(health.unsaved_state()) == {"a.log", "b.log"}
    health.state_saved()
    assert health.unsaved_state() == {}
    health.add(Event(Kind.MEMORY_ERROR, "b.log", 9), 101.0)
    health.forget("a.log")
    unsaved = health.unsaved_state()
    assert unsaved["a.log"] is None and unsaved["b.log"] is not None and len(unsaved) == 2


def test_buckets_that_left_the_window_while_stopped_are_dropped() -> None:
    config = load_config()
    health = WindowedHealth(config, WINDOW, BUCKET)
    health.add(Event(Kind.MEMORY_ERROR, "a.log", 0), 100.0)
    saved = {k: v for k, v in health.unsaved_state().items() if v is not None}
    (_, total) = restarted(config, saved, 130.0).snapshot(130.0)
    assert total.counts["memory_errors"] == 1
    (_, total) = restarted(config, saved, 100.0 + WINDOW + BUCKET).snapshot(200.0)
    assert total.counts["memory_errors"] == 0


def test_a_stalled_source_stays_stalled_without_a_second_stalled_event() -> None:
    config = load_config()
    stall = config.runs.stall_seconds
    health = WindowedHealth(config, 900, BUCKET)
    health.add(Event(Kind.TASK_START, "a.log", 0, task_id="0000000a", batch_index=1), 100.0)
    health.add(Event(Kind.TASK_START, "b.log", 0, task_id="0000000b", batch_index=1), 100.0 + stall)
    assert [e.source for e in health.take_stalls(100.0 + stall)] == ["a.log"]
    saved = {k: v for k, v in health.unsaved_state().items() if v is not None}
    again = restarted(config, saved, 100.0 + 2 * stall)
    # a.log said it already; b.log went quiet while tail was stopped: said now, once
    assert [e.source for e in again.take_stalls(100.0 + 2 * stall)] == ["b.log"]
    assert again.take_stalls(100.0 + 2 * stall + 1) == []
    a, b, total = again.snapshot(100.0 + 2 * stall)
    assert (a.counts["stalled"], b.counts["stalled"], total.counts["stalled"]) == (1, 1, 2)


def test_a_timeout_kill_after_its_term_across_a_restart_is_one_timeout() -> None:
    config = load_config()
    health = WindowedHealth(config, WINDOW, BUCKET)
    health.add(Event(Kind.TASK_START, "a.log", 0, task_id="0000000a", batch_index=1), 100.0)
    health.add(Event(Kind.SCRIPT_TIMEOUT, "a.log", 50, error_type="TERM"), 101.0)
    saved = {k: v for k, v in health.unsaved_state().items() if v is not None}
    again = restarted(config, saved, 102.0)
    again.add(Event(Kind.SCRIPT_TIMEOUT, "a.log", 90, error_type="KILL"), 102.0)
    (_, total) = again.snapshot(102.0)
    assert total.counts["script_timeouts"] == 1


def test_a_window_saved_with_other_bucket_seconds_is_not_used() -> None:
    config = load_config()
    health = WindowedHealth(config, WINDOW, BUCKET)
    health.add(Event(Kind.MEMORY_ERROR, "a.log", 0), 100.0)
    saved = {k: v for k, v in health.unsaved_state().items() if v is not None}
    saved["b.log"] = "not json"
    other = WindowedHealth(config, WINDOW, 5.0)
    assert sorted(other.restore_state(saved, 101.0)) == ["a.log", "b.log"]
    assert other.sources() == []


def test_a_window_saved_with_a_count_unknown_here_is_not_used() -> None:
    """A state file from another version: its counts would not add up with these keys."""
    config = load_config()
    health = WindowedHealth(config, WINDOW, BUCKET)
    health.add(Event(Kind.MEMORY_ERROR, "a.log", 0), 100.0)
    body = health.unsaved_state()["a.log"]
    assert body is not None and '"memory_errors":1' in body
    renamed = {"a.log": body.replace('"memory_errors":1', '"memory_mishaps":1')}
    other = WindowedHealth(config, WINDOW, BUCKET)
    assert other.restore_state(renamed, 101.0) == ["a.log"]
    assert other.sources() == []
    other.snapshot(101.0)  # reads as before, with the source left out


def test_counted_is_what_this_process_counted_across_expiry_and_restart() -> None:
    """``counted`` (the /metrics counters) is every count the window made, also after its
    buckets leave the window; a window taken back at a restart counts from 0 again, and what
    it counts afterwards (a batch restored open and finished now included) adds up as in the
    process that never stopped."""
    config = load_config()
    script = steps(config)
    middle = len(script) // 2
    never = WindowedHealth(config, WINDOW, BUCKET)
    for at, events in script[:middle]:
        never.add_all(events, at)
        never.snapshot(at)  # buckets leave the window as time passes
    restart_at = script[middle][0]
    again = restarted(config, never.unsaved_state(), restart_at)
    before = {source: c.counts for source, c in never.counted(never.sources()).items()}
    assert all(not any(c.counts.values()) for c in again.counted(again.sources()).values())
    for at, events in script[middle:]:
        never.add_all(events, at)
        again.add_all(events, at)
        never.snapshot(at)
        again.snapshot(at)
    for source, counted in never.counted(never.sources()).items():
        since = again.counted([source])[source].counts
        assert {k: n - before.get(source, {}).get(k, 0) for k, n in counted.counts.items()} == {
            k: n for k, n in since.items()}, source
    totals = {k: sum(c.counts[k] for c in never.counted(never.sources()).values())
              for k in ("batches", "overload")}
    assert totals["batches"] > 0 and totals["overload"] > 0
