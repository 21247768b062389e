"""Which files a list of paths means."""

from __future__ import annotations

import bz2
import gzip
import lzma
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from fifo_helpers import fifo, raises_without_blocking

from threadwatch.config import load_config
from threadwatch.report.model import build_report
from threadwatch.sources import discovery, files
from threadwatch.sources.files import NotRegularFile, expand_paths, open_binary, open_regular

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "logs"
COMPRESS: dict[str, Callable[[bytes], bytes]] = {
    ".gz": gzip.compress, ".bz2": bz2.compress, ".xz": lzma.compress,
}

INCLUDE = ("*.log", "*.log.*", "*.err")


def touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("x\n")
    return path


def test_folder_is_walked_recursively_keeping_included_names(tmp_path: Path) -> None:
    kept = [
        touch(tmp_path / "a.log"),
        touch(tmp_path / "sub" / "b.err"),
        touch(tmp_path / "sub" / "c.log.1.gz"),
    ]
    touch(tmp_path / "notes.md")
    touch(tmp_path / ".hidden" / "d.log")
    result = expand_paths([str(tmp_path)], INCLUDE, ())
    assert result.files == [str(p) for p in kept] and result.problems == []


def test_exclude_patterns_win(tmp_path: Path) -> None:
    touch(tmp_path / "a.log")
    touch(tmp_path / "debug.log")
    result = expand_paths([str(tmp_path)], INCLUDE, ("debug*",))
    assert result.files == [str(tmp_path / "a.log")]


def test_named_file_is_read_whatever_its_name(tmp_path: Path) -> None:
    path = touch(tmp_path / "capture.stderr")
    assert expand_paths([str(path)], INCLUDE, ()).files == [str(path)]


def test_glob_and_duplicates(tmp_path: Path) -> None:
    a = touch(tmp_path / "x" / "a.log")
    result = expand_paths([str(tmp_path / "**" / "*.log"), str(a)], INCLUDE, ())
    assert result.files == [str(a)]


def test_paths_that_give_nothing_are_named(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    result = expand_paths(
        [str(tmp_path / "missing.log"), str(tmp_path / "*.nothing"), str(tmp_path / "empty")],
        INCLUDE,
        (),
    )
    assert result.files == []
    assert [p.rsplit(": ", 1)[1] for p in result.problems] == [
        "no such file or folder",
        "no file matches",
        "no log files in this folder",
    ]


def test_a_file_reached_by_two_spellings_is_listed_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    a = touch(tmp_path / "logs" / "a.log")
    (tmp_path / "link.log").symlink_to(a)
    monkeypatch.chdir(tmp_path)
    result = expand_paths(["logs", "./logs", str(tmp_path / "logs"), "link.log"], INCLUDE, ())
    assert result.files == [os.path.join("logs", "a.log")]


def test_overlapping_paths_are_counted_once_by_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copytree(FIXTURES, tmp_path / "logs")
    monkeypatch.chdir(tmp_path)
    once = build_report(["logs"], load_config(), workers=1)
    twice = build_report(["logs", "./logs"], load_config(), workers=1)
    assert twice.total.counts == once.total.counts
    assert len(twice.sources) == len(once.sources)


def test_one_notion_of_compressed_files() -> None:
    assert discovery.is_compressed is files.is_compressed
    assert not hasattr(discovery, "_GLOB_CHARS") and not hasattr(discovery, "COMPRESSED_SUFFIXES")
    assert all(files.is_compressed(f"a.log{s}") for s in (".gz", ".bz2", ".xz", ".zst"))


@pytest.mark.parametrize("suffix", [".gz", ".bz2", ".xz"])
def test_compressed_files_are_read_transparently(tmp_path: Path, suffix: str) -> None:
    data = b"line one\nline two\n" * 100
    path = tmp_path / f"run.log.1{suffix}"
    path.write_bytes(COMPRESS[suffix](data))
    with open_binary(str(path)) as stream:
        assert stream.read() == data


def test_corrupt_xz_is_an_os_error(tmp_path: Path) -> None:
    path = tmp_path / "run.log.1.xz"
    path.write_bytes(lzma.compress(b"x" * 1000)[:20] + b"garbage" * 10)
    with pytest.raises(OSError, match=r"\.xz"), open_binary(str(path)) as stream:
        stream.read()


@pytest.mark.parametrize("suffix", [".bz2", ".xz"])
def test_report_counts_bz2_and_xz_like_the_plain_file(tmp_path: Path, suffix: str) -> None:
    plain = FIXTURES / "host-a" / "tmp_batt_k3J9xQ2mPa_run.log"
    packed = tmp_path / f"run.log.1{suffix}"
    packed.write_bytes(COMPRESS[suffix](plain.read_bytes()))
    expected = build_report([str(plain)], load_config(), workers=1).total.counts
    report = build_report([str(packed)], load_config(), workers=1)
    assert expected["batches"] > 0
    assert report.total.counts == expected and report.problems == ()


def test_zst_is_one_clear_problem_line(tmp_path: Path) -> None:
    plain = FIXTURES / "host-a" / "tmp_batt_k3J9xQ2mPa_run.log"
    zst = tmp_path / "run.log.2.zst"
    zst.write_bytes(b"\x28\xb5\x2f\xfd" + b"\x00garbage\n" * 50)  # a zstd frame's magic
    report = build_report([str(plain), str(zst)], load_config(), workers=1)
    assert report.problems == (f"{zst}: cannot read (.zst compressed files are not supported)",)
    assert [s.scope for s in report.sources] == [str(plain)]


# -- only regular files are read (issue 9, item 8) --------------------------------------------


def test_a_folder_scan_and_a_glob_leave_out_what_is_not_a_regular_file(tmp_path: Path) -> None:
    log = touch(tmp_path / "logs" / "a.log")
    fifo(tmp_path / "logs" / "f.log")
    (tmp_path / "logs" / "zero.log").symlink_to("/dev/zero")
    (tmp_path / "logs" / "b.log").symlink_to(log)  # a link to a regular file is one
    fifo(tmp_path / "logs" / "notes.txt")  # not wanted for its name: only that is said
    for paths in ([str(tmp_path / "logs")], [str(tmp_path / "logs" / "*.log")]):
        result = expand_paths(paths, INCLUDE, ())
        assert result.files == [str(log)] and result.problems == []
        assert result.irregular == [str(tmp_path / "logs" / name)
                                    for name in ("f.log", "zero.log")]


def test_a_named_path_that_is_not_a_regular_file_is_one_problem_line(tmp_path: Path) -> None:
    log = touch(tmp_path / "a.log")
    named = [str(fifo(tmp_path / "x.log")), "/dev/zero", "/dev/null", str(log)]
    result = expand_paths(named, INCLUDE, ())
    assert result.files == [str(log)]
    assert result.problems == [f"{path}: not a regular file, skipped" for path in named[:3]]


@pytest.mark.parametrize("name", ["x.log", "x.log.1.gz", "x.log.1.xz"])
def test_open_binary_refuses_a_fifo_without_waiting_for_a_writer(
    tmp_path: Path, name: str
) -> None:
    path = fifo(tmp_path / name)

    def read() -> None:
        with open_binary(str(path)) as stream:
            stream.read()

    error = raises_without_blocking(read, path)
    assert isinstance(error, NotRegularFile) and error.strerror == "not a regular file"


def test_open_regular_refuses_devices_and_folders(tmp_path: Path) -> None:
    for path in ("/dev/zero", str(tmp_path)):
        with pytest.raises(NotRegularFile):
            open_regular(path)


def test_a_compressed_file_read_is_closed_with_its_stream(tmp_path: Path) -> None:
    path = tmp_path / "run.log.1.gz"
    path.write_bytes(gzip.compress(b"line\n"))
    before = len(os.listdir("/proc/self/fd"))
    for _ in range(3):
        with open_binary(str(path)) as stream:
            assert stream.read() == b"line\n"
    assert len(os.listdir("/proc/self/fd")) == before


def test_report_reads_the_logs_next_to_a_fifo_and_verbose_lists_it(tmp_path: Path) -> None:
    plain = FIXTURES / "host-a" / "tmp_batt_k3J9xQ2mPa_run.log"
    shutil.copy(plain, tmp_path / plain.name)
    fifo(tmp_path / "x.log")
    report = build_report([str(tmp_path)], load_config(), workers=1, verbose=True)
    assert [s.scope for s in report.sources] == [str(tmp_path / plain.name)]
    assert report.problems == (f"{tmp_path / 'x.log'}: skipped (not a regular file)",)
