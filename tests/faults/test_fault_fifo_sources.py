"""Fault: a FIFO named ``*.log`` in a folder hung ``report`` for ever, and one named on the
command line hung ``report`` and ``tail`` at start-up (opening a FIFO with no writer blocks);
``/dev/zero`` given as a path was read for ever. Real ``report`` and ``tail`` processes now leave
anything that is not a regular file out: found by a folder scan, silently (``--verbose`` lists
it); named explicitly, with one line ``threadwatch: PATH: not a regular file, skipped``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from sources.tail_helpers import wait_until

HEALTHY = Path(__file__).resolve().parents[2] / "fixtures" / "logs" / "host-a" / (
    "tmp_batt_k3J9xQ2mPa_run.log"
)
MEMORY_ERROR = ("run_batt.py:292: CRITICAL: MemoryError in CPU ProcessPoolExecutor"
                " - cannot recover\n")


def _logs_with_a_fifo(tmp_path: Path) -> Path:
    """A folder with a normal run log and a FIFO named ``x.log`` that nobody writes to."""
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / HEALTHY.name).write_bytes(HEALTHY.read_bytes())
    os.mkfifo(logs / "x.log")
    return logs


def _report(*args: str) -> subprocess.CompletedProcess[str]:
    # a hang is the defect: the timeout turns it into a failure
    return subprocess.run(
        [sys.executable, "-m", "threadwatch", "report", "--format", "json", *args],
        capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=20, check=False,
    )


def test_report_on_a_folder_with_a_fifo_judges_the_normal_log(tmp_path: Path) -> None:
    logs = _logs_with_a_fifo(tmp_path)
    result = _report(str(logs))
    assert result.returncode == 0, result.stderr  # the healthy run is green
    assert [s["path"] for s in json.loads(result.stdout)["sources"]] == [
        str(logs / HEALTHY.name)
    ]
    assert result.stderr == ""  # a scan leaves out what is not a log quietly
    loud = _report("--verbose", str(logs))
    assert loud.returncode == 0, loud.stderr
    assert f"threadwatch: {logs / 'x.log'}: skipped (not a regular file)" in (
        loud.stderr.splitlines()
    )


def test_report_of_a_named_fifo_says_one_line_and_reads_the_rest(tmp_path: Path) -> None:
    logs = _logs_with_a_fifo(tmp_path)
    result = _report(str(logs / "x.log"), str(logs / HEALTHY.name))
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == [
        f"threadwatch: {logs / 'x.log'}: not a regular file, skipped"
    ]
    assert json.loads(result.stdout)["counts"]["batches"] == 5


def test_report_of_dev_zero_ends_with_one_line_and_exit_3() -> None:
    result = _report("/dev/zero")
    assert result.returncode == 3
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith("threadwatch: ") and "/dev/zero: not a regular file, skipped" in line


def test_tail_follows_the_normal_logs_past_fifos_and_devices(tmp_path: Path) -> None:
    logs = _logs_with_a_fifo(tmp_path)
    out_path, err_path = tmp_path / "out.jsonl", tmp_path / "err.txt"
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "state")}
    config = tmp_path / "tw.toml"
    config.write_text("[tail]\npoll_seconds = 0.05\nsweep_seconds = 0.2\n")

    def kinds_from(name: str) -> list[str]:
        lines = out_path.read_text().splitlines()
        events = [json.loads(line) for line in lines if line.endswith("}")]
        return [e["kind"] for e in events
                if e["type"] == "event" and e["source"] == str(logs / name)]

    with out_path.open("wb") as out, err_path.open("wb") as err:
        tail = subprocess.Popen(
            [sys.executable, "-m", "threadwatch", "tail", "--format", "jsonl",
             "--config", str(config), str(logs), str(logs / "x.log"), "/dev/zero"],
            stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env,
        )
        try:
            wait_until(lambda: "task_start" in kinds_from(HEALTHY.name) or tail.poll() is not None,
                       "tail to read the normal log")
            assert tail.poll() is None, err_path.read_text()
            # files that appear later: a FIFO is left out, the normal file next to it followed
            os.mkfifo(logs / "later.log")
            with (logs / "later2.log").open("a") as stream:
                stream.write(MEMORY_ERROR)
            wait_until(lambda: "memory_error" in kinds_from("later2.log")
                       or tail.poll() is not None, "tail to read a file created later")
            assert tail.poll() is None, err_path.read_text()
        finally:
            if tail.poll() is None:
                tail.send_signal(signal.SIGTERM)
            code = tail.wait(20)
    assert code == 0, err_path.read_text()
    assert err_path.read_text().splitlines() == [
        f"threadwatch: {logs / 'x.log'}: not a regular file, skipped",
        "threadwatch: /dev/zero: not a regular file, skipped",
    ]


def test_tail_with_only_a_fifo_named_exits_3_with_one_line(tmp_path: Path) -> None:
    fifo = tmp_path / "x.log"
    os.mkfifo(fifo)
    result = subprocess.run(
        [sys.executable, "-m", "threadwatch", "tail", "--format", "jsonl", str(fifo)],
        capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=20, check=False,
        env={**os.environ, "XDG_STATE_HOME": str(tmp_path / "state")},
    )
    assert result.returncode == 3
    assert result.stderr.splitlines() == [
        f"threadwatch: nothing to follow: {fifo}: not a regular file, skipped"
    ]
