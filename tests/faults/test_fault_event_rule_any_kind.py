"""An ``[[alerts.events]]`` rule may watch any kind of the message table, also one that no count
reads: consumers say which kinds they need and ``tail`` looks for them. Before, the search was
fixed to the counts' kinds, so a rule on ``memory_exit`` (run_batt's "System critically low on
memory … Exiting.") validated and never fired."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from tail_process import FAST_TAIL, TailService

from alerts.alert_helpers import Receiver
from sources.tail_helpers import wait_until
from threadwatch.config import load_config
from threadwatch.events import Kind
from threadwatch.health.metrics import LIVE_KINDS
from threadwatch.live.loop import Tail, TailOptions

CONFIG = FAST_TAIL + """
[alerts]
hold_seconds = 0
group_wait_seconds = 0
host = "low-memory-host"
[[alerts.events]]
name = "low-memory-exit"
kinds = ["memory_exit"]
level = "red"
summary = "the program ran out of memory and exited"
[alerts.sinks.ops]
type = "webhook"
url = "${OPS_HOOK_URL}"
"""
LOW_MEMORY = "run_batt.py:1310: System critically low on memory. Cannot create workers. Exiting.\n"


def test_a_rule_on_a_kind_no_count_reads_fires(tmp_path: Path, httpserver: HTTPServer) -> None:
    assert Kind.MEMORY_EXIT not in LIVE_KINDS  # the point: health alone never looks for it
    receiver = Receiver()
    receiver.down = False
    httpserver.expect_request("/hook").respond_with_handler(receiver)
    with TailService(tmp_path, CONFIG, {"OPS_HOOK_URL": httpserver.url_for("/hook")}) as tail:
        log = tail.logs / "tmp_batt_LowMem0001_run.log"
        log.write_text("run_batt.py:1241: -- 0ca9ddb6 - 0 start --\n")
        tail.start()
        with log.open("a") as stream:
            stream.write(LOW_MEMORY)
        wait_until(lambda: any(a["rule"] == "low-memory-exit" for _, body in receiver.accepted
                               for a in body["alerts"]) or not tail.running(),
                   "the event alert at the receiver", timeout=30)
        code, _ = tail.stop()
    assert code == 0, tail.stderr()
    alerts = [a for _, body in receiver.accepted for a in body["alerts"]]
    fired = [a for a in alerts if a["rule"] == "low-memory-exit"]
    assert len(fired) == 1 and fired[0]["level"] == "red", alerts


class _Wants:
    kinds = frozenset({Kind.SOLVER_MATCH})

    def on_events(self, events: Any, at: float) -> None: ...
    def on_changes(self, changes: Any, health: Any) -> None: ...
    def tick(self, now: float) -> None: ...
    def close(self) -> None: ...


def test_a_consumer_needing_a_kind_the_tail_does_not_look_for_is_refused(
        tmp_path: Path) -> None:
    (tmp_path / "logs").mkdir()
    tail = Tail([str(tmp_path / "logs")], load_config(None),
                TailOptions(state_path=tmp_path / "state.db"))
    with pytest.raises(ValueError, match="solver_match"):
        tail.run([_Wants()])
    asked = Tail([str(tmp_path / "logs")], load_config(None),
                 TailOptions(state_path=tmp_path / "state2.db"), kinds=_Wants.kinds)
    assert Kind.SOLVER_MATCH in asked.kinds
    asked.stop()
    asked.run([_Wants()])  # stopped before it starts: returns at once, and closes
