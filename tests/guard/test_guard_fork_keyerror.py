"""The real thread-cleanup KeyError, reproduced by forking, on every CPython here.

A fresh ``-S`` interpreter registers an after-fork hook *before* ``import threading``; the hook
starts a short daemon thread in the child, before threading's own after-fork hook rebuilds its
table of threads. When that thread ends, 3.11+ print ``Exception ignored in thread started by
... KeyError: <ident>``; with the guard installed (before the fork) they print a guard line.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

SRC = str(Path(__file__).resolve().parents[2] / "src")
PYENV = Path("/root/.pyenv/versions")

FORK_SCRIPT = r"""
import os, sys
mode, src = sys.argv[1], sys.argv[2]
started = []

def start_short_thread():
    worker = threading.Thread(target=time.sleep, args=(0.05,), name="forked-worker", daemon=True)
    worker.start()
    started.append(worker)

os.register_at_fork(after_in_child=start_short_thread)
import threading, time
if mode == "guard":
    sys.path.insert(0, src)
    import logging
    import threadwatch.guard as guard
    logging.basicConfig(
        stream=sys.stderr, level=logging.INFO, format="%(levelname)s [%(threadName)s] %(message)s"
    )
    assert guard.install_thread_cleanup_guard()
pid = os.fork()
if pid == 0:
    time.sleep(0.5)
    report = "ident=%d" % started[0].ident
    if mode == "guard":
        names = ",".join(sorted(t.name for t in threading.enumerate()))
        report += " suppressed=%d threads=%s" % (guard.suppressed_count(), names)
    print(report, flush=True)
    os._exit(0)
_, status = os.waitpid(pid, 0)
sys.exit(status >> 8)
"""

NOOP_SCRIPT = r"""
import sys, threading, types
# Load the guard package without running threadwatch/__init__.py (which may use 3.11 syntax):
# what is checked here is that the guard itself imports and stays inert on this Python.
parent = types.ModuleType("threadwatch")
parent.__path__ = [sys.argv[1] + "/threadwatch"]
sys.modules["threadwatch"] = parent
original = threading.Thread._delete
import threadwatch.guard as guard
print(guard.install_thread_cleanup_guard(), guard.is_thread_cleanup_guard_installed(),
      threading.Thread._delete is original)
"""


def _interpreter(version: str) -> str | None:
    path = PYENV / version / "bin" / "python"
    return str(path) if path.exists() else None


def _fork_interpreters() -> list[object]:
    """The running interpreter always; the pyenv CPythons 3.11+ where installed."""
    found = {os.path.realpath(sys.executable): "running-{}.{}.{}".format(*sys.version_info[:3])}
    for version in ("3.11.7", "3.12.1", "3.13.0"):
        path = _interpreter(version)
        if path is not None:
            found.setdefault(os.path.realpath(path), version)
    return [pytest.param(path, id=name) for path, name in found.items()]


def _run(python: str, script: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    return subprocess.run(
        [python, "-S", "-c", script, *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )


def _version(python: str) -> str:
    return _run(python, "import sys; print('%d.%d.%d' % sys.version_info[:3])").stdout.strip()


pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")


@pytest.mark.parametrize("python", _fork_interpreters())
def test_forked_thread_prints_cleanup_keyerror_without_guard(python: str) -> None:
    run = _run(python, FORK_SCRIPT, "plain", SRC)
    assert run.returncode == 0, run.stderr
    ident = re.fullmatch(r"ident=(\d+)\n", run.stdout)
    assert ident, run.stdout
    assert "Exception ignored in thread started by" in run.stderr
    assert f"KeyError: {ident[1]}" in run.stderr


@pytest.mark.parametrize("python", _fork_interpreters())
def test_guard_turns_fork_cleanup_keyerror_into_one_guard_line(python: str) -> None:
    run = _run(python, FORK_SCRIPT, "guard", SRC)
    assert run.returncode == 0, run.stderr
    report = re.fullmatch(r"ident=(\d+) suppressed=(\d+) threads=(.*)\n", run.stdout)
    assert report, run.stdout
    ident, suppressed, threads = report.groups()
    assert "Exception ignored" not in run.stderr
    assert "KeyError" not in run.stderr
    assert (suppressed, threads) == ("1", "MainThread")  # counted; no _DummyThread left behind
    line = re.search(r"^WARNING \[forked-worker\] (threadwatch-guard .*)$", run.stderr, re.M)
    assert line, run.stderr
    assert re.fullmatch(
        rf'threadwatch-guard event=thread_cleanup_suppressed thread="forked-worker" '
        rf"status=(stopped|started) ident={ident} python={re.escape(_version(python))}",
        line[1],
    )


@pytest.mark.parametrize("version", ["3.9.18", "3.10.13"])
def test_guard_is_a_no_op_on_pythons_that_do_not_print_the_error(version: str) -> None:
    python = _interpreter(version)
    if python is None:
        pytest.skip(f"CPython {version} is not installed")
    run = _run(python, NOOP_SCRIPT, SRC)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["False", "False", "True"]
