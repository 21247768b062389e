"""End to end with every real part: a writer appends an overload episode and its recovery to a
followed file, a real ``Tail`` reads it, the alert dispatcher sends through real HTTP to a
receiver that is down for part of the time. Observed time is a fake clock shared by both;
nothing sleeps through it. Each sink gets exactly one firing and one resolved message."""

from __future__ import annotations

import random
import threading
from pathlib import Path
from typing import Any

from pytest_httpserver import HTTPServer

from alerts.alert_helpers import Receiver
from sources.tail_helpers import wait_until
from threadwatch.alerts.dispatcher import AlertDispatcher
from threadwatch.alerts.outbox import Outbox
from threadwatch.alerts.sinks import build_sinks
from threadwatch.alerts.testing import FakeClock
from threadwatch.config import load_config
from threadwatch.events import Kind
from threadwatch.live.loop import Tail, TailOptions

CONFIG = """
[tail]
window_seconds = 300
poll_seconds = 0.05
sweep_seconds = 0.2
refresh_seconds = 0.1
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
"""


def batch(n: int, overloaded: bool) -> str:
    task = f"{n:08x}"
    lines = [f"run_batt.py:475: -- {task} - {n} --"]
    if overloaded:
        lines.append(
            "run_batt.py:566: -- System overloaded (64 threads), using sequential processing"
        )
    else:
        lines += [f"<dynamic-code>:512: demo[{k}] - {task} - 1" for k in range(4)]
    lines.append(f"run_batt.py:902: -- {task} - {n} done - 1 candidates scored")
    return "\n".join(lines) + "\n"


class Counter:
    """A consumer that counts batches and ticks (the test waits on them)."""

    def __init__(self) -> None:
        self.batches = 0
        self.ticks = 0

    kinds: frozenset[Kind] = frozenset()  # what health reads is enough

    def on_events(self, events: Any, at: float) -> None:
        self.batches += sum(1 for e in events if e.kind is Kind.BATCH)

    def on_changes(self, changes: Any, health: Any) -> None:
        pass

    def tick(self, now: float) -> None:
        self.ticks += 1

    def close(self) -> None:
        pass


def test_followed_overload_episode_gives_one_firing_and_one_resolved_per_sink(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    receiver = Receiver()
    httpserver.expect_request("/slack").respond_with_handler(receiver)
    httpserver.expect_request("/hook").respond_with_handler(receiver)
    env = {
        "E2E_SLACK_URL": httpserver.url_for("/slack"),
        "E2E_HOOK_URL": httpserver.url_for("/hook"),
    }
    (tmp_path / "tw.toml").write_text(CONFIG)
    config = load_config(tmp_path / "tw.toml")
    logs = tmp_path / "logs"
    logs.mkdir()
    log = logs / "tmp_batt_e2eE2Ee2eE_run.log"
    log.write_text("")
    clock = FakeClock()
    state = tmp_path / "state.db"
    dispatcher = AlertDispatcher(
        config.alerts,
        Outbox(state),
        build_sinks(config.alerts, env),
        clock,
        background=False,
        rng=random.Random(7),
    )
    counter = Counter()
    tail = Tail([str(logs)], config, TailOptions(state_path=state), clock=clock)
    thread = threading.Thread(target=tail.run, args=([dispatcher, counter],))
    thread.start()
    try:
        start = clock.now
        for step in range(100):  # one batch every 10 s of observed time
            ticks = counter.ticks
            at = clock.advance(10)
            elapsed = at - start
            with receiver.lock:
                receiver.down = elapsed < 400 or 700 <= elapsed < 800
            with log.open("a") as out:
                out.write(batch(step, overloaded=100 <= elapsed < 500))
            wait_until(
                lambda s=step, t=ticks: counter.batches > s and counter.ticks > t,
                f"step {step} read and judged",
            )
    finally:
        tail.stop()
        thread.join(20)
    assert not thread.is_alive()

    for path in ("/slack", "/hook"):
        bodies = [body for where, body in receiver.accepted if where == path]
        assert len(bodies) == 2, bodies
        if path == "/hook":
            assert [b["status"] for b in bodies] == ["firing", "resolved"]
            # total is bad only because this run is: inhibited (inhibit_total)
            assert {a["scope"] for a in bodies[0]["alerts"]} == {str(log)}
        else:
            assert ":red_circle:" in bodies[0]["text"]
            assert ":white_check_mark:" in bodies[1]["text"]
