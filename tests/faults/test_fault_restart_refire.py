"""Fault: a restart of ``tail`` forgot the health window. A source still red but quiet got a
false RESOLVED as soon as another source wrote (its window was empty, so it read as *unknown*),
then FIRED again later. The window is now saved with the checkpoints and restored.

Real ``threadwatch tail`` processes, a real webhook receiver on 127.0.0.1, SIGTERM and kill -9;
then the same with an injected clock, where the restart comes after the window has passed."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from tail_process import MEMORY_ERROR, TailProcess, append, healthy_batch

from alerts.alert_helpers import Receiver
from sources.tail_helpers import FAST, config_with, wait_until
from threadwatch.alerts.dispatcher import AlertDispatcher
from threadwatch.alerts.model import Notification
from threadwatch.alerts.outbox import Outbox
from threadwatch.alerts.settings import AlertsConfig
from threadwatch.alerts.testing import FakeClock, MemorySink
from threadwatch.events import Kind
from threadwatch.live.loop import Tail, TailOptions

CONFIG = """
[tail]
poll_seconds = 0.05
sweep_seconds = 0.2
refresh_seconds = 0.1
[alerts]
inhibit = []  # the level alert of a memory error is what this test follows
hold_seconds = 0
group_wait_seconds = 0
host = "restart-host"
[alerts.sinks.hook]
type = "webhook"
url = "${RESTART_HOOK_URL}"
"""
QUIET_AFTER_RESTART = 3.0  # seconds in which a false resolved or second firing used to come


def _keys(body: dict[str, Any]) -> list[tuple[str, str]]:
    return [(alert["key"], alert["transition"]) for alert in body["alerts"]]


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "kill-9"])
def test_a_source_still_red_after_a_restart_neither_resolves_nor_fires_again(
    tmp_path: Path, httpserver: HTTPServer, stop: signal.Signals
) -> None:
    receiver = Receiver()
    receiver.down = False
    httpserver.expect_request("/hook").respond_with_handler(receiver)
    config = tmp_path / "tw.toml"
    config.write_text(CONFIG)
    logs = tmp_path / "logs"
    logs.mkdir()
    red, other = logs / "tmp_batt_Red0000000_run.log", logs / "tmp_batt_Other00000_run.log"
    red.write_text("")
    other.write_text("")
    state = tmp_path / "state" / "state.db"
    env = {"RESTART_HOOK_URL": httpserver.url_for("/hook")}

    first = TailProcess(tmp_path, "first", config=config, state=state, paths=[logs], env=env)
    try:
        wait_until(lambda: state.exists() or not first.alive(), "tail to open its state")
        append(red, MEMORY_ERROR)
        wait_until(lambda: any((f"level:{red}", "firing") in _keys(body)
                               for _, body in list(receiver.accepted)), "FIRING for the red file")
        time.sleep(0.5)  # its delivery is marked before the kill (else it is sent again: fine)
    finally:
        code = first.stop(stop)
    assert code == (0 if stop == signal.SIGTERM else -signal.SIGKILL), first.stderr()
    with receiver.lock:
        before = {body["id"] for _, body in receiver.accepted}

    second = TailProcess(tmp_path, "second", config=config, state=state, paths=[logs], env=env)
    try:
        append(other, healthy_batch(1))
        second.wait_for_line(lambda x: x.get("source") == str(other), "the other file's lines")
        second.wait_for_line(lambda x: x.get("scope") == str(other), "the other file judged")
        time.sleep(QUIET_AFTER_RESTART)
        assert second.alive(), second.stderr()
    finally:
        assert second.stop() == 0, second.stderr()
    with receiver.lock:
        after = [body for _, body in receiver.accepted if body["id"] not in before]
    assert [_keys(body) for body in after] == []
    # the restored window still judged the red file red
    assert any(x.get("scope") == str(red) and x.get("current") == "red"
               for x in second.lines()), second.lines()


# -- the same with an injected clock: no waiting, and a restart after the window has passed --

def _run_tail(state: Path, logs: Path, clock: FakeClock, sink: MemorySink, *, write: Any,
              steps: int) -> None:
    """One life of ``tail`` with a dispatcher sending to ``sink``: ``write(step)`` appends what
    that step brings (and returns the file, or None); each step waits until tail has read it,
    then moves the clock 5 s and waits until tail has judged that moment."""
    config = config_with(**FAST)
    alerts = AlertsConfig.model_validate({"hold_seconds": 0, "group_wait_seconds": 0,
                                          "host": "restart-host", "inhibit": []})
    dispatcher = AlertDispatcher(alerts, Outbox(state), {"mem": sink}, clock, background=False)
    ticks = Ticks()
    tail = Tail([str(logs)], config, TailOptions(state_path=state), clock=clock)
    thread = threading.Thread(target=tail.run, args=([dispatcher, ticks],))
    thread.start()
    try:
        for step in range(steps):
            written = write(step)
            if written is not None:
                size = written.stat().st_size
                wait_until(lambda w=str(written), n=size: ticks.read.get(w, -1) >= n - 1,
                           f"step {step} read")
            seen = ticks.count
            clock.advance(5)
            wait_until(lambda s=seen: ticks.count > s, f"step {step} judged")
    finally:
        tail.stop()
        thread.join(20)
    assert not thread.is_alive()


class Ticks:
    """A consumer that counts ticks (a tick comes after each evaluation) and keeps the end of
    what was read of each source (the offset of its last event's last byte)."""

    def __init__(self) -> None:
        self.count = 0
        self.read: dict[str, int] = {}

    kinds: frozenset[Kind] = frozenset()  # what health reads is enough

    def on_events(self, events: Any, at: float) -> None:
        for event in events:
            end = event.offset + len(event.text.encode())
            self.read[event.source] = max(self.read.get(event.source, -1), end)

    def on_changes(self, changes: Any, health: Any) -> None:
        pass

    def tick(self, now: float) -> None:
        self.count += 1

    def close(self) -> None:
        pass


def _write(path: Path, text: str) -> Path:
    append(path, text)
    return path


def _write_once(path: Path, step: int) -> Path | None:
    return _write(path, MEMORY_ERROR) if step == 0 else None


def _level_alerts(sent: list[Notification], red: Path) -> list[str]:
    return [alert.transition.value for n in sent for alert in n.alerts
            if alert.key == f"level:{red}"]


def test_a_window_that_passed_while_tail_was_down_resolves_after_the_restart(
    tmp_path: Path
) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    red, other = logs / "tmp_batt_Red0000000_run.log", logs / "tmp_batt_Other00000_run.log"
    red.write_text("")
    other.write_text("")
    state = tmp_path / "state.db"
    clock = FakeClock(float(int(time.time())))
    sink = MemorySink()
    _run_tail(state, logs, clock, sink, write=lambda step: _write_once(red, step), steps=3)
    assert _level_alerts(sink.sent, red) == ["firing"]

    # restarted within the window: still red, nothing is sent
    sink.sent.clear()
    clock.advance(60)
    _run_tail(state, logs, clock, sink, steps=3,
              write=lambda step: _write(other, healthy_batch(step)))
    assert _level_alerts(sink.sent, red) == []

    # restarted after the window (900 s) has passed: over, resolved once
    clock.advance(1000)
    _run_tail(state, logs, clock, sink, steps=3,
              write=lambda step: _write(other, healthy_batch(10 + step)))
    assert _level_alerts(sink.sent, red) == ["resolved"]


def test_a_source_whose_file_went_away_while_tail_was_down_resolves(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    red, other = logs / "tmp_batt_Red0000000_run.log", logs / "tmp_batt_Other00000_run.log"
    red.write_text("")
    other.write_text("")
    state = tmp_path / "state.db"
    clock = FakeClock(float(int(time.time())))
    sink = MemorySink()
    _run_tail(state, logs, clock, sink, steps=3, write=lambda step: _write_once(red, step))
    assert _level_alerts(sink.sent, red) == ["firing"]
    red.unlink()
    sink.sent.clear()
    _run_tail(state, logs, clock, sink, steps=3,
              write=lambda step: _write(other, healthy_batch(step)))
    assert _level_alerts(sink.sent, red) == ["resolved"]
