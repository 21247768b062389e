"""The live view in a real terminal (tmux), at 80x24 and at 200x50: the frame fits, rows never
wrap, the worst sources and the reasons show, and redraws happen in place (nothing piles up in
the scrollback)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

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

    def __init__(self, width: int, height: int, command: list[str]) -> None:
        self.name = f"tw-{uuid.uuid4().hex[:8]}"
        subprocess.run(["tmux", "new-session", "-d", "-s", self.name, "-x", str(width),
                        "-y", str(height), "env", "-u", "COLUMNS", "-u", "LINES", "LANG=C.UTF-8",
                        "TERM=xterm-256color",
                        *command], check=True)

    def screen(self) -> list[str]:
        out = subprocess.run(["tmux", "capture-pane", "-p", "-t", self.name],
                             capture_output=True, text=True, check=True).stdout
        return out.rstrip("\n").split("\n")

    def scrolled_away(self) -> int:
        """How many lines went up into the scrollback."""
        out = subprocess.run(["tmux", "display", "-p", "-t", self.name, "#{history_size}"],
                             capture_output=True, text=True, check=True).stdout
        return int(out)

    def close(self) -> None:
        subprocess.run(["tmux", "kill-session", "-t", self.name], check=False,
                       capture_output=True)


@pytest.fixture
def tail_in(tmp_path: Path) -> Iterator[tuple[Path, list[Path], list[Terminal]]]:
    folder = tmp_path / "logs"
    logs = make_logs(folder)
    (tmp_path / "tw.toml").write_text(CONFIG)
    terminals: list[Terminal] = []
    yield folder, logs, terminals
    for terminal in terminals:
        terminal.close()


@pytest.mark.parametrize(("width", "height"), [(80, 24), (200, 50)])
def test_the_frame_fits_and_is_redrawn_in_place(
        tail_in: tuple[Path, list[Path], list[Terminal]], tmp_path: Path,
        width: int, height: int) -> None:
    folder, logs, terminals = tail_in
    command = [sys.executable, "-m", "threadwatch", "tail", "--config", str(tmp_path / "tw.toml"),
               "--state", str(tmp_path / "state.db"), str(folder)]
    terminal = Terminal(width, height, command)
    terminals.append(terminal)
    wait_until(lambda: any(line.split()[:1] in (["RED"],) and "total" in line
                           for line in terminal.screen()), "the first frame with the total")
    for round_ in range(5):  # more lines, more redraws
        for n, log in enumerate(logs[:5]):
            with log.open("a") as stream:
                stream.write(healthy(100 + 10 * round_ + n))
        time.sleep(0.3)
    screen = terminal.screen()
    assert len(screen) <= height
    assert screen[0].startswith("threadwatch tail (inotify) — "), screen
    assert screen[1].startswith("total RED · 25 sources, 3 red"), screen
    rows = [line for line in screen[4:] if line.strip() and not line.startswith("─")]
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
    assert terminal.scrolled_away() == 0  # redrawn in place: no frame scrolled away
