"""``config/threadwatch.service``: systemd accepts it, and what it runs is what the CLI has."""

from __future__ import annotations

import configparser
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import typer.main

from threadwatch.cli import app

UNIT = Path(__file__).parent.parent / "config" / "threadwatch.service"


def unit() -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser(strict=False, delimiters=("=",))
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys keep their case
    parser.read_string(UNIT.read_text())
    return parser


def exec_start() -> list[str]:
    return shlex.split(unit()["Service"]["ExecStart"])


def test_systemd_analyze_verify_accepts_the_unit(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        if os.environ.get("CI"):
            pytest.fail("systemd-analyze is missing (CI: .ci/run installs the systemd package)")
        pytest.skip("systemd-analyze is missing (apt-get install systemd)")
    # verify checks that ExecStart's program exists: point it at this checkout's threadwatch
    program = Path(sys.executable).parent / "threadwatch"
    assert program.exists(), program
    copy = tmp_path / "threadwatch.service"
    copy.write_text(UNIT.read_text().replace("/usr/local/bin/threadwatch", str(program)))
    done = subprocess.run([analyze, "verify", str(copy)], capture_output=True, text=True,
                          timeout=120, check=False)
    # an unknown key or a bad value is only a warning (exit 0): any output fails
    assert (done.returncode, done.stdout + done.stderr) == (0, "")


def test_the_options_of_exec_start_are_options_of_tail() -> None:
    command = typer.main.get_command(app)
    argv = exec_start()
    assert argv[:2] == ["/usr/local/bin/threadwatch", "tail"]
    tail = command.commands["tail"]  # type: ignore[attr-defined]  # a group (typer's click)
    known = {opt for param in tail.params for opt in param.opts}
    given = [word for word in argv[2:] if word.startswith("-")]
    assert given and set(given) <= known, set(given) - known
    context = tail.make_context("tail", argv[2:])  # parses: every option and its value fit
    assert context.params["paths"] == ["/var/log/batt"]


def test_the_unit_is_a_notify_service_that_reloads_on_hup_and_keeps_state_in_its_folder(
) -> None:
    service = unit()["Service"]
    argv = exec_start()
    assert service["Type"] == "notify" and int(service["WatchdogSec"]) >= 3
    assert service["ExecReload"] == "/bin/kill -HUP $MAINPID"
    assert service["Restart"] == "on-failure"
    state = Path(argv[argv.index("--state") + 1])
    assert state.parent == Path("/var/lib") / service["StateDirectory"]
    assert service["ProtectSystem"] == "strict"  # only the StateDirectory is writable
    logs = argv[-1]
    # "-": a folder the batch program has not made yet must not stop the service from
    # starting (systemd: 226/NAMESPACE), since tail waits for it
    assert f"-{logs}" in service["ReadOnlyPaths"].split()
    assert "AF_UNIX" in service["RestrictAddressFamilies"].split()  # notify + status sockets
    assert service["User"] not in ("", "root")
