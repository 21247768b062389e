"""Sinks register by type name: a sink type declared outside the package (here, in this test
module) is a valid ``[alerts.sinks.NAME]`` table, is checked like the package's own, is built by
``build_sinks`` and gets alerts from the dispatcher."""

from __future__ import annotations

import random
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import pytest
from pydantic import Field

from threadwatch.alerts.checks import send_test_alert
from threadwatch.alerts.dispatcher import AlertDispatcher
from threadwatch.alerts.model import Notification, Status
from threadwatch.alerts.outbox import Outbox
from threadwatch.alerts.sinks import SinkSettings, build_sinks, register_sink, registry, sink_types
from threadwatch.alerts.sinks.webhook import WebhookSink
from threadwatch.alerts.testing import FakeClock
from threadwatch.config import Config, load_config, show_config
from threadwatch.errors import ConfigError
from threadwatch.health.window import WindowedHealth
from threadwatch.parse.grammar import Grammar
from threadwatch.parse.scanner import Scanner


class ToySettings(SinkSettings):
    """A sink type of this test: a greeting said before each notification."""

    type: Literal["toy"]
    greeting: str = Field("hello", min_length=1)
    shouts: int = Field(1, ge=1, le=3)


class ToySink:
    def __init__(self, address: str, greeting: str) -> None:
        self.address = address
        self.greeting = greeting
        self.sent: list[tuple[str, Notification]] = []
        self.closed = False

    def send(self, notification: Notification) -> None:
        self.sent.append((self.greeting, notification))

    def close(self) -> None:
        self.closed = True


BUILT: list[ToySink] = []


def _build_toy(name: str, settings: ToySettings, url: object, env: object) -> ToySink:
    sink = ToySink(url.reveal(), settings.greeting * settings.shouts)  # type: ignore[attr-defined]
    BUILT.append(sink)
    return sink


@pytest.fixture
def toy(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The toy type registered for one test (the registry is as before afterwards)."""
    sink_types()  # the package's own types register first, once
    monkeypatch.setattr(registry, "_TYPES", dict(registry._TYPES))
    register_sink(ToySettings, _build_toy)
    BUILT.clear()
    yield
    BUILT.clear()


def _config(tmp_path: Path, text: str) -> Config:
    path = tmp_path / "tw.toml"
    path.write_text(text)
    return load_config(path)


TOY = """
[alerts]
hold_seconds = 0
group_wait_seconds = 0
host = "h"
[alerts.sinks.desk]
type = "toy"
url = "${TOY_URL}"
greeting = "hi "
shouts = 2
[alerts.sinks.hook]
type = "webhook"
url = "${HOOK_URL}"
"""
ENV = {"TOY_URL": "https://toy.example/inbox", "HOOK_URL": "https://hook.example/in"}


def test_a_registered_type_is_read_built_and_sent_to(toy: None, tmp_path: Path) -> None:
    config = _config(tmp_path, TOY)
    desk = config.alerts.sinks["desk"]
    assert isinstance(desk, ToySettings) and (desk.greeting, desk.shouts) == ("hi ", 2)
    sinks = build_sinks(config.alerts, ENV)
    assert isinstance(sinks["hook"], WebhookSink)  # the package's own beside it
    [built] = BUILT
    assert sinks["desk"] is built and built.address == ENV["TOY_URL"]  # ${TOY_URL} expanded
    [check] = send_test_alert(config.alerts, ENV, sink="desk")
    assert check.accepted
    assert [(greeting, n.alerts[0].rule) for greeting, n in BUILT[1].sent] == [
        ("hi hi ", "alert-test")]


def test_the_dispatcher_sends_a_level_alert_to_a_registered_type(
        toy: None, tmp_path: Path) -> None:
    config = _config(tmp_path, TOY.replace('[alerts.sinks.hook]\ntype = "webhook"\n'
                                           'url = "${HOOK_URL}"\n', ""))
    clock = FakeClock()
    dispatcher = AlertDispatcher(config.alerts, Outbox(tmp_path / "state.db"),
                                 build_sinks(config.alerts, ENV), clock, background=False,
                                 rng=random.Random(1))
    window = WindowedHealth(config, window_seconds=300, bucket_seconds=10)
    scanner = Scanner("a.log", Grammar(config.parse.program_files))
    for n in range(5):  # every batch overloaded: red
        at = clock.advance(10)
        events = scanner.feed(f"run_batt.py:1: -- {n:08x} - {n} --\nrun_batt.py:2: -- System"
                              " overloaded (64 threads), using sequential processing\n".encode())
        window.add_all(events, at)
        dispatcher.on_events(events, at)
        changes = window.evaluate(at)
        if changes:
            dispatcher.on_changes(changes, window.snapshot(at))
        dispatcher.tick(at)
    dispatcher.close()
    [desk] = BUILT
    alerts = [alert for _, notification in desk.sent for alert in notification.alerts]
    assert alerts and {(a.status, a.level) for a in alerts} == {(Status.FIRING, "red")}
    assert desk.closed


@pytest.mark.parametrize(("line", "key", "problem"), [
    ("shouts = 9", "alerts.sinks.desk.shouts", "less than or equal to 3"),
    ('greeting = ""', "alerts.sinks.desk.greeting", "at least 1 character"),
    ("volume = 11", "alerts.sinks.desk.volume", "Extra inputs are not permitted"),
    ("timeout_seconds = 0", "alerts.sinks.desk.timeout_seconds", "greater than 0"),
])
def test_a_registered_types_keys_are_checked_like_the_packages_own(
        toy: None, tmp_path: Path, line: str, key: str, problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        _config(tmp_path, f'[alerts.sinks.desk]\ntype = "toy"\nurl = "${{U}}"\n{line}\n')
    assert caught.value.problems == ((key, caught.value.problem),)
    assert problem in caught.value.problem


def test_an_unknown_type_is_refused_naming_the_registered_ones(
        toy: None, tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        _config(tmp_path, '[alerts.sinks.desk]\ntype = "pager"\nurl = "${U}"\n')
    assert caught.value.key == "alerts.sinks.desk"
    for name in ("'toy'", "'slack'", "'webhook'", "'alertmanager'"):
        assert name in caught.value.problem


def test_without_the_registration_the_type_is_unknown(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        _config(tmp_path, '[alerts.sinks.desk]\ntype = "toy"\nurl = "${U}"\n')
    assert caught.value.key == "alerts.sinks.desk"
    assert caught.value.problem.startswith("Input tag 'toy' found using 'type' does not match")


def test_a_second_model_under_a_registered_name_is_refused(toy: None) -> None:
    class OtherToy(SinkSettings):
        type: Literal["toy"]

    with pytest.raises(ValueError, match="'toy' is registered already"):
        register_sink(OtherToy, _build_toy)  # type: ignore[arg-type]
    register_sink(ToySettings, _build_toy)  # the same again is harmless


def test_a_type_must_name_itself_with_one_literal() -> None:
    class Nameless(SinkSettings):
        pass

    with pytest.raises(TypeError, match=r"Nameless.type must be Literal\['<name>'\]"):
        register_sink(Nameless, _build_toy)  # type: ignore[arg-type]


@pytest.mark.parametrize(("table", "loaded"), [
    ("", False),
    ('[alerts.sinks.hook]\ntype = "webhook"\nurl = "${U}"\n', True),
])
def test_sink_modules_load_only_for_a_config_with_sinks(
        tmp_path: Path, table: str, loaded: bool) -> None:
    """``report`` reads the same config as ``tail``: without sinks it loads no HTTP client."""
    (tmp_path / "tw.toml").write_text(table)
    probe = ("import sys; from threadwatch.config import load_config; "
             f"load_config({str(tmp_path / 'tw.toml')!r}); "
             "print(sorted(m for m in ('httpx', 'threadwatch.alerts.sinks.webhook')"
             " if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            check=True)
    expected = ["httpx", "threadwatch.alerts.sinks.webhook"] if loaded else []
    assert result.stdout.strip() == str(expected)


def test_config_show_writes_a_registered_types_own_keys(toy: None, tmp_path: Path) -> None:
    config = _config(tmp_path, TOY)
    shown = show_config(config)
    assert 'greeting = "hi "' in shown and "shouts = 2" in shown
    (tmp_path / "shown.toml").write_text(shown)
    assert load_config(tmp_path / "shown.toml") == config
