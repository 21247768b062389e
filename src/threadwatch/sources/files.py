"""Which files a list of paths means, and how to open one (compressed logs transparently).

Paths may be files (always read, whatever their name), folders (walked recursively, keeping
names that match the include patterns and none of the exclude patterns, skipping hidden
entries), globs (``**`` allowed), or ``-`` for standard input.

A file reached through several paths (``logs`` and ``./logs``, a symbolic link) is read once,
under the first spelling met.

Only regular files are read: a FIFO would block the reader until someone writes to it, and a
device such as ``/dev/zero`` never ends. A folder scan or a glob leaves other kinds out (listed
with ``--verbose``); a path named explicitly that is not a regular file is one problem line.
Files are opened without blocking and checked once open (``open_regular``), so a FIFO put in
place of a file after it was looked at is refused, not waited on. Standard input (``-``) may be
a pipe: it is read as it is.

``.gz``, ``.bz2`` and ``.xz`` files are decompressed on the fly by ``report``; other compressed
formats (``COMPRESSED_SUFFIXES``) are refused with a clear reason. ``tail`` never reads
compressed files (see ``discovery``).
"""

from __future__ import annotations

import bz2
import contextlib
import errno
import glob
import gzip
import lzma
import os
import stat
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatch
from typing import BinaryIO

STDIN = "-"
GLOB_CHARS = frozenset("*?[")
COMPRESSED_SUFFIXES = (".gz", ".bz2", ".xz", ".zst", ".zip")


def run_stem(path: str) -> str:
    """``dir/NAME`` for ``dir/NAME.log``, ``dir/NAME.err`` and ``dir/NAME.log.gz``: the files of
    one run (its standard output and standard error, as operators capture them) share it."""
    folder, name = os.path.split(path)
    for suffix in COMPRESSED_SUFFIXES:
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    return os.path.join(folder, os.path.splitext(name)[0])


class UnsupportedCompression(OSError):
    """A compressed file in a format that cannot be decompressed (its ``strerror`` says so)."""


class NotRegularFile(OSError):
    """A path that is not a regular file (a FIFO, a device, a socket, a folder): reading it
    could block for ever or never end (its ``strerror`` says so)."""

    def __init__(self, path: str) -> None:
        super().__init__(errno.EINVAL, NOT_REGULAR, path)


NOT_REGULAR = "not a regular file"
_OPEN_FLAGS = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)


class _XzFile(lzma.LZMAFile):
    """An ``.xz`` file whose corrupt data raises ``OSError``, like ``.gz`` and ``.bz2``."""

    def read(self, size: int | None = -1) -> bytes:
        try:
            return super().read(size)
        except lzma.LZMAError as exc:
            raise OSError(errno.EIO, f"corrupt .xz data ({exc})") from exc


@dataclass
class Expansion:
    """The files to read, and one line per path that gave nothing."""

    files: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    # files inside folders left out because their names are not wanted (``--verbose``)
    skipped: list[str] = field(default_factory=list)
    # FIFOs, devices and sockets with wanted names, found by folder scans or globs
    # (``--verbose``)
    irregular: list[str] = field(default_factory=list)


def wanted(name: str, include: Sequence[str], exclude: Sequence[str]) -> bool:
    """True if a file name matches an include pattern and no exclude pattern."""
    return any(fnmatch(name, p) for p in include) and not any(fnmatch(name, p) for p in exclude)


def is_compressed(name: str) -> bool:
    """True for names of compressed files (``tail`` never reads them)."""
    return name.endswith(COMPRESSED_SUFFIXES)


def has_glob(path: str) -> bool:
    """True if ``path`` holds a glob character."""
    return not GLOB_CHARS.isdisjoint(path)


def is_regular(path: str) -> bool | None:
    """True for a regular file (or a link to one), False for anything else, None if it
    cannot be looked at (gone, no permission: reading it says why)."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except (OSError, ValueError):  # ValueError: a NUL byte in the name
        return None


def open_regular(path: str) -> int:
    """Open a regular file for reading, never blocking: the file is opened non-blocking (a
    FIFO without a writer would block a plain open) and checked once open.

    Raises:
        NotRegularFile: it is not a regular file (it is closed again).
        OSError: it cannot be opened.
    """
    fd = os.open(path, _OPEN_FLAGS)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise NotRegularFile(path)
        os.set_blocking(fd, True)  # no effect on a regular file; said for clarity
    except BaseException:
        os.close(fd)
        raise
    return fd


def walk(
    folder: str,
    include: Sequence[str],
    exclude: Sequence[str],
    *,
    compressed: bool = True,
    skipped: list[str] | None = None,
    irregular: list[str] | None = None,
    unreadable: list[str] | None = None,
) -> Iterator[str]:
    """The wanted regular files under ``folder``, sorted, hidden entries skipped; compressed
    files left out when ``compressed`` is False. A subfolder that cannot be read is skipped.
    Files left out for their names are appended to ``skipped``, wanted names that are not
    regular files (FIFOs, devices, sockets) to ``irregular``, and folders that cannot be read
    (``PATH: cannot read (why)``) to ``unreadable``, when given."""

    def refused(exc: OSError) -> None:
        if unreadable is not None:
            unreadable.append(f"{exc.filename}: cannot read ({exc.strerror})")

    for root, dirs, names in os.walk(folder, onerror=refused):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(names):
            if name.startswith(".") or (not compressed and is_compressed(name)):
                continue
            path = os.path.join(root, name)
            if not wanted(name, include, exclude):
                if skipped is not None:
                    skipped.append(path)
            elif is_regular(path) is False:
                if irregular is not None:
                    irregular.append(path)
            else:
                yield path


def _identity(path: str) -> str:
    return os.path.realpath(path)


def expand_paths(paths: Sequence[str], include: Sequence[str], exclude: Sequence[str]) -> Expansion:
    """Turn command-line paths into a de-duplicated, ordered list of files."""
    result = Expansion()
    seen: set[str] = set()

    def add(path: str) -> None:
        key = path if path == STDIN else _identity(path)
        if key not in seen:
            seen.add(key)
            result.files.append(path)

    for path in paths:
        if path == STDIN:
            add(STDIN)
        elif os.path.isdir(path):
            unreadable: list[str] = []
            found = list(walk(path, include, exclude, skipped=result.skipped,
                              irregular=result.irregular, unreadable=unreadable))
            result.problems += unreadable
            if not found and not unreadable:
                result.problems.append(f"{path}: no log files in this folder")
            for file in found:
                add(file)
        elif os.path.exists(path):
            if is_regular(path) is False:
                result.problems.append(f"{path}: {NOT_REGULAR}, skipped")
            else:
                add(path)
        elif has_glob(path):
            matches = sorted(glob.glob(path, recursive=True))
            files = [m for m in matches if os.path.isfile(m)]
            result.irregular += [m for m in matches if is_regular(m) is False
                                 and not os.path.isdir(m)]
            for folder in (m for m in matches if os.path.isdir(m)):
                files.extend(walk(folder, include, exclude, skipped=result.skipped,
                                  irregular=result.irregular, unreadable=result.problems))
            if not files:
                result.problems.append(f"{path}: no file matches")
            for file in files:
                add(file)
        else:
            result.problems.append(f"{path}: no such file or folder")
    return result


@contextlib.contextmanager
def open_binary(path: str) -> Iterator[BinaryIO]:
    """Open a source for reading bytes, as a context manager; ``.gz``, ``.bz2`` and ``.xz``
    files are decompressed on the fly. Files are opened with ``open_regular`` (never blocks);
    standard input is read as it is, and left open.

    Raises:
        UnsupportedCompression: another compressed format (e.g. ``.zst``).
        NotRegularFile: not a regular file (a FIFO, a device...).
        OSError: it cannot be opened.
    """
    if path == STDIN:
        yield _maybe_decompressed(sys.stdin.buffer)
        return
    suffix = os.path.splitext(path)[1]
    decompress = _DECOMPRESSORS.get(suffix)
    if decompress is None and is_compressed(path):
        raise UnsupportedCompression(
            errno.EINVAL, f"{suffix} compressed files are not supported", path
        )
    with os.fdopen(open_regular(path), "rb") as raw:
        if decompress is None:
            yield raw
        else:
            with decompress(raw) as stream:
                yield stream


def _gunzip(raw: BinaryIO) -> BinaryIO:
    return gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]


def _bunzip(raw: BinaryIO) -> BinaryIO:
    return bz2.BZ2File(raw, "rb")  # type: ignore[return-value]


def _unxz(raw: BinaryIO) -> BinaryIO:
    return _XzFile(raw, "rb")  # type: ignore[return-value]


_MAGIC: tuple[tuple[bytes, Callable[[BinaryIO], BinaryIO]], ...] = (
    (b"\x1f\x8b", _gunzip),
    (b"BZh", _bunzip),
    (b"\xfd7zXZ\x00", _unxz),
)
_DECOMPRESSORS: dict[str, Callable[[BinaryIO], BinaryIO]] = {
    ".gz": _gunzip, ".bz2": _bunzip, ".xz": _unxz,
}


def _maybe_decompressed(stream: BinaryIO) -> BinaryIO:
    """Standard input as bytes, decompressed when it starts like a ``.gz``, ``.bz2`` or
    ``.xz`` file (``zcat`` is then not needed: ``threadwatch report - < x.log.1.gz``)."""
    peek = getattr(stream, "peek", None)
    head = peek(8)[:8] if peek is not None else b""
    for magic, opener in _MAGIC:
        if head.startswith(magic):
            return opener(stream)
    return stream
