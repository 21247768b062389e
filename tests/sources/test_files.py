"""Which files a list of paths means."""

from __future__ import annotations

from pathlib import Path

from threadwatch.sources.files import expand_paths

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
