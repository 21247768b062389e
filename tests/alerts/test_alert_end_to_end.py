"""Library-level end to end: parsed run_batt lines → windowed health → dispatcher → real HTTP.

An overload episode then recovery, with the receiver down for part of it: each sink gets
exactly one firing and one resolved message, in that order.
"""

from __future__ import annotations

import random
from pathlib import Path

from alert_helpers import Receiver
from pytest_httpserver import HTTPServer

from threadwatch.alerts.dispatcher import AlertDispatcher
from threadwatch.alerts.outbox import Outbox
from threadwatch.alerts.sinks import build_sinks
from threadwatch.alerts.testing import FakeClock
from threadwatch.config import load_config
from threadwatch.health.window import WindowedHealth
from threadwatch.parse.grammar import Grammar
from threadwatch.parse.scanner import Scanner

CONFIG = """
[alerts]
hold_seconds = 120
group_wait_seconds = 10
host = "host-e2e"
[alerts.delivery]
backoff_initial_seconds = 5
backoff_max_seconds = 30
[alerts.sinks.slack]
type = "slack"
url = "${E2E_SLACK_URL}"
[alerts.sinks.hook]
type = "webhook"
url = "${E2E_HOOK_URL}"
secret = "${E2E_HOOK_SECRET}"
"""


def _batch(n: int, overloaded: bool) -> bytes:
    task = f"{n:08x}"
    if overloaded:
        return (f"run_batt.py:440: -- {task} - 0 --\n"
                "run_batt.py:445: -- System overloaded (64 threads), using sequential "
                "processing\n").encode()
    samples = "".join(f"run_batt.py:450: demo[{k}] - {task} - 1\n" for k in range(4))
    return f"run_batt.py:440: -- {task} - 0 --\n{samples}".encode()


def test_overload_episode_gives_one_firing_and_one_resolved_per_sink(
        tmp_path: Path, httpserver: HTTPServer) -> None:
    receiver = Receiver()
    httpserver.expect_request("/slack").respond_with_handler(receiver)
    httpserver.expect_request("/hook").respond_with_handler(receiver)
    env = {"E2E_SLACK_URL": httpserver.url_for("/slack"),
           "E2E_HOOK_URL": httpserver.url_for("/hook"), "E2E_HOOK_SECRET": "k"}
    (tmp_path / "c.toml").write_text(CONFIG)
    config = load_config(tmp_path / "c.toml")
    clock = FakeClock()
    dispatcher = AlertDispatcher(config.alerts, Outbox(tmp_path / "state.db"),
                                 build_sinks(config.alerts, env), clock, background=False,
                                 rng=random.Random(7))
    window = WindowedHealth(config, window_seconds=300, bucket_seconds=10)
    scanner = Scanner("a.log", Grammar(config.parse.program_files))
    start = clock.now
    for step in range(100):  # one batch every 10 s for 1000 s
        at = clock.advance(10)
        elapsed = at - start
        receiver.down = elapsed < 400 or 700 <= elapsed < 800
        events = scanner.feed(_batch(step, overloaded=100 <= elapsed < 500))
        window.add_all(events, at)
        dispatcher.on_events(events, at)
        changes = window.evaluate(at)
        if changes:
            dispatcher.on_changes(changes, window.snapshot(at))
        dispatcher.tick(at)
    dispatcher.close()
    outbox = Outbox(tmp_path / "state.db")
    deliveries = outbox.deliveries()
    outbox.close()
    assert {d.state for d in deliveries} == {"delivered"}
    assert all(d.attempts > 1 for d in deliveries)  # both were sent while the receiver was down

    for path in ("/slack", "/hook"):
        bodies = [body for where, body in receiver.accepted if where == path]
        assert len(bodies) == 2, bodies
        if path == "/hook":
            assert [b["status"] for b in bodies] == ["firing", "resolved"]
            # total is bad only because a.log is: inhibited (inhibit_total)
            assert {a["key"] for a in bodies[0]["alerts"]} == {"level:a.log"}
            assert bodies[0]["alerts"][0]["samples"]
        else:
            assert [b["text"].split()[1] for b in bodies] == ["RED:", "RESOLVED:"]
            assert ":red_circle:" in bodies[0]["text"]
            assert ":white_check_mark:" in bodies[1]["text"]
