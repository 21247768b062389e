"""Following files while a real writer appends and real logrotate rotates them, and while a
writer rewrites its file like ``tee``: every line seen once, none lost that exists on disk."""

from __future__ import annotations

import subprocess
from collections import Counter
from pathlib import Path

import pytest
from tail_helpers import (
    FAST,
    NumberedWriter,
    batch_line,
    config_with,
    numbers_on_disk,
    rescanned,
    running_tail,
    wait_until,
)

LINES = 3000
ROTATIONS = 3


def rotate(logrotate: str, log: Path, mode: str, work: Path) -> None:
    conf = work / "logrotate.conf"
    conf.write_text(f"{log} {{\n  rotate 100\n  {mode}\n  missingok\n  nocompress\n}}\n")
    subprocess.run([logrotate, "-s", str(work / "logrotate.state"), "-f", str(conf)],
                   check=True, capture_output=True, timeout=30)


def follow_while_rotating(logrotate: str, tmp_path: Path, mode: str,
                          use_inotify: bool = True) -> tuple[list[int], list[int]]:
    """Write LINES numbered lines, rotating ROTATIONS times meanwhile; return the numbers seen
    by tail and the numbers on disk afterwards."""
    logs = tmp_path / "logs"
    logs.mkdir()
    log = logs / "app.log"
    log.touch()
    # copytruncate needs a writer that keeps its file open in append mode
    writer = NumberedWriter(log, LINES, reopen_every=LINES if mode == "copytruncate" else 50)
    with running_tail([str(logs)], tmp_path / "state.db", use_inotify=use_inotify) as (tail,
                                                                                       seen):
        writer.start()
        try:
            for round_ in range(1, ROTATIONS + 1):
                wait_until(lambda r=round_: writer.written >= r * LINES // (ROTATIONS + 1),
                           "the writer to progress")
                rotate(logrotate, log, mode, tmp_path)
        finally:
            writer.join()
        on_disk = numbers_on_disk(logs)
        wait_until(lambda: len(seen.numbers()) >= len(on_disk), "every line on disk to be seen")
        wait_until(rescanned(tail), "two more rescans (a late duplicate would show)")
        return seen.numbers(), on_disk


def duplicates(numbers: list[int]) -> list[int]:
    return [n for n, count in Counter(numbers).items() if count > 1]


def test_create_rotation_loses_and_repeats_nothing(logrotate: str, tmp_path: Path) -> None:
    seen, on_disk = follow_while_rotating(logrotate, tmp_path, "create")
    assert duplicates(seen) == []
    assert sorted(seen) == list(range(LINES)) == sorted(on_disk)


def test_copytruncate_rotation_repeats_nothing(logrotate: str, tmp_path: Path) -> None:
    """Lines written between logrotate's copy and its truncation are lost by logrotate itself
    (its manual says so); every line that exists on disk is seen exactly once."""
    seen, on_disk = follow_while_rotating(logrotate, tmp_path, "copytruncate")
    assert duplicates(seen) == []
    assert set(on_disk) <= set(seen) <= set(range(LINES))
    assert len(on_disk) > LINES * 0.5  # the copy-to-truncate gap grows on a busy machine


def test_create_rotation_with_polling(logrotate: str, tmp_path: Path) -> None:
    seen, _ = follow_while_rotating(logrotate, tmp_path, "create", use_inotify=False)
    assert duplicates(seen) == []
    assert sorted(seen) == list(range(LINES))


@pytest.mark.parametrize("use_inotify", [True, False], ids=["inotify", "polling"])
def test_tee_rewrite_rounds_are_each_read_whole(tmp_path: Path, use_inotify: bool) -> None:
    """run_card.sh pipes each round through ``tee`` (no -a): truncate, then rewrite."""
    logs = tmp_path / "logs"
    logs.mkdir()
    log = logs / "tmp_batt_abcdefghij_run.log"
    # rounds of the same length: a rewrite that leaves the size unchanged must be noticed too
    rounds = [list(range(start, start + 200)) for start in range(0, 1000, 200)]
    with running_tail([str(logs)], tmp_path / "state.db", use_inotify=use_inotify) as (_, seen):
        for numbers in rounds:
            with log.open("w") as stream:  # tee opens with O_TRUNC
                for number in numbers:
                    stream.write(batch_line(number))
                    stream.flush()
            wait_until(lambda last=numbers[-1]: last in seen.numbers(), "the round to be seen")
    assert sorted(seen.numbers()) == list(range(1000))


def test_polling_is_used_when_inotify_fails(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    config = config_with(**FAST)
    with running_tail([str(logs)], tmp_path / "state.db", config, use_inotify=False) as (
        tail, seen,
    ):
        assert tail.mode == "polling"
        (logs / "a.log").write_text(batch_line(1))
        wait_until(lambda: seen.numbers() == [1], "the line to be seen by polling")
