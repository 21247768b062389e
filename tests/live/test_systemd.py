"""sd_notify: what ``tail`` tells systemd, read from a real unix datagram socket."""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from faults.tail_process import FAST_TAIL, TailProcess, append, healthy_batch
from sources.tail_helpers import FAST, config_with, wait_until
from threadwatch.events import Event, Kind
from threadwatch.live.loop import Tail, TailOptions
from threadwatch.live.systemd import Notifier, ServiceNotifications


class NotifySocket:
    """systemd's side: a datagram socket bound at a path (or an abstract ``@name``)."""

    def __init__(self, address: str) -> None:
        self.address = address
        self.socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        bound = b"\0" + address[1:].encode() if address.startswith("@") else address
        self.socket.bind(bound)
        self.socket.settimeout(0.05)
        self.messages: list[list[str]] = []

    def receive(self) -> list[list[str]]:
        """Every message that has come so far (each a list of KEY=VALUE lines)."""
        while True:
            try:
                data = self.socket.recv(65536)
            except TimeoutError:
                return self.messages
            self.messages.append(data.decode().split("\n"))

    def fields(self) -> list[str]:
        return [field for message in self.receive() for field in message]

    def close(self) -> None:
        self.socket.close()


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[NotifySocket]:
    server = NotifySocket(str(tmp_path / "notify.sock"))
    yield server
    server.close()


def test_nothing_is_sent_or_opened_without_notify_socket() -> None:
    notifier = Notifier({})
    assert not notifier.enabled
    assert notifier.send("READY=1") is False
    notifier.watchdog()
    notifier.close()


def test_ready_status_reloading_stopping_reach_a_path_socket(notify_socket: NotifySocket) -> None:
    notifier = Notifier({"NOTIFY_SOCKET": notify_socket.address})
    notifier.ready()
    notifier.status("GREEN · 3 files\nfollowed")
    notifier.status("GREEN · 3 files followed")  # the same line again: not sent
    notifier.status("RED · 3 files followed")
    notifier.reloading()
    notifier.stopping()
    notifier.close()
    messages = notify_socket.receive()
    assert messages[:3] == [["READY=1"], ["STATUS=GREEN · 3 files followed"],
                            ["STATUS=RED · 3 files followed"]]
    reloading = messages[3]
    assert reloading[0] == "RELOADING=1"
    usec = int(reloading[1].removeprefix("MONOTONIC_USEC="))
    assert abs(usec / 1e6 - time.monotonic()) < 5
    assert messages[4:] == [["STOPPING=1"]]


def test_an_abstract_socket_is_reached_too() -> None:
    server = NotifySocket(f"@threadwatch-test-{uuid.uuid4().hex}")
    try:
        notifier = Notifier({"NOTIFY_SOCKET": server.address})
        notifier.ready()
        notifier.close()
        assert server.receive() == [["READY=1"]]
    finally:
        server.close()


def test_the_watchdog_is_petted_every_half_interval(notify_socket: NotifySocket) -> None:
    now = [100.0]
    notifier = Notifier({"NOTIFY_SOCKET": notify_socket.address, "WATCHDOG_USEC": "4000000"},
                        monotonic=lambda: now[0])
    assert notifier.watchdog_seconds == 4.0
    for at in (100.0, 101.0, 101.9, 102.0, 103.0, 104.1):
        now[0] = at
        notifier.watchdog()
    notifier.close()
    assert notify_socket.fields() == ["WATCHDOG=1"] * 3  # at 100, 102, 104.1


def test_a_watchdog_meant_for_another_process_is_left_alone(notify_socket: NotifySocket) -> None:
    notifier = Notifier({"NOTIFY_SOCKET": notify_socket.address, "WATCHDOG_USEC": "4000000",
                         "WATCHDOG_PID": str(os.getpid() + 1)})
    notifier.watchdog()
    assert notifier.watchdog_seconds is None and notify_socket.fields() == []


def test_a_socket_gone_is_said_once_and_the_caller_goes_on(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    notifier = Notifier({"NOTIFY_SOCKET": str(tmp_path / "gone.sock")})
    assert notifier.send("READY=1") is False
    assert notifier.send("STATUS=x") is False
    notifier.close()
    assert len([r for r in caplog.records if "NOTIFY_SOCKET" in r.getMessage()]) == 1


def test_the_consumer_says_ready_once_then_status_on_change(notify_socket: NotifySocket) -> None:
    lines = iter(["UNKNOWN · 0 files", "UNKNOWN · 0 files", "GREEN · 1 files"])
    consumer = ServiceNotifications(Notifier({"NOTIFY_SOCKET": notify_socket.address}),
                                    lambda: next(lines))
    for now in (1.0, 2.0, 3.0):
        consumer.tick(now)
    consumer.close()
    assert notify_socket.receive() == [["STATUS=UNKNOWN · 0 files"], ["READY=1"],
                                       ["STATUS=GREEN · 1 files"], ["STOPPING=1"]]


def test_a_real_tail_says_ready_status_watchdog_reloading_and_stopping(
        tmp_path: Path, notify_socket: NotifySocket) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    append(logs / "run.log", healthy_batch(1))
    config = tmp_path / "tw.toml"
    config.write_text(FAST_TAIL)
    tail = TailProcess(tmp_path, "tail", config=config, state=tmp_path / "state.db",
                       paths=[logs], env={"NOTIFY_SOCKET": notify_socket.address,
                                          "WATCHDOG_USEC": "1000000"})
    try:
        wait_until(lambda: "READY=1" in notify_socket.fields(), "READY=1")
        wait_until(lambda: notify_socket.fields().count("WATCHDOG=1") >= 3, "the watchdog")
        statuses = [f for f in notify_socket.fields() if f.startswith("STATUS=")]
        assert statuses and "1 files followed" in statuses[-1]
        assert "0 alerts pending" in statuses[-1]
        tail.process.send_signal(signal.SIGHUP)
        wait_until(lambda: "RELOADING=1" in notify_socket.fields(), "RELOADING=1")
        fields = notify_socket.fields()
        reloading = fields.index("RELOADING=1")
        assert fields[reloading + 1].startswith("MONOTONIC_USEC=")
        wait_until(lambda: "READY=1" in notify_socket.fields()[reloading:], "READY after reload")
    finally:
        code = tail.stop()
    assert code == 0
    assert notify_socket.fields()[-1] == "STOPPING=1"


class Hanging:
    """A consumer whose ``on_events`` blocks until ``release`` is set: a hung loop."""

    kinds: frozenset[Kind] = frozenset()

    def __init__(self) -> None:
        self.release = threading.Event()

    def on_events(self, events: Sequence[Event], at: float) -> None:
        self.release.wait(30)

    def on_changes(self, *args: object) -> None:
        pass

    def tick(self, now: float) -> None:
        pass

    def close(self) -> None:
        pass


def test_a_hung_loop_stops_petting_the_watchdog(tmp_path: Path,
                                                 notify_socket: NotifySocket) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    notifier = Notifier({"NOTIFY_SOCKET": notify_socket.address, "WATCHDOG_USEC": "200000"})
    hanging = Hanging()
    tail = Tail([str(logs)], config_with(**FAST), TailOptions(state_path=tmp_path / "st.db"))
    thread = threading.Thread(
        target=tail.run, args=([ServiceNotifications(notifier, lambda: "ok"), hanging],))
    thread.start()
    try:
        wait_until(lambda: notify_socket.fields().count("WATCHDOG=1") >= 3, "the watchdog")
        append(logs / "run.log", healthy_batch(1))  # the loop hangs delivering it
        time.sleep(1.0)
        before = notify_socket.fields().count("WATCHDOG=1")
        time.sleep(1.0)  # ten watchdog intervals
        assert notify_socket.fields().count("WATCHDOG=1") == before
        hanging.release.set()
        wait_until(lambda: notify_socket.fields().count("WATCHDOG=1") > before,
                   "the watchdog again once the loop goes on")
    finally:
        hanging.release.set()
        tail.stop()
        thread.join(10)
