"""End to end: a real ``threadwatch tail`` follows a run as run_batt writes it, with a webhook
sink pointed at a real HTTP receiver on 127.0.0.1, and we count what arrives.

The run is real: ``fixtures/real-logs/.../inject_memerr`` (a genuine MemoryError in run_batt's
first batch), its ``.log`` written line by line as the pipeline did. Its own ``.err`` holds
only CuPy notices; the ``.err`` of ``guard_oomkill`` (the guard's port, whose pool workers died:
it fell back to threads) stands for the stderr of a guarded run, the other file of the same
run that the issue saw alert too. Without inhibition that is four alerts (the event, the
level of each file, total); with the defaults, one notification with one alert.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from alert_helpers import Receiver
from pytest_httpserver import HTTPServer

from faults.tail_process import FAST_TAIL, TailProcess
from sources.tail_helpers import wait_until

REAL = Path(__file__).resolve().parents[2] / "fixtures" / "real-logs" / "run_batt-2025-11-15"
RUN = "tmp_batt_InjMem0003_run"
PROGRAM = REAL / "inject_memerr" / f"{RUN}.log"
GUARD_STDERR = REAL / "guard_oomkill" / "tmp_batt_GrdOom0005_run.err"
SETTLE = 4.0  # seconds after the event alert: past hold (2 s) and group_wait (1 s) twice

CONFIG = FAST_TAIL + """
[alerts]
hold_seconds = 2
group_wait_seconds = 1
host = "inhibit-e2e"
{extra}
[alerts.sinks.hook]
type = "webhook"
url = "${{INHIBIT_HOOK_URL}}"
"""


def _replay(program: Path, stderr: Path, into: Path) -> None:
    """Write the two streams of the run line by line, in turns, as the pipeline did."""
    log, err = into / f"{RUN}.log", into / f"{RUN}.err"
    lines = [(log, line) for line in program.read_text().splitlines(keepends=True)]
    other = [(err, line) for line in stderr.read_text().splitlines(keepends=True)]
    merged = [pair for pairs in zip(lines, other[:len(lines)], strict=True) for pair in pairs]
    for path, line in [*merged, *other[len(lines):]]:
        with path.open("a") as stream:
            stream.write(line)
        time.sleep(0.05)


def _alerts(receiver: Receiver) -> list[tuple[str, str]]:
    with receiver.lock:
        return [(alert["key"], alert["transition"]) for _, body in receiver.accepted
                for alert in body["alerts"]]


def _alerts_json(state: Path) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "threadwatch", "alerts", "--state", str(state), "--format",
         "json"], capture_output=True, text=True, timeout=60, check=True)
    found: dict[str, Any] = json.loads(done.stdout)
    return found


@pytest.mark.parametrize(("extra", "expected"), [
    ("", 1),
    ("inhibit = []\ninhibit_total = false", 4),  # as before inhibition existed
], ids=["inhibited", "without-inhibition"])
def test_one_memory_error_of_a_real_run_sends_one_notification(
        tmp_path: Path, httpserver: HTTPServer, extra: str, expected: int) -> None:
    receiver = Receiver()
    receiver.down = False
    httpserver.expect_request("/hook").respond_with_handler(receiver)
    config = tmp_path / "tw.toml"
    config.write_text(CONFIG.format(extra=extra))
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / f"{RUN}.log").write_text("")
    (logs / f"{RUN}.err").write_text("")
    state = tmp_path / "state.db"
    env = {"INHIBIT_HOOK_URL": httpserver.url_for("/hook")}
    event = (f"event:memory-error:{logs / RUN}.log", "firing")

    tail = TailProcess(tmp_path, "tail", config=config, state=state, paths=[logs], env=env)
    try:
        wait_until(lambda: state.exists() or not tail.alive(), "tail to open its state")
        _replay(PROGRAM, GUARD_STDERR, logs)
        wait_until(lambda: event in _alerts(receiver), "the memory error's alert", 30)
        time.sleep(SETTLE)
        wait_until(lambda: len(_alerts(receiver)) >= expected, f"{expected} alerts", 30)
        time.sleep(SETTLE)
    finally:
        assert tail.stop() == 0, tail.stderr()
    sent = _alerts(receiver)
    assert len(sent) == expected, sent
    if expected == 1:
        assert sent == [event]
        assert len(receiver.accepted) == 1
        shown = _alerts_json(state)["inhibited"]
        assert {entry["key"] for entry in shown} == {
            f"level:{logs / RUN}.log", f"level:{logs / RUN}.err", "level:total"}
        assert {entry["inhibited_by"] for entry in shown} == {event[0]}

        # restarted while the memory error's alert still fires: nothing is sent again
        again = TailProcess(tmp_path, "again", config=config, state=state, paths=[logs],
                            env=env)
        try:
            again.wait_for_line(lambda x: x.get("scope") == "total", "the restored window")
            time.sleep(SETTLE)
        finally:
            assert again.stop() == 0, again.stderr()
        assert _alerts(receiver) == [event]
        assert len(_alerts_json(state)["inhibited"]) == 3
    else:
        assert {key for key, _ in sent} == {event[0], f"level:{logs / RUN}.log",
                                             f"level:{logs / RUN}.err", "level:total"}


ROUTING = FAST_TAIL + """
[alerts]
hold_seconds = 1
group_wait_seconds = 1
host = "routing-e2e"
inhibit = []
inhibit_total = false
[alerts.sinks.pager]
type = "webhook"
url = "${PAGER_URL}"
min_level = "red"
[alerts.sinks.team]
type = "webhook"
url = "${TEAM_URL}"
scopes = ["*/team/*"]
"""
MEMORY_ERROR = ("run_batt.py:292: CRITICAL: MemoryError in CPU ProcessPoolExecutor"
                " - cannot recover\n")


def test_two_receivers_get_only_what_is_routed_to_them(tmp_path: Path,
                                                       httpserver: HTTPServer) -> None:
    pager, team = Receiver(), Receiver()
    pager.down = team.down = False
    httpserver.expect_request("/pager").respond_with_handler(pager)
    httpserver.expect_request("/team").respond_with_handler(team)
    config = tmp_path / "tw.toml"
    config.write_text(ROUTING)
    logs = tmp_path / "logs"
    (logs / "team").mkdir(parents=True)
    (logs / "other").mkdir()
    yellow, red = logs / "team" / "guarded.err", logs / "other" / "crashed.log"
    yellow.write_text("")
    red.write_text("")
    state = tmp_path / "state.db"
    env = {"PAGER_URL": httpserver.url_for("/pager"), "TEAM_URL": httpserver.url_for("/team")}
    tail = TailProcess(tmp_path, "tail", config=config, state=state, paths=[logs], env=env)
    try:
        wait_until(lambda: state.exists() or not tail.alive(), "tail to open its state")
        yellow.write_text(GUARD_STDERR.read_text())  # yellow: the pool was left for threads
        red.write_text(MEMORY_ERROR)  # red
        wait_until(lambda: len(_alerts(pager)) >= 3 and _alerts(team), "both receivers", 30)
        time.sleep(3.0)
    finally:
        assert tail.stop() == 0, tail.stderr()
    assert sorted(key for key, _ in _alerts(pager)) == sorted(
        [f"event:memory-error:{red}", f"level:{red}", "level:total"])
    assert _alerts(team) == [(f"level:{yellow}", "firing")]
    assert os.path.basename(str(yellow)) not in json.dumps(pager.accepted)
