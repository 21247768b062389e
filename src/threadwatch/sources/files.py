"""Which files a list of paths means, and how to open one (``.gz`` transparently).

Paths may be files (always read, whatever their name), folders (walked recursively, keeping
names that match the include patterns and none of the exclude patterns, skipping hidden
entries), globs (``**`` allowed), or ``-`` for standard input.
"""

from __future__ import annotations

import glob
import gzip
import os
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatch
from pathlib import Path
from typing import BinaryIO

STDIN = "-"
_GLOB_CHARS = frozenset("*?[")


@dataclass
class Expansion:
    """The files to read, and one line per path that gave nothing."""

    files: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def wanted(name: str, include: Iterable[str], exclude: Iterable[str]) -> bool:
    """True if a file name matches an include pattern and no exclude pattern."""
    return any(fnmatch(name, p) for p in include) and not any(fnmatch(name, p) for p in exclude)


def _walk(folder: str, include: Sequence[str], exclude: Sequence[str]) -> Iterable[str]:
    for root, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(names):
            if not name.startswith(".") and wanted(name, include, exclude):
                yield os.path.join(root, name)


def expand_paths(paths: Sequence[str], include: Sequence[str], exclude: Sequence[str]) -> Expansion:
    """Turn command-line paths into a de-duplicated, ordered list of files."""
    result = Expansion()
    seen: set[str] = set()

    def add(path: str) -> None:
        if path not in seen:
            seen.add(path)
            result.files.append(path)

    for path in paths:
        if path == STDIN:
            add(STDIN)
        elif os.path.isdir(path):
            found = list(_walk(path, include, exclude))
            if not found:
                result.problems.append(f"{path}: no log files in this folder")
            for file in found:
                add(file)
        elif os.path.exists(path):
            add(path)
        elif _GLOB_CHARS & set(path):
            matches = sorted(glob.glob(path, recursive=True))
            files = [m for m in matches if os.path.isfile(m)]
            for folder in (m for m in matches if os.path.isdir(m)):
                files.extend(_walk(folder, include, exclude))
            if not files:
                result.problems.append(f"{path}: no file matches")
            for file in files:
                add(file)
        else:
            result.problems.append(f"{path}: no such file or folder")
    return result


def open_binary(path: str) -> BinaryIO:
    """Open a source for reading bytes; ``.gz`` files are decompressed on the fly.

    Raises:
        OSError: it cannot be opened.
    """
    if path == STDIN:
        return sys.stdin.buffer
    if path.endswith(".gz"):
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return Path(path).open("rb")


def is_compressed(path: str) -> bool:
    return path.endswith(".gz")
