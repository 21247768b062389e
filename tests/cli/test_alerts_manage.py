"""``threadwatch alerts retry|drop ID``: what they say and their exit codes, on a real state
file (the deliveries themselves: tests/alerts/test_alert_retry_drop.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from threadwatch.alerts.model import Notification
from threadwatch.alerts.outbox import Outbox


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "threadwatch", "alerts", *args],
                          capture_output=True, text=True, timeout=60, env=os.environ, check=False)


@pytest.fixture
def state(tmp_path: Path) -> Path:
    """#1 to sinks a and b: a failed, b delivered; #2 to a: pending."""
    path = tmp_path / "state.db"
    outbox = Outbox(path)
    outbox.enqueue(Notification((), 1000.0, "h"), ["a", "b"])
    failed, delivered = outbox.deliveries_of(1)
    outbox.mark_failed(failed.id, 1001.0, "HTTP 400")
    outbox.mark_delivered(delivered.id, 1001.0)
    outbox.enqueue(Notification((), 1002.0, "h"), ["a"])
    outbox.close()
    return path


def states(path: Path, number: int) -> dict[str, str]:
    outbox = Outbox(path, read_only=True)
    try:
        return {d.sink: d.state for d in outbox.deliveries_of(number)}
    finally:
        outbox.close()


@pytest.mark.parametrize(("args", "message"), [
    (["retry", "7"], "threadwatch: no notification #7 in {state}\n"),
    (["drop", "#7"], "threadwatch: no notification #7 in {state}\n"),
    (["retry", "seven"], "threadwatch: 'seven' is not a notification number (as `threadwatch"
                         " alerts` shows it: #12)\n"),
    (["retry", "0"], "threadwatch: '0' is not a notification number (as `threadwatch alerts`"
                     " shows it: #12)\n"),
    (["drop", "1", "--sink", "c"], "threadwatch: notification #1 has no delivery to sink 'c'"
                                   " (its sinks: a, b)\n"),
    (["retry", "1", "--sink", "b"], "threadwatch: notification #1: nothing to retry, only"
                                    " pending or failed deliveries can be (b delivered)\n"),
])
def test_a_wrong_id_or_sink_is_one_line_and_exit_3(state: Path, args: list[str],
                                                   message: str) -> None:
    done = run(*args, "--state", str(state))
    assert (done.returncode, done.stdout, done.stderr) == (3, "", message.format(state=state))
    assert states(state, 1) == {"a": "failed", "b": "delivered"}  # nothing changed


def test_retry_acts_on_the_pending_and_failed_deliveries_only(state: Path) -> None:
    done = run("retry", "1", "--state", str(state))
    assert (done.returncode, done.stdout) == (0, "#1 -> a: due now (was failed)\n")
    assert states(state, 1) == {"a": "pending", "b": "delivered"}


def test_drop_then_retry_says_there_is_nothing_left(state: Path) -> None:
    # --state given to the group works as well as to the command
    done = run("--state", str(state), "drop", "#2")
    assert (done.returncode, done.stdout) == (0, "#2 -> a: dropped (was pending)\n")
    again = run("retry", "2", "--state", str(state))
    assert again.returncode == 3
    assert "nothing to retry" in again.stderr and "(a dropped)" in again.stderr
    listing = run("--state", str(state))
    assert listing.returncode == 0
    assert "outbox: 0 pending, 1 delivered, 1 failed, 1 dropped" in listing.stdout


def test_no_state_file_is_an_error_and_makes_none(tmp_path: Path) -> None:
    done = run("drop", "1", "--state", str(tmp_path / "none.db"))
    assert (done.returncode, done.stderr) == (
        3, f"threadwatch: no state file at {tmp_path / 'none.db'}\n")
    assert list(tmp_path.iterdir()) == []


def test_alerts_alone_still_lists(state: Path) -> None:
    done = run("--state", str(state), "--limit", "5")
    assert done.returncode == 0
    assert done.stdout.startswith("outbox: 1 pending, 1 delivered, 1 failed\n")
