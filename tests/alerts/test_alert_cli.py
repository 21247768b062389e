"""``threadwatch alert-test`` and ``threadwatch alerts``, run as real subprocesses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from alert_helpers import alerts_config
from pytest_httpserver import HTTPServer

from threadwatch.alerts.dispatcher import AlertDispatcher
from threadwatch.alerts.outbox import Outbox
from threadwatch.alerts.testing import FakeClock, MemorySink
from threadwatch.events import Event, Kind

SINKS = """
[alerts.sinks.good]
type = "webhook"
url = "${TW_GOOD_URL}"
[alerts.sinks.down]
type = "slack"
url = "${TW_DOWN_URL}"
[alerts.sinks.unset]
type = "slack"
url = "${TW_UNSET_URL}"
"""


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("TW_")}
    environment.update(env or {})
    return subprocess.run([sys.executable, "-m", "threadwatch", *args], capture_output=True,
                          text=True, timeout=60, check=False, env=environment)


def test_alert_test_says_for_each_sink_whether_it_was_accepted(tmp_path: Path,
                                                               httpserver: HTTPServer) -> None:
    httpserver.expect_request("/good").respond_with_data("ok")
    httpserver.expect_request("/down/s3cr3t").respond_with_data("no", status=500)
    (tmp_path / "c.toml").write_text(SINKS)
    result = run("alert-test", "--config", str(tmp_path / "c.toml"), env={
        "TW_GOOD_URL": httpserver.url_for("/good"),
        "TW_DOWN_URL": httpserver.url_for("/down/s3cr3t")})
    assert result.returncode == 3
    assert result.stdout.splitlines() == [
        "good: ok (accepted)",
        "down: FAILED (HTTP 500: no)",
        "unset: FAILED (url: environment variable TW_UNSET_URL is not set)",
    ]
    assert "s3cr3t" not in result.stdout + result.stderr


def test_alert_test_with_one_accepting_sink_exits_0(tmp_path: Path,
                                                    httpserver: HTTPServer) -> None:
    httpserver.expect_request("/good").respond_with_data("ok")
    (tmp_path / "c.toml").write_text(SINKS)
    result = run("alert-test", "--sink", "good", "--config", str(tmp_path / "c.toml"),
                 env={"TW_GOOD_URL": httpserver.url_for("/good")})
    assert (result.returncode, result.stdout) == (0, "good: ok (accepted)\n")


def test_alert_test_sends_to_sinks_whose_routing_would_not_take_it(
        tmp_path: Path, httpserver: HTTPServer) -> None:
    """The test alert is yellow, of rule alert-test, scope "threadwatch alert-test": routing
    would send it to neither sink; alert-test tries the sinks themselves."""
    httpserver.expect_request("/red").respond_with_data("ok")
    httpserver.expect_request("/mem").respond_with_data("ok")
    (tmp_path / "c.toml").write_text(
        '[alerts.sinks.red]\ntype = "webhook"\nurl = "${TW_RED_URL}"\nmin_level = "red"\n'
        '[alerts.sinks.mem]\ntype = "webhook"\nurl = "${TW_MEM_URL}"\nscopes = ["*.log"]\n'
        'rules = ["memory-error"]\n')
    result = run("alert-test", "--config", str(tmp_path / "c.toml"), env={
        "TW_RED_URL": httpserver.url_for("/red"), "TW_MEM_URL": httpserver.url_for("/mem")})
    assert (result.returncode, result.stdout) == (0, "red: ok (accepted)\nmem: ok (accepted)\n")
    assert sorted(request.path for request, _ in httpserver.log) == ["/mem", "/red"]


def test_alert_test_without_sinks_is_an_error() -> None:
    result = run("alert-test")
    assert result.returncode == 3
    assert "no alert sinks configured" in result.stderr


def test_alerts_lists_notifications_and_the_outbox(tmp_path: Path) -> None:
    clock = FakeClock()
    sink = MemorySink()
    dispatcher = AlertDispatcher(alerts_config(group_wait_seconds=0), Outbox(tmp_path / "s.db"),
                                 {"mem": sink}, clock, background=False)
    dispatcher.on_events([Event(Kind.MEMORY_ERROR, "a.log", 0, text="x")], clock.now)
    dispatcher.tick(clock.now)
    dispatcher.close()
    result = run("alerts", "--state", str(tmp_path / "s.db"))
    assert result.returncode == 0, result.stderr
    assert "outbox: 0 pending, 1 delivered, 0 failed" in result.stdout
    assert "event:memory-error:a.log: memory error in a.log" in result.stdout
    as_json = json.loads(run("alerts", "--state", str(tmp_path / "s.db"), "-f", "json").stdout)
    assert as_json["deliveries"][0]["state"] == "delivered"


def test_alerts_without_a_state_file_exits_3(tmp_path: Path) -> None:
    result = run("alerts", "--state", str(tmp_path / "missing.db"))
    assert result.returncode == 3
    assert "no state file" in result.stderr


def test_alerts_with_no_state_file_at_the_default_place_says_no_alerts_yet(
    tmp_path: Path
) -> None:
    result = run("alerts", env={"XDG_STATE_HOME": str(tmp_path / "state")})
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == (f"no alerts yet: no state file at {tmp_path}/state/threadwatch/"
                             "state.db (tail has not run with it)\n")
    assert not (tmp_path / "state").exists()


def test_alerts_limit_beyond_any_integer_lists_everything(tmp_path: Path) -> None:
    clock = FakeClock()
    dispatcher = AlertDispatcher(alerts_config(group_wait_seconds=0), Outbox(tmp_path / "s.db"),
                                 {"mem": MemorySink()}, clock, background=False)
    for source in ("a.log", "b.log"):
        dispatcher.on_events([Event(Kind.MEMORY_ERROR, source, 0, text="x")], clock.now)
        dispatcher.tick(clock.advance(1))
    dispatcher.close()
    result = run("alerts", "--state", str(tmp_path / "s.db"), "--limit", "9" * 20, "-f", "json")
    assert (result.returncode, result.stderr) == (0, "")
    assert len(json.loads(result.stdout)["notifications"]) == 2
    none = run("alerts", "--state", str(tmp_path / "s.db"), "--limit", "0", "-f", "json")
    assert json.loads(none.stdout)["notifications"] == []
    negative = run("alerts", "--state", str(tmp_path / "s.db"), "--limit", "-1")
    assert negative.returncode == 3 and "Traceback" not in negative.stderr
