"""The live view in a real terminal (tmux), at 80x24 and at 200x50: the frame fits, rows never
wrap, the worst sources and the reasons show, the alert state shows (alerts firing, a sink
failing: a real receiver answering 503), and redraws happen in place (nothing piles up in the
scrollback)."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from alerts.alert_helpers import Receiver
from sources.tail_helpers import wait_until

pytestmark = pytest.mark.skipif(
    shutil.which("tmux") is None and not os.environ.get("CI"),
    reason="tmux is not installed (CI installs it)",
)

CONFIG = """
[tail]
poll_seconds = 0.05
sweep_seconds = 0.2
refresh_seconds = 0.1

[alerts]
hold_seconds = 0
group_wait_seconds = 0

[alerts.sinks.hook]
type = "webhook"
url = "${TW_VIEW_HOOK_URL}"
"""
LEVELS = ("RED", "YELLOW", "GREEN", "UNKNOWN")


def healthy(n: int) -> str:
    task = f"{n:08x}"
    return (f"run_batt.py:1241: -- {task} - {n} start --\n"
            + "".join(f"<dynamic-code>:931: demo[{k}] - {task} - 3\n" for k in range(4))
            + f"run_batt.py:1251: -- {task} - {n} done - 4 candidates scored\n")


def make_logs(folder: Path) -> list[Path]:
    """25 files under long host folders: 3 with a memory error, 22 healthy."""
    logs = []
    for n in range(25):
        host = folder / f"batt-worker-host-{n:02d}.cluster.example"
        host.mkdir(parents=True)
        log = host / f"tmp_batt_{n:02d}k3J9xQ2mPaLongName_run.log"
        text = healthy(n)
        if n % 9 == 0:
            text += "run_batt.py:292: CRITICAL: MemoryError in CPU ProcessPoolExecutor - x\n"
        log.write_text(text)
        logs.append(log)
    return logs


class Terminal:
    """A detached tmux session of a given size running one command. ``COLUMNS`` and ``LINES``
    are unset in it: a tmux server started without a terminal exports its default 80x24 there,
    and rich would believe them over the terminal's real size."""

    def __init__(self, width: int, height: int, command: list[str],
                 env: tuple[str, ...] = ()) -> None:
        self.name = f"tw-{uuid.uuid4().hex[:8]}"
        subprocess.run(["tmux", "new-session", "-d", "-s", self.name, "-x", str(width),
                        "-y", str(height), "env", "-u", "COLUMNS", "-u", "LINES", "LANG=C.UTF-8",
                        "TERM=xterm-256color", *env,
                        *command], check=True)
        self.pid = int(subprocess.run(["tmux", "display-message", "-p", "-t", self.name,
                                       "#{pane_pid}"], capture_output=True, text=True,
                                      check=True).stdout)  # env execs the command

    def screen(self) -> list[str]:
        out = subprocess.run(["tmux", "capture-pane", "-p", "-t", self.name],
                             capture_output=True, text=True, check=True).stdout
        return out.rstrip("\n").split("\n")

    def everything(self) -> list[str]:
        """The screen and every line that went up into the scrollback."""
        out = subprocess.run(["tmux", "capture-pane", "-p", "-S", "-", "-t", self.name],
                             capture_output=True, text=True, check=True).stdout
        return out.rstrip("\n").split("\n")

    def close(self) -> None:
        """Close the terminal: tmux hangs it up (SIGHUP to the command, then it is gone)."""
        subprocess.run(["tmux", "kill-session", "-t", self.name], check=False,
                       capture_output=True)

    def ended(self) -> bool:
        """The command has ended (gone, or a zombie waiting for tmux to reap it)."""
        try:
            stat = Path(f"/proc/{self.pid}/stat").read_text()
        except OSError:
            return True
        return stat.rsplit(") ", 1)[1].startswith("Z")


@pytest.fixture
def tail_in(tmp_path: Path) -> Iterator[tuple[Path, list[Path], list[Terminal]]]:
    folder = tmp_path / "logs"
    logs = make_logs(folder)
    (tmp_path / "tw.toml").write_text(CONFIG)
    terminals: list[Terminal] = []
    yield folder, logs, terminals
    for terminal in terminals:
        terminal.close()
    for terminal in terminals:  # a test that failed must not leave a tail running
        with contextlib.suppress(pytest.fail.Exception):
            wait_until(terminal.ended, "the command to end", timeout=5)
        if not terminal.ended():
            os.kill(terminal.pid, signal.SIGKILL)


@pytest.mark.parametrize(("width", "height"), [(80, 24), (200, 50)])
def test_the_frame_fits_and_is_redrawn_in_place(
        tail_in: tuple[Path, list[Path], list[Terminal]], tmp_path: Path,
        httpserver: HTTPServer, width: int, height: int) -> None:
    folder, logs, terminals = tail_in
    httpserver.expect_request("/hook").respond_with_handler(Receiver())  # down: 503
    command = [sys.executable, "-m", "threadwatch", "tail", "--config", str(tmp_path / "tw.toml"),
               "--state", str(tmp_path / "state.db"), str(folder)]
    terminal = Terminal(width, height, command,
                        env=(f"TW_VIEW_HOOK_URL={httpserver.url_for('/hook')}",))
    terminals.append(terminal)
    wait_until(lambda: any(line.split()[:1] in (["RED"],) and "total" in line
                           for line in terminal.screen()), "the first frame with the total")
    wait_until(lambda: any("FAILING" in line for line in terminal.screen()),
               "the failing sink in the alert line")
    for round_ in range(5):  # more lines, more redraws
        for n, log in enumerate(logs[:5]):
            with log.open("a") as stream:
                stream.write(healthy(100 + 10 * round_ + n))
        time.sleep(0.3)
    whole = terminal.screen()
    assert len(whole) <= height
    # what tail logged is printed above the frame, the frame stays whole below it
    top = next(i for i, line in enumerate(whole) if line.startswith("threadwatch tail ("))
    screen = whole[top:]
    assert screen[0].startswith("threadwatch tail (inotify) — "), whole
    assert screen[1].startswith("total RED · 25 sources, 3 red"), screen
    # the memory errors fire (their own files' level alerts are inhibited: they say nothing
    # more), and the receiver answers 503
    alert_line = r"alerts: \d+ firing \(3 inhibited\) · sink hook FAILING \(\d+x"
    assert re.match(alert_line, screen[2]), screen
    rows = [line for line in screen[5:] if line.strip() and not line.startswith("─")]
    # every row starts with its level: a wrapped row would leave a line that does not
    assert all(row.split()[0] in LEVELS or row.strip().startswith("…") for row in rows), screen
    reds = [row for row in rows if row.startswith("RED")]
    assert len(reds) == 4 and all("memory errors" in row for row in reds), screen  # 3 + total
    # long names lose what they all share first: each red row still names its own host
    assert sorted(row.split()[4][:3] for row in reds[:3]) == ["…00", "…09", "…18"], reds
    more = [row for row in rows if row.strip().startswith("…")]
    if height == 24:
        assert more and "more" in more[0]  # 25 sources do not fit in 24 lines
    else:
        assert not more
    # redrawn in place: one frame in the whole buffer, however many redraws; what tail logged
    # (the failing sink, once) went up above it, whole
    buffer = terminal.everything()
    assert sum(line.startswith("threadwatch tail (") for line in buffer) == 1, buffer
    said = [line for line in buffer if line.startswith("threadwatch: ")]
    assert any("hook" in line and "failing" in line for line in said), buffer
    assert buffer.index(said[0]) < buffer.index(screen[0]), buffer



def test_closing_the_terminal_stops_tail(
        tail_in: tuple[Path, list[Path], list[Terminal]], tmp_path: Path) -> None:
    """A hang-up (the terminal closed, ssh gone) stops tail as it stops any program in a
    terminal; reloading instead left it running unseen, holding its state file, for ever."""
    folder, _, terminals = tail_in
    (tmp_path / "tw.toml").write_text("[tail]\npoll_seconds = 0.05\nrefresh_seconds = 0.1\n")
    state = tmp_path / "state.db"
    terminal = Terminal(80, 24, [sys.executable, "-m", "threadwatch", "tail", "--config",
                                 str(tmp_path / "tw.toml"), "--state", str(state), str(folder)])
    terminals.append(terminal)
    wait_until(lambda: any("total" in line for line in terminal.screen()), "the first frame")
    terminal.close()  # tmux hangs the terminal up: SIGHUP, then the terminal is gone
    wait_until(terminal.ended, "tail to stop on the hang-up", timeout=10)
    # its state file is free again: a new tail on it starts (and stops on SIGTERM)
    again = subprocess.Popen([sys.executable, "-m", "threadwatch", "tail", "--format", "jsonl",
                              "--state", str(state), str(folder)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(1.0)
        again.terminate()
        _, err = again.communicate(timeout=20)
    finally:
        again.kill()
    assert again.returncode == 0, err
