"""The dispatcher with memory sinks and a fake clock: grouping, outbox, retries, restart."""

from __future__ import annotations

import random
from pathlib import Path

from alert_helpers import alerts_config, change, health

from threadwatch.alerts.dispatcher import AlertDispatcher
from threadwatch.alerts.model import Status, Transition
from threadwatch.alerts.outbox import DELIVERED, FAILED, PENDING, Outbox
from threadwatch.alerts.settings import AlertsConfig
from threadwatch.alerts.testing import FakeClock, MemorySink
from threadwatch.errors import DeliveryError
from threadwatch.events import Event, Kind
from threadwatch.health.levels import Level


def _dispatcher(state: Path, sink: MemorySink, clock: FakeClock,
                config: AlertsConfig | None = None) -> AlertDispatcher:
    return AlertDispatcher(config or alerts_config(hold_seconds=0), Outbox(state), {"mem": sink},
                           clock, background=False, rng=random.Random(1))


def _go_red(dispatcher: AlertDispatcher, scope: str, at: float) -> None:
    dispatcher.on_changes([change(scope, Level.GREEN, Level.RED, at)], [health(scope, Level.RED)])


def test_alerts_starting_within_group_wait_go_out_as_one_message(tmp_path: Path,
                                                                  clock: FakeClock) -> None:
    sink = MemorySink()
    dispatcher = _dispatcher(tmp_path / "s.db", sink, clock)
    dispatcher.on_changes([change("a.log", Level.GREEN, Level.RED, clock.now)],
                          [health("a.log", Level.RED), health("total", Level.GREEN)])
    dispatcher.tick(clock.now)
    dispatcher.on_changes([change("b.log", Level.GREEN, Level.RED, clock.advance(5))],
                          [health("a.log", Level.RED), health("b.log", Level.RED),
                           health("total", Level.GREEN)])
    dispatcher.tick(clock.now)
    assert sink.sent == []
    dispatcher.tick(clock.advance(5))
    dispatcher.close()
    [message] = sink.sent
    assert [a.key for a in message.alerts] == ["level:a.log", "level:b.log"]


def test_an_alert_is_in_the_outbox_before_any_attempt(tmp_path: Path, clock: FakeClock) -> None:
    sink = MemorySink()
    sink.fail_next()
    dispatcher = _dispatcher(tmp_path / "s.db", sink, clock, alerts_config(
        hold_seconds=0, group_wait_seconds=0))
    _go_red(dispatcher, "total", clock.now)
    dispatcher.tick(clock.now)
    dispatcher.close()
    outbox = Outbox(tmp_path / "s.db")
    [delivery] = outbox.deliveries()
    assert (delivery.state, delivery.attempts, delivery.last_error) == (PENDING, 1, "HTTP 503")
    outbox.close()


def test_failed_attempts_back_off_then_deliver(tmp_path: Path, clock: FakeClock) -> None:
    sink = MemorySink()
    sink.fail_next(2)
    config = alerts_config(hold_seconds=0, group_wait_seconds=0,
                           delivery={"backoff_initial_seconds": 10, "backoff_max_seconds": 15})
    dispatcher = _dispatcher(tmp_path / "s.db", sink, clock, config)
    _go_red(dispatcher, "total", clock.now)
    dispatcher.tick(clock.now)  # attempt 1 fails: next in 5-10 s
    dispatcher.tick(clock.advance(4.9))
    assert len(sink.failures) == 1
    dispatcher.tick(clock.advance(5.1))  # attempt 2 fails: next in 7.5-15 s (capped)
    assert not sink.failures
    dispatcher.tick(clock.advance(7.4))
    assert sink.sent == []
    dispatcher.tick(clock.advance(7.6))
    dispatcher.close()
    assert len(sink.sent) == 1


def test_retry_after_is_honoured(tmp_path: Path, clock: FakeClock) -> None:
    sink = MemorySink()
    sink.fail_next(error=DeliveryError("HTTP 429", retryable=True, retry_after=120))
    dispatcher = _dispatcher(tmp_path / "s.db", sink, clock, alerts_config(
        hold_seconds=0, group_wait_seconds=0))
    _go_red(dispatcher, "total", clock.now)
    dispatcher.tick(clock.now)
    dispatcher.tick(clock.advance(119))
    assert sink.sent == []
    dispatcher.tick(clock.advance(1))
    dispatcher.close()
    assert len(sink.sent) == 1


def test_a_refused_notification_is_kept_as_failed_and_the_next_goes_out(
        tmp_path: Path, clock: FakeClock) -> None:
    sink = MemorySink()
    sink.fail_next(error=DeliveryError("HTTP 400: invalid_payload", retryable=False))
    dispatcher = _dispatcher(tmp_path / "s.db", sink, clock, alerts_config(
        hold_seconds=0, group_wait_seconds=0))
    _go_red(dispatcher, "total", clock.now)
    dispatcher.tick(clock.now)
    dispatcher.on_changes([change("total", Level.RED, Level.GREEN, clock.advance(1))],
                          [health("total", Level.GREEN)])
    dispatcher.tick(clock.now)
    dispatcher.close()
    assert [n.alerts[0].status for n in sink.sent] == [Status.RESOLVED]
    outbox = Outbox(tmp_path / "s.db")
    assert outbox.counts() == {PENDING: 0, DELIVERED: 1, FAILED: 1}
    outbox.close()


def test_undelivered_past_the_maximum_age_is_kept_as_failed(tmp_path: Path,
                                                           clock: FakeClock) -> None:
    sink = MemorySink()
    sink.fail_next(100)
    config = alerts_config(hold_seconds=0, group_wait_seconds=0, repeat_seconds=86400,
                           delivery={"max_age_seconds": 3600, "backoff_max_seconds": 60})
    dispatcher = _dispatcher(tmp_path / "s.db", sink, clock, config)
    _go_red(dispatcher, "total", clock.now)
    for _ in range(61):
        dispatcher.tick(clock.advance(60))
    dispatcher.close()
    outbox = Outbox(tmp_path / "s.db")
    [delivery] = outbox.deliveries()
    assert delivery.state == FAILED
    assert delivery.last_error is not None and "too old" in delivery.last_error
    outbox.close()


def test_a_sink_gets_firing_before_resolved_even_after_an_outage(tmp_path: Path,
                                                                clock: FakeClock) -> None:
    sink = MemorySink()
    sink.fail_next(3)
    dispatcher = _dispatcher(tmp_path / "s.db", sink, clock, alerts_config(
        hold_seconds=0, group_wait_seconds=0))
    _go_red(dispatcher, "total", clock.now)
    dispatcher.tick(clock.now)
    dispatcher.on_changes([change("total", Level.RED, Level.GREEN, clock.advance(1))],
                          [health("total", Level.GREEN)])
    for _ in range(10):
        dispatcher.tick(clock.advance(60))
    dispatcher.close()
    assert [n.alerts[0].transition for n in sink.sent] == [Transition.FIRING,
                                                          Transition.RESOLVED]


def test_slack_like_sinks_get_at_most_one_message_per_interval(tmp_path: Path,
                                                              clock: FakeClock) -> None:
    sink = MemorySink()
    config = alerts_config(hold_seconds=0, group_wait_seconds=0, sinks={
        "mem": {"type": "slack", "url": "${X}", "min_interval_seconds": 1.0}})
    dispatcher = _dispatcher(tmp_path / "s.db", sink, clock, config)
    for i in range(3):
        dispatcher.on_events([Event(Kind.MEMORY_ERROR, f"{i}.log", 0, text="x")], clock.now)
        dispatcher.tick(clock.now)
        dispatcher.flush(clock.now)
    dispatcher.tick(clock.now)
    assert len(sink.sent) == 1
    dispatcher.tick(clock.advance(1))
    dispatcher.close()
    assert len(sink.sent) == 2


def test_a_firing_alert_resumes_after_restart_without_firing_again(tmp_path: Path,
                                                                  clock: FakeClock) -> None:
    sink = MemorySink()
    first = _dispatcher(tmp_path / "s.db", sink, clock, alerts_config(
        hold_seconds=0, group_wait_seconds=0))
    _go_red(first, "total", clock.now)
    first.tick(clock.now)
    first.close()
    second = _dispatcher(tmp_path / "s.db", sink, clock, alerts_config(
        hold_seconds=0, group_wait_seconds=0))
    _go_red(second, "total", clock.advance(5))
    second.tick(clock.now)
    second.on_changes([change("total", Level.RED, Level.GREEN, clock.advance(5))],
                      [health("total", Level.GREEN)])
    second.tick(clock.now)
    second.close()
    assert [n.alerts[0].transition for n in sink.sent] == [Transition.FIRING,
                                                          Transition.RESOLVED]


def test_closing_sends_nothing_but_keeps_the_group_in_the_outbox(tmp_path: Path,
                                                                clock: FakeClock) -> None:
    sink = MemorySink()
    dispatcher = _dispatcher(tmp_path / "s.db", sink, clock)
    _go_red(dispatcher, "total", clock.now)
    dispatcher.tick(clock.now)
    dispatcher.close()
    assert sink.sent == [] and sink.closed
    outbox = Outbox(tmp_path / "s.db")
    assert outbox.counts()[PENDING] == 1
    outbox.close()


def test_sink_states_say_since_when_a_sink_fails_and_why_until_it_delivers_again(
        tmp_path: Path, clock: FakeClock) -> None:
    sink = MemorySink()
    sink.fail_next(2)
    config = alerts_config(hold_seconds=0, group_wait_seconds=0,
                           delivery={"backoff_initial_seconds": 1, "backoff_max_seconds": 1})
    dispatcher = _dispatcher(tmp_path / "s.db", sink, clock, config)
    try:
        [state] = dispatcher.sink_states()
        assert (state.sink, state.ok, state.last_error) == ("mem", True, None)
        _go_red(dispatcher, "total", clock.now)
        failed_at = clock.now
        dispatcher.tick(clock.now)
        dispatcher.tick(clock.advance(1))
        [state] = dispatcher.sink_states()
        assert (state.ok, state.failing_since, state.failed_attempts, state.last_error) == (
            False, failed_at, 2, "HTTP 503")
        dispatcher.tick(clock.advance(1))
        [state] = dispatcher.sink_states()
    finally:
        dispatcher.close()
    assert (state.ok, state.failed_attempts, state.last_delivered_at) == (True, 0, clock.now)
    assert len(sink.sent) == 1


def test_a_group_is_saved_as_events_arrive_and_a_new_dispatcher_sends_it_once(
        tmp_path: Path, clock: FakeClock) -> None:
    config = alerts_config(hold_seconds=0, group_wait_seconds=600)
    memory_error = Event(Kind.MEMORY_ERROR, "a.log", 0, text="MemoryError")
    outbox = Outbox(tmp_path / "s.db")
    first = AlertDispatcher(config, outbox, {"mem": MemorySink()}, clock, background=False)
    first.on_events([memory_error], clock.now)  # before tail saves the line's checkpoint
    reader = Outbox(tmp_path / "s.db")
    saved, _ = reader.saved_group()
    reader.close()
    assert [alert.key for alert in saved] == ["event:memory-error:a.log"]
    outbox.close()  # the process dies inside group_wait: `first` is never closed

    sink = MemorySink()
    second = _dispatcher(tmp_path / "s.db", sink, clock, config)
    second.tick(clock.advance(1))
    second.on_events([memory_error], clock.advance(1))  # the same episode: no second firing
    second.tick(clock.advance(700))
    second.close()
    assert [(n.alerts[0].key, n.alerts[0].transition) for n in sink.sent] == [
        ("event:memory-error:a.log", Transition.FIRING)]
    reader = Outbox(tmp_path / "s.db")
    assert reader.saved_group() == ([], 0.0)
    reader.close()


class _ResyncingSink(MemorySink):
    def __init__(self) -> None:
        super().__init__()
        self.resyncs: list[float] = []

    def resync(self, now: float) -> None:
        self.resyncs.append(now)


def test_a_sink_is_resynced_only_while_nothing_to_it_is_waiting(tmp_path: Path,
                                                               clock: FakeClock) -> None:
    sink = _ResyncingSink()
    sink.fail_next()
    dispatcher = _dispatcher(tmp_path / "s.db", sink, clock, alerts_config(
        hold_seconds=0, group_wait_seconds=0, delivery={"backoff_initial_seconds": 10}))
    try:
        dispatcher.tick(clock.now)
        assert sink.resyncs == [clock.now]  # an empty queue
        _go_red(dispatcher, "total", clock.now)
        dispatcher.tick(clock.advance(1))  # fails: retried in 5-10 s
        dispatcher.tick(clock.advance(1))  # waiting for the retry
        assert len(sink.resyncs) == 1
        dispatcher.tick(clock.advance(10))  # delivered, then nothing waits
    finally:
        dispatcher.close()
    assert len(sink.sent) == 1 and sink.resyncs[-1] == clock.now
