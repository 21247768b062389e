"""Fault: another process holds the state file's write lock (``BEGIN EXCLUSIVE``: a backup, an
``sqlite3`` shell) while Prometheus scrapes a ``tail --metrics-listen`` with an alert sink. The
outbox counts are read at scrape time, in the server's thread, through a read-only connection
with a short busy timeout (WAL: a writer's lock does not stop a reader): the scrape answers
quickly, the tail keeps counting lines, and nothing crashes or writes a traceback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families
from tail_process import FAST_TAIL, append, healthy_batch, hold_write_lock

from sources.tail_helpers import wait_until

SINK = """
[alerts]
hold_seconds = 0
group_wait_seconds = 0
[alerts.sinks.hook]
type = "webhook"
url = "${LOCKED_HOOK_URL}"
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def batches(url: str) -> float | None:
    text = httpx.get(url, timeout=10).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if (sample.name == "threadwatch_events_total"
                    and sample.labels == {"scope": "total", "count": "batches"}):
                return sample.value
    return None


def test_scrapes_answer_and_lines_are_counted_while_the_state_file_is_locked(
    tmp_path: Path,
) -> None:
    config = tmp_path / "tw.toml"
    config.write_text(FAST_TAIL + SINK)
    log = tmp_path / "run.log"
    log.write_text("")
    state = tmp_path / "state.db"
    port = free_port()
    url = f"http://127.0.0.1:{port}/metrics"
    err = (tmp_path / "tail.err").open("wb")
    tail = subprocess.Popen(
        [sys.executable, "-m", "threadwatch", "tail", "--format", "jsonl", "--config",
         str(config), "--state", str(state), "--metrics-listen", f"127.0.0.1:{port}",
         str(log)], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
        env={**os.environ, "LOCKED_HOOK_URL": f"http://127.0.0.1:{free_port()}/"})
    holder = None
    try:
        def answers() -> bool:
            assert tail.poll() is None, (tmp_path / "tail.err").read_text()
            try:
                return batches(url) == 0
            except httpx.TransportError:
                return False

        wait_until(answers, "the first scrape")
        holder = hold_write_lock(state)
        append(log, healthy_batch(1) + healthy_batch(2))
        deadline = time.monotonic() + 10
        slowest = 0.0
        while True:
            started = time.monotonic()
            counted = batches(url)
            slowest = max(slowest, time.monotonic() - started)
            if counted == 2 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert counted == 2, (tmp_path / "tail.err").read_text()
        assert slowest < 2.0  # at most the read's 0.5 s busy timeout, not the outbox's 5 s
        assert tail.poll() is None
    finally:
        if holder is not None:
            if holder.poll() is None:
                assert holder.stdin is not None
                holder.stdin.write("\n")
                holder.stdin.flush()
            holder.communicate(timeout=20)
        tail.terminate()
        code = tail.wait(20)
        err.close()
    stderr = (tmp_path / "tail.err").read_text()
    assert code == 0, stderr
    assert "Traceback" not in stderr
