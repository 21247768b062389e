"""Fixtures for the alert tests: a fake clock, configs, a real Alertmanager, no leaked threads."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from threadwatch.alerts.testing import FakeClock

ALERTMANAGER_NAMES = ("prometheus-alertmanager", "alertmanager")
ALERTMANAGER_CONFIG = """\
route:
  receiver: "null"
  group_wait: 1s
receivers:
  - name: "null"
"""


@pytest.fixture
def clock() -> FakeClock:
    """A fake clock starting at the real time (Alertmanager compares with its own clock)."""
    return FakeClock(float(int(time.time())))


@pytest.fixture(autouse=True)
def _no_leaked_threads() -> Iterator[None]:
    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + 5
    leaked: list[threading.Thread] = []
    while time.monotonic() < deadline:
        leaked = [t for t in threading.enumerate() if t not in before and t.is_alive()
                  and t.name.startswith("threadwatch")]
        if not leaked:
            return
        time.sleep(0.02)
    pytest.fail(f"test leaked threads: {[t.name for t in leaked]}")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _alertmanager_binary() -> str | None:
    for name in ALERTMANAGER_NAMES:
        found = shutil.which(name) or (f"/usr/bin/{name}" if os.path.exists(f"/usr/bin/{name}")
                                       else None)
        if found:
            return found
    return None


@pytest.fixture(scope="session")
def alertmanager(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The base URL of a real Alertmanager on 127.0.0.1 (Debian: prometheus-alertmanager).

    Skips when it is not installed, but fails when ``CI`` is set: CI must run this test.
    """
    binary = _alertmanager_binary()
    if binary is None:
        reason = "prometheus-alertmanager not installed (apt-get install prometheus-alertmanager)"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; required when CI is set")
        pytest.skip(reason)
    folder: Path = tmp_path_factory.mktemp("alertmanager")
    (folder / "alertmanager.yml").write_text(ALERTMANAGER_CONFIG)
    port = _free_port()
    log = (folder / "alertmanager.log").open("wb")
    process = subprocess.Popen(
        [binary, f"--config.file={folder / 'alertmanager.yml'}",
         f"--storage.path={folder / 'data'}", f"--web.listen-address=127.0.0.1:{port}",
         "--cluster.listen-address=", "--log.level=warn"],
        stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(f"{url}/-/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                output = (folder / "alertmanager.log").read_text()
                pytest.fail(f"alertmanager did not start: {output}")
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
