"""Silences in the dispatcher, with memory sinks, a real state file and a fake clock: what is
held back, what is sent when the silence ends, what is never sent, and across a restart."""

from __future__ import annotations

import random
from pathlib import Path

from alert_helpers import alerts_config, change, health

from faults.tail_process import hold_write_lock
from threadwatch.alerts.dispatcher import AlertDispatcher
from threadwatch.alerts.log import format_alert_log, read_alert_log
from threadwatch.alerts.model import Status, Transition
from threadwatch.alerts.outbox import Outbox
from threadwatch.alerts.settings import AlertsConfig
from threadwatch.alerts.silences import Silence, SilenceStore
from threadwatch.alerts.testing import FakeClock, MemorySink
from threadwatch.events import Event, Kind
from threadwatch.health.levels import Level
from threadwatch.health.rules import Reason, Verdict
from threadwatch.health.window import ScopeHealth

A, B = "/logs/host1/a.log", "/logs/host2/b.log"


def _dispatcher(state: Path, sink: MemorySink, clock: FakeClock,
                config: AlertsConfig | None = None) -> AlertDispatcher:
    config = config or alerts_config(hold_seconds=0, group_wait_seconds=0,
                                     event_quiet_seconds=600)
    return AlertDispatcher(config,
                           Outbox(state), {"mem": sink}, clock, background=False,
                           rng=random.Random(1), silences=SilenceStore(state))


def _silence(state: Path, scope: str, clock: FakeClock, seconds: float = 3600,
             rule: str | None = None) -> Silence:
    store = SilenceStore(state)
    try:
        return store.add(scope, rule=rule, seconds=seconds, created_by="op@host",
                         comment="maintenance", now=clock.now)
    finally:
        store.close()


def _expire(state: Path, silence: Silence, clock: FakeClock) -> None:
    store = SilenceStore(state)
    try:
        store.expire(silence.id, "op@host", clock.now)
    finally:
        store.close()


def _level(dispatcher: AlertDispatcher, scope: str, level: Level, at: float) -> None:
    dispatcher.on_changes([change(scope, Level.GREEN, level, at)], [health(scope, level)])


def _sent(sink: MemorySink) -> list[tuple[str, str, str]]:
    return [(a.key, a.transition.value, a.level) for n in sink.sent for a in n.alerts]


def test_a_silenced_alert_is_held_back_and_recorded_with_the_silence_id(
        tmp_path: Path, clock: FakeClock) -> None:
    state, sink = tmp_path / "s.db", MemorySink()
    silence = _silence(state, "host1/*", clock)
    dispatcher = _dispatcher(state, sink, clock)
    dispatcher.on_changes([change(A, Level.GREEN, Level.RED, clock.now),
                           change(B, Level.GREEN, Level.RED, clock.now)],
                          [health(A, Level.RED), health(B, Level.RED)])
    dispatcher.tick(clock.now)
    dispatcher.tick(clock.advance(1))
    assert _sent(sink) == [(f"level:{B}", "firing", "red")]
    log = read_alert_log(state, now=clock.now)
    [held] = log.silenced
    assert (held.alert.key, held.silenced_by, held.sent_before) == (
        f"level:{A}", (silence.id,), False)
    assert [s.id for s in log.silences] == [silence.id]
    text = "\n".join(format_alert_log(log))
    assert f"level:{A}: silenced by {silence.id}" in text and "maintenance" in text
    dispatcher.close()


def test_when_the_silence_runs_out_the_still_firing_alert_is_sent_as_it_is_then(
        tmp_path: Path, clock: FakeClock) -> None:
    state, sink = tmp_path / "s.db", MemorySink()
    _silence(state, "a.log", clock, seconds=600)
    dispatcher = _dispatcher(state, sink, clock)
    _level(dispatcher, A, Level.YELLOW, clock.now)
    dispatcher.tick(clock.now)
    _level(dispatcher, A, Level.RED, clock.advance(60))  # escalates while silenced
    dispatcher.tick(clock.now)
    dispatcher.tick(clock.advance(539))
    assert sink.sent == []
    dispatcher.tick(clock.advance(1))  # the silence's end: no read of the table needed
    dispatcher.tick(clock.now)
    assert _sent(sink) == [(f"level:{A}", "firing", "red")]
    assert read_alert_log(state, now=clock.now).silenced == ()
    dispatcher.tick(clock.advance(3599))  # repeats count from the send
    assert len(sink.sent) == 1
    dispatcher.tick(clock.advance(1))
    assert _sent(sink)[-1] == (f"level:{A}", "repeat", "red")
    dispatcher.close()


def test_expiring_a_silence_lets_the_firing_alert_through_at_the_next_read(
        tmp_path: Path, clock: FakeClock) -> None:
    state, sink = tmp_path / "s.db", MemorySink()
    silence = _silence(state, "*", clock)
    dispatcher = _dispatcher(state, sink, clock)
    _level(dispatcher, A, Level.RED, clock.now)
    dispatcher.tick(clock.now)
    dispatcher.tick(clock.advance(30))
    assert sink.sent == []
    _expire(state, silence, clock)
    dispatcher.tick(clock.advance(1))
    dispatcher.tick(clock.now)
    assert _sent(sink) == [(f"level:{A}", "firing", "red")]
    dispatcher.close()


def test_a_silence_added_while_alerts_wait_in_the_group_holds_them_back(
        tmp_path: Path, clock: FakeClock) -> None:
    state, sink = tmp_path / "s.db", MemorySink()
    dispatcher = _dispatcher(state, sink, clock, alerts_config(hold_seconds=0,
                                                               group_wait_seconds=10))
    _level(dispatcher, A, Level.RED, clock.now)
    dispatcher.tick(clock.now)
    _silence(state, A, clock)
    dispatcher.tick(clock.advance(10))
    assert sink.sent == []
    assert [h.alert.key for h in read_alert_log(state, now=clock.now).silenced] == [f"level:{A}"]
    dispatcher.close()


def test_an_alert_silenced_throughout_is_never_sent_not_even_its_resolve(
        tmp_path: Path, clock: FakeClock) -> None:
    state, sink = tmp_path / "s.db", MemorySink()
    _silence(state, "*", clock, seconds=500)
    dispatcher = _dispatcher(state, sink, clock)
    _level(dispatcher, A, Level.RED, clock.now)
    dispatcher.on_events([Event(Kind.MEMORY_ERROR, A, 0, text="MemoryError")], clock.now)
    dispatcher.tick(clock.now)
    dispatcher.tick(clock.advance(300))
    _level(dispatcher, A, Level.GREEN, clock.now)  # the level alert is over, never sent
    dispatcher.tick(clock.now)
    dispatcher.tick(clock.advance(200))  # the silence is over; the event alert still fires
    dispatcher.tick(clock.now)
    assert _sent(sink) == [(f"event:memory-error:{A}", "firing", "red")]
    dispatcher.tick(clock.advance(600))
    assert _sent(sink)[-1] == (f"event:memory-error:{A}", "resolved", "red")
    assert f"level:{A}" not in {key for key, _, _ in _sent(sink)}
    assert read_alert_log(state, now=clock.now).silenced == ()
    dispatcher.close()


def test_an_alert_sent_before_the_silence_repeats_no_more_but_its_resolve_is_sent(
        tmp_path: Path, clock: FakeClock) -> None:
    state, sink = tmp_path / "s.db", MemorySink()
    dispatcher = _dispatcher(state, sink, clock, alerts_config(
        hold_seconds=0, group_wait_seconds=0, repeat_seconds=600))
    _level(dispatcher, A, Level.RED, clock.now)
    dispatcher.tick(clock.now)
    assert _sent(sink) == [(f"level:{A}", "firing", "red")]
    silence = _silence(state, "a.log", clock)
    dispatcher.tick(clock.advance(1))
    [shown] = read_alert_log(state, now=clock.now).silenced
    assert (shown.silenced_by, shown.sent_before) == ((silence.id,), True)
    dispatcher.tick(clock.advance(600))  # a repeat: held back
    dispatcher.tick(clock.advance(600))
    assert len(sink.sent) == 1
    [shown] = read_alert_log(state, now=clock.now).silenced
    assert (shown.alert.transition, shown.sent_before) == (Transition.REPEAT, True)
    _level(dispatcher, A, Level.GREEN, clock.advance(1))
    dispatcher.tick(clock.now)
    assert _sent(sink)[-1] == (f"level:{A}", "resolved", "red")
    assert read_alert_log(state, now=clock.now).silenced == ()
    dispatcher.close()


def test_a_sent_alert_silenced_for_a_while_is_sent_again_at_its_end_with_its_new_level(
        tmp_path: Path, clock: FakeClock) -> None:
    state, sink = tmp_path / "s.db", MemorySink()
    dispatcher = _dispatcher(state, sink, clock, alerts_config(
        hold_seconds=0, group_wait_seconds=0, repeat_seconds=600))
    _level(dispatcher, A, Level.RED, clock.now)
    dispatcher.tick(clock.now)
    _silence(state, "a.log", clock, seconds=900)
    _level(dispatcher, A, Level.YELLOW, clock.advance(1))
    dispatcher.tick(clock.advance(600))  # the repeat, at yellow: held back
    dispatcher.tick(clock.advance(300))  # the silence is over
    dispatcher.tick(clock.now)
    assert [(a.transition, a.level, a.previous_level) for n in sink.sent for a in n.alerts] == [
        (Transition.FIRING, "red", None), (Transition.REPEAT, "yellow", "red")]
    dispatcher.close()


def test_a_rule_silence_holds_back_only_that_rule(tmp_path: Path, clock: FakeClock) -> None:
    state, sink = tmp_path / "s.db", MemorySink()
    _silence(state, "*", clock, rule="memory-error")
    dispatcher = _dispatcher(state, sink, clock)
    _level(dispatcher, A, Level.RED, clock.now)
    dispatcher.on_events([Event(Kind.MEMORY_ERROR, A, 0, text="MemoryError")], clock.now)
    dispatcher.tick(clock.now)
    assert _sent(sink) == [(f"level:{A}", "firing", "red")]
    dispatcher.close()


def test_held_back_alerts_survive_a_restart_and_go_out_once_when_the_silence_ends(
        tmp_path: Path, clock: FakeClock) -> None:
    state, sink = tmp_path / "s.db", MemorySink()
    silence = _silence(state, "*", clock)
    first = _dispatcher(state, sink, clock)
    first.on_events([Event(Kind.MEMORY_ERROR, A, 0, text="MemoryError")], clock.now)
    first.tick(clock.now)
    first.close()  # (kill -9 leaves the same rows: each is committed when made)
    second = _dispatcher(state, sink, clock)
    second.tick(clock.advance(10))
    assert sink.sent == []
    _expire(state, silence, clock)
    second.tick(clock.advance(1))
    second.tick(clock.now)
    second.on_events([Event(Kind.MEMORY_ERROR, A, 0, text="MemoryError")], clock.advance(1))
    second.tick(clock.now)
    assert _sent(sink) == [(f"event:memory-error:{A}", "firing", "red")]
    assert sink.sent[0].alerts[0].samples == ("MemoryError",)
    second.close()


def test_a_held_back_alert_that_ended_before_a_restart_is_not_sent_after_it(
        tmp_path: Path, clock: FakeClock) -> None:
    state, sink = tmp_path / "s.db", MemorySink()
    silence = _silence(state, "*", clock)
    first = _dispatcher(state, sink, clock)
    _level(first, A, Level.RED, clock.now)
    first.tick(clock.now)
    first.close()
    _expire(state, silence, clock)
    second = _dispatcher(state, sink, clock)
    second.on_changes([change(A, Level.RED, Level.GREEN, clock.advance(5))],
                      [health(A, Level.GREEN)])
    second.tick(clock.now)
    second.tick(clock.advance(5))
    second.close()
    assert sink.sent == []
    outbox = Outbox(state)
    assert outbox.counts()["pending"] == 0
    outbox.close()


def test_without_silences_nothing_is_held(tmp_path: Path, clock: FakeClock) -> None:
    state, sink = tmp_path / "s.db", MemorySink()
    dispatcher = _dispatcher(state, sink, clock)
    _level(dispatcher, A, Level.RED, clock.now)
    dispatcher.tick(clock.now)
    _level(dispatcher, A, Level.GREEN, clock.advance(1))
    dispatcher.tick(clock.now)
    assert [a.status for n in sink.sent for a in n.alerts] == [Status.FIRING, Status.RESOLVED]
    dispatcher.close()


def test_a_held_back_alert_that_cannot_be_recorded_is_kept_and_recorded_later(
        tmp_path: Path, clock: FakeClock) -> None:
    state, sink = tmp_path / "s.db", MemorySink()
    silence = _silence(state, "*", clock)
    dispatcher = AlertDispatcher(
        alerts_config(hold_seconds=0, group_wait_seconds=0),
        Outbox(state, busy_timeout_seconds=0.05), {"mem": sink}, clock, background=False,
        silences=SilenceStore(state, busy_timeout_seconds=0.05))
    try:
        _level(dispatcher, A, Level.RED, clock.now)
        holder = hold_write_lock(state)
        try:
            dispatcher.tick(clock.now)  # no exception out of tail's loop
            dispatcher.tick(clock.advance(1))
        finally:
            holder.communicate("go\n", timeout=10)
        assert read_alert_log(state, now=clock.now).silenced == ()
        dispatcher.tick(clock.advance(1))
        [held] = read_alert_log(state, now=clock.now).silenced
        assert (held.alert.key, held.silenced_by) == (f"level:{A}", (silence.id,))
        assert sink.sent == []
    finally:
        dispatcher.close()


def test_a_silenced_alert_still_inhibits_what_it_explains(tmp_path: Path,
                                                          clock: FakeClock) -> None:
    """As in Alertmanager: silencing the root cause silences its page, and the alerts it
    inhibits stay inhibited; when the silence ends, only the root cause is sent."""
    state, sink = tmp_path / "s.db", MemorySink()
    silence = _silence(state, "*", clock, rule="memory-error")
    dispatcher = _dispatcher(state, sink, clock)
    memory = Reason(Level.RED, "memory_errors", False, 1, ">=", 1, "memory error")
    dispatcher.on_events([Event(Kind.MEMORY_ERROR, A, 0, text="MemoryError")], clock.now)
    dispatcher.on_changes([change(A, Level.GREEN, Level.RED, clock.now)],
                          [ScopeHealth(A, {}, {}, Verdict(Level.RED, (memory,)))])
    dispatcher.tick(clock.now)
    dispatcher.tick(clock.advance(10))
    assert sink.sent == []
    log = read_alert_log(state, now=clock.now)
    assert [one.alert.key for one in log.silenced] == [f"event:memory-error:{A}"]
    assert [one.alert.key for one in log.inhibited] == [f"level:{A}"]
    _expire(state, silence, clock)
    dispatcher.tick(clock.advance(1))
    dispatcher.tick(clock.now)
    assert _sent(sink) == [(f"event:memory-error:{A}", "firing", "red")]
    dispatcher.close()
