"""Which files ``tail`` follows: the command-line paths, checked once, then scanned again and
again so that files created later are followed too.

Folders are walked recursively (hidden entries skipped) for names matching the include patterns
and none of the exclude patterns; globs are expanded on each scan; files named explicitly are
followed whatever their name. Compressed files (rotated logs gzipped by logrotate) are never
followed: their content was already read from the file they were rotated from.

A path that does not exist yet (a folder the batch program has not made yet, a log not yet
written) is waited for, not an error: it is said once (``Roots.problems``) and followed once it
appears, a folder walked like the others, a file whatever its name.

Only regular files are followed: a FIFO, a device or a socket found by a scan is left out, and
one named explicitly is a problem line (``Roots.problems``); nothing is ever opened in a way
that can block (``open_regular``).
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fnmatch import fnmatch

from threadwatch.errors import SourceError
from threadwatch.sources.files import (
    NOT_REGULAR,
    STDIN,
    has_glob,
    is_compressed,
    is_regular,
    open_regular,
    walk,
    wanted,
)


@dataclass(frozen=True)
class Roots:
    """The paths given to ``tail``, sorted by kind (all absolute).

    Attributes:
        folders: walked recursively.
        files: followed whatever their name.
        globs: expanded on every scan (a folder they match is walked).
        stdin: ``-`` was given.
        include, exclude: file name patterns for folders and globs.
        problems: one line each for paths named explicitly and left out (not regular files),
            and for paths waited for.
        waiting: paths that did not exist when given: followed once they appear.
    """

    folders: tuple[str, ...]
    files: tuple[str, ...]
    globs: tuple[str, ...]
    stdin: bool
    include: tuple[str, ...]
    exclude: tuple[str, ...]
    problems: tuple[str, ...] = ()
    waiting: tuple[str, ...] = ()

    @classmethod
    def parse(
        cls, paths: Sequence[str], include: Sequence[str], exclude: Sequence[str]
    ) -> Roots:
        """Check and sort the command-line paths.

        Raises:
            SourceError: no path given, or a folder or file is unreadable, or a named file is
                compressed, or nothing is left to follow once paths that are not regular files
                (FIFOs, devices) are left out.
        """
        if not paths:
            raise SourceError("no paths to follow")
        folders: list[str] = []
        files: list[str] = []
        globs: list[str] = []
        problems: list[str] = []
        skipped: list[str] = []
        waiting: list[str] = []
        stdin = False
        for path in paths:
            if path == STDIN:
                stdin = True
            elif has_glob(path) and not os.path.exists(path):
                globs.append(os.path.abspath(path))
            elif os.path.isdir(path):
                _check_folder(path)
                folders.append(os.path.abspath(path))
                problems += _unreadable_subfolders(path, include, exclude)
            elif os.path.exists(path) and is_regular(path) is False:
                skipped.append(f"{path}: {NOT_REGULAR}, skipped")
            elif os.path.exists(path):
                _check_file(path)
                files.append(os.path.abspath(path))
            elif os.path.lexists(path):  # a dangling symbolic link: its target may come
                waiting.append(os.path.abspath(path))
                problems.append(f"{path}: does not exist yet (a dangling link); waiting for it")
            else:
                waiting.append(os.path.abspath(path))
                problems.append(f"{path}: does not exist yet; waiting for it")
        if skipped and not (folders or files or globs or stdin or waiting):
            raise SourceError(f"nothing to follow: {'; '.join(skipped)}")
        return cls(tuple(folders), tuple(files), tuple(globs), stdin, tuple(include),
                   tuple(exclude), (*skipped, *problems), tuple(waiting))

    @property
    def has_files(self) -> bool:
        return bool(self.folders or self.files or self.globs or self.waiting)

    def appeared(self) -> list[str]:
        """The waited-for paths that are folders now (to be watched from now on)."""
        return [path for path in self.waiting if os.path.isdir(path)]

    def watch_dirs(self) -> list[tuple[str, bool]]:
        """The folders to watch for changes, each with whether to watch it recursively."""
        watches: dict[str, bool] = {}
        for folder in self.folders:
            watches[folder] = True
        for pattern in self.globs:
            base = _glob_base(pattern)
            if os.path.isdir(base):
                watches[base] = True
        for file in self.files:
            parent = os.path.dirname(file)
            watches.setdefault(parent, False)
        for path in self.waiting:
            if os.path.isdir(path):
                watches[path] = True
            else:  # its creation shows in the nearest folder that exists (deeper: the sweep)
                watches.setdefault(_existing_ancestor(path), False)
        return sorted(watches.items())

    def could_follow(self, path: str) -> bool:
        """True if a file at ``path`` would be followed (cheap: names only, no file access)."""
        if path in self.files or path in self.waiting:
            return True
        name = os.path.basename(path)
        if name.startswith(".") or is_compressed(name):
            return False
        if any(fnmatch(path, pattern) for pattern in self.globs):
            return True
        folders = [*self.folders, *self.waiting,
                   *(_glob_base(pattern) for pattern in self.globs)]
        return wanted(name, self.include, self.exclude) and any(
            path.startswith(folder.rstrip(os.sep) + os.sep) for folder in folders
        )

    def scan(self) -> dict[str, os.stat_result]:
        """Every file to follow now, with its status (files that vanish meanwhile are left out)."""
        found: dict[str, os.stat_result] = {}
        for path in self._candidates():
            if path in found:
                continue
            try:
                status = os.stat(path)
            except OSError:
                continue
            if _is_regular(status):
                found[path] = status
        return found

    def _candidates(self) -> Iterator[str]:
        yield from self.files
        for folder in self.folders:
            yield from self._walk(folder)
        for path in self.waiting:
            if os.path.isdir(path):
                yield from self._walk(path)
            elif not is_compressed(path):
                yield path  # not there yet, or a file: scan keeps it if it is a regular file
        for pattern in self.globs:
            for match in sorted(glob.glob(pattern, recursive=True)):
                if os.path.isdir(match):
                    yield from self._walk(match)
                elif not is_compressed(match):
                    yield match

    def _walk(self, folder: str) -> Iterator[str]:
        # errors (a subfolder removed or made unreadable meanwhile) only hide that subfolder
        return walk(folder, self.include, self.exclude, compressed=False)


def _unreadable_subfolders(folder: str, include: Sequence[str],
                           exclude: Sequence[str]) -> list[str]:
    """``PATH: cannot read (why)`` for each subfolder of ``folder`` that cannot be read now,
    said once at start: the sweeps pass over it without a word, and its logs are not followed
    (a folder made readable later is)."""
    unreadable: list[str] = []
    for _ in walk(folder, include, exclude, compressed=False, unreadable=unreadable):
        pass
    return [f"{line}; its logs are not followed" for line in unreadable]


def _is_regular(status: os.stat_result) -> bool:
    return (status.st_mode & 0o170000) == 0o100000


def _existing_ancestor(path: str) -> str:
    folder = os.path.dirname(path)
    while not os.path.isdir(folder) and os.path.dirname(folder) != folder:
        folder = os.path.dirname(folder)
    return folder


def _glob_base(pattern: str) -> str:
    parts = pattern.split(os.sep)
    for index, part in enumerate(parts):
        if has_glob(part):
            return os.sep.join(parts[:index]) or os.sep
    return os.path.dirname(pattern)


def _check_folder(path: str) -> None:
    try:
        os.listdir(path)
    except OSError as exc:
        raise SourceError(f"{path}: cannot read this folder ({exc.strerror})") from exc


def _check_file(path: str) -> None:
    if is_compressed(path):
        raise SourceError(f"{path}: compressed files cannot be followed")
    try:
        os.close(open_regular(path))
    except OSError as exc:
        raise SourceError(f"{path}: cannot read this file ({exc.strerror})") from exc
