"""What ``tail`` follows: only regular files, and nothing opened in a way that can block
(issue 9, item 8)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from fifo_helpers import fifo, raises_without_blocking

from threadwatch.errors import SourceError
from threadwatch.sources.discovery import Roots
from threadwatch.sources.files import NotRegularFile
from threadwatch.sources.follower import open_file

INCLUDE = ("*.log",)


def touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("x\n")
    return path


def test_a_named_fifo_or_device_is_a_problem_line_and_the_rest_is_followed(
    tmp_path: Path,
) -> None:
    logs = tmp_path / "logs"
    log = touch(logs / "a.log")
    named = fifo(tmp_path / "x.log")
    roots = Roots.parse([str(logs), str(named), "/dev/zero"], INCLUDE, ())
    assert roots.folders == (str(logs),) and roots.files == ()
    assert roots.problems == (f"{named}: not a regular file, skipped",
                              "/dev/zero: not a regular file, skipped")
    assert list(roots.scan()) == [str(log)]


def test_only_paths_that_are_not_regular_files_leave_nothing_to_follow(tmp_path: Path) -> None:
    named = fifo(tmp_path / "x.log")
    with pytest.raises(SourceError, match=r"^nothing to follow: .*x\.log: not a regular file"):
        Roots.parse([str(named)], INCLUDE, ())


def test_standard_input_is_followed_whatever_it_is(tmp_path: Path) -> None:
    roots = Roots.parse(["-", str(fifo(tmp_path / "x.log"))], INCLUDE, ())
    assert roots.stdin and roots.problems == (f"{tmp_path / 'x.log'}: not a regular file, skipped",)


def test_a_scan_leaves_out_fifos_and_devices_found_in_folders_and_globs(tmp_path: Path) -> None:
    log = touch(tmp_path / "logs" / "a.log")
    fifo(tmp_path / "logs" / "f.log")
    (tmp_path / "logs" / "zero.log").symlink_to("/dev/zero")
    for path in (tmp_path / "logs", tmp_path / "logs" / "*.log"):
        assert list(Roots.parse([str(path)], INCLUDE, ()).scan()) == [str(log)]


def test_a_file_replaced_by_a_fifo_is_refused_when_opened_not_waited_on(tmp_path: Path) -> None:
    path = fifo(tmp_path / "a.log")  # what discovery saw was a file; now it is a FIFO
    error = raises_without_blocking(lambda: os.close(open_file(str(path))), path)
    assert isinstance(error, NotRegularFile)


def test_a_path_that_does_not_exist_yet_is_waited_for_watched_from_its_nearest_folder(
    tmp_path: Path,
) -> None:
    later = tmp_path / "later" / "logs"
    roots = Roots.parse([str(later)], INCLUDE, ())
    assert roots.waiting == (str(later),) and roots.has_files
    assert roots.problems == (f"{later}: does not exist yet; waiting for it",)
    assert roots.watch_dirs() == [(str(tmp_path), False)]
    assert roots.scan() == {} and roots.appeared() == []
    assert roots.could_follow(str(later / "run.log"))
    assert not roots.could_follow(str(later / "notes.txt"))
    log = touch(later / "host-a" / "run.log")
    touch(later / "notes.txt")
    assert list(roots.scan()) == [str(log)]  # a folder: walked with the patterns
    assert roots.appeared() == [str(later)]
    assert roots.watch_dirs() == [(str(later), True)]


def test_a_file_waited_for_is_followed_whatever_its_name(tmp_path: Path) -> None:
    out = tmp_path / "run.out"
    roots = Roots.parse([str(out)], INCLUDE, ())
    assert roots.scan() == {}
    touch(out)
    assert list(roots.scan()) == [str(out)]
    assert roots.appeared() == []  # a file: its folder is watched already
