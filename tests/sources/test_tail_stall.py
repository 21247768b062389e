"""A live run that goes quiet is *stalled* (an event, a red level) and clears when a line comes."""

from __future__ import annotations

from pathlib import Path

from tests.health.test_metrics import events_of  # real parsed lines
from tests.sources.tail_helpers import FAST, config_with, running_tail, wait_until

from threadwatch.events import Kind
from threadwatch.health.levels import Level
from threadwatch.health.window import WindowedHealth

START = "run_batt.py:1241: -- 0ca9ddb6 - 0 start --\n"
SAMPLE = "<dynamic-code>:931: demo[0] - 0ca9ddb6 - 32\n"
SUMMARY = "1 tasks - timeouts = 0 - tot_d_score = 1 in 1.000s\n"


def stall_config(seconds: float):  # type: ignore[no-untyped-def]
    config = config_with(**FAST)
    return config.model_copy(update={"runs": config.runs.model_copy(
        update={"stall_seconds": seconds})})


def test_a_quiet_open_run_stalls_once_and_clears_on_the_next_line() -> None:
    health = WindowedHealth(stall_config(120), window_seconds=900)
    source = "/logs/tmp_batt_X_run.log"
    health.add_all([e._replace(source=source) for e in events_of(START + SAMPLE)], at=1000)
    assert health.take_stalls(1119) == []
    (stall,) = health.take_stalls(1120)
    assert (stall.kind, stall.source, stall.task_id, stall.number) == (
        Kind.STALLED, source, "0ca9ddb6", 120)
    assert health.take_stalls(1200) == []  # said once per quiet spell
    (scope, *_) = [h for h in health.snapshot(1200) if h.scope == source]
    assert scope.counts["stalled"] == 1 and scope.verdict.level is Level.RED
    assert any(r.metric == "stalled" for r in scope.verdict.reasons)
    health.add_all([e._replace(source=source) for e in events_of(SAMPLE)], at=1201)
    (scope, *_) = [h for h in health.snapshot(1202) if h.scope == source]
    assert scope.counts["stalled"] == 0


def test_a_finished_run_never_stalls() -> None:
    health = WindowedHealth(stall_config(120), window_seconds=900)
    health.add_all(events_of(START + SAMPLE + SUMMARY), at=1000)
    assert health.take_stalls(5000) == []


def test_tail_reports_a_stalled_run_and_its_red_level(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    log = logs / "tmp_batt_St4ll0001_run.log"
    log.write_text(START + SAMPLE)
    with running_tail([str(logs)], tmp_path / "state.db", stall_config(0.5)) as (_, seen):
        wait_until(lambda: any(e.kind is Kind.STALLED for e in seen.events), "a stalled event")
        wait_until(lambda: any(c.scope == str(log) and c.current is Level.RED
                               for c in seen.changes), "the source turning red")
        with log.open("a") as out:
            out.write(SAMPLE.replace("demo[0]", "demo[1]") + SUMMARY)
        def cleared() -> bool:
            mine = [c for c in seen.changes if c.scope == str(log)]
            return mine[-1].current is not Level.RED

        wait_until(cleared, "the stall clearing", timeout=10)
