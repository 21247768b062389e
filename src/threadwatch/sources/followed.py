"""The followed files of ``tail`` (and standard input): their checkpoints and rotation.

Where a file starts being read:

- a file whose inode has a live checkpoint and still starts with the checkpointed content
  resumes at the checkpoint (files renamed by rotation keep their inode, so they resume too);
- a file whose first bytes match an earlier content of a related file (same folder, name with
  the same stem) is a *copy* (``copytruncate`` rotation): it resumes where that content was
  left. While the original is still followed with that same content, the copy waits: the two
  must never both be read over the same lines;
- any other file is new: read from its start, or from its end at start-up with ``from_end``.

A file that disappears from the followed set (deleted, renamed to a compressed or unwanted
name) is drained and released once it has been quiet for ``release_seconds``. Handles of files
quiet for ``close_idle_seconds`` are closed, and at most ``max_open_files`` are kept open.
"""

from __future__ import annotations

import dataclasses
import os
from collections import deque
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass

from threadwatch.events import Event
from threadwatch.parse.grammar import Grammar
from threadwatch.sources.checkpoints import Checkpoint, StateStore
from threadwatch.sources.discovery import Roots
from threadwatch.sources.follower import Follower, open_file
from threadwatch.sources.identity import FileId, ends_line_at, has_prefix, take_fingerprint
from threadwatch.sources.settings import TailConfig
from threadwatch.sources.stdin import StdinFollower

READ_BUDGET = 8 << 20  # bytes per file per pass: one busy file cannot starve the others
_MAX_RETIRED = 4096
_TAIL_WINDOW = 1 << 16


@dataclass(frozen=True)
class FollowSettings:
    """The ``[tail]`` settings the source uses, plus the command's own options."""

    flush_seconds: float
    release_seconds: float
    close_idle_seconds: float
    max_open_files: int
    max_line_bytes: int
    from_end: bool = False

    @classmethod
    def of(cls, tail: TailConfig, max_line_bytes: int, from_end: bool) -> FollowSettings:
        return cls(tail.flush_seconds, tail.release_seconds, tail.close_idle_seconds,
                   tail.max_open_files, max_line_bytes, from_end)


class _Deferred(Exception):
    """The file is a copy of a content still being read elsewhere: look again later."""


class FollowedFiles:
    """Follows the files ``roots`` names, resuming from and saving to ``store``.

    Args:
        roots: what to follow.
        grammar: the messages to find.
        store: the checkpoints.
        settings: timings and limits.
        wake: called from other threads when standard input has data.
    """

    def __init__(
        self,
        roots: Roots,
        grammar: Grammar,
        store: StateStore,
        settings: FollowSettings,
        wake: Callable[[], None],
    ) -> None:
        self._roots = roots
        self._grammar = grammar
        self._store = store
        self._settings = settings
        self._followers: dict[FileId, Follower] = {}
        self._by_path: dict[str, Follower] = {}
        self._live: dict[FileId, Checkpoint] = {}
        self._retired: deque[Checkpoint] = deque(maxlen=_MAX_RETIRED)
        self._skipped: dict[str, FileId] = {}
        self._deferred: set[str] = set()
        # files too short to compare with a related content, by the size they had when seen
        self._young: dict[str, int] = {}
        self._released: list[str] = []
        self._first_discovery = True
        self.problems: list[str] = list(roots.problems)  # said at the first step
        self.needs_rescan = False
        for checkpoint in store.load():
            if checkpoint.live:
                older = self._live.get(checkpoint.file_id)
                if older is not None:
                    older.retire()
                    self._retired.append(older)
                self._live[checkpoint.file_id] = checkpoint
            else:
                self._retired.append(checkpoint)
        self._stdin = (
            StdinFollower(grammar, settings.max_line_bytes, wake) if roots.stdin else None
        )

    @property
    def finished(self) -> bool:
        """True when nothing more can come: only standard input was followed, and it ended."""
        return self._stdin is not None and self._stdin.finished and not self._roots.has_files

    @property
    def behind(self) -> bool:
        """True if a file has more to read right now."""
        return any(follower.behind for follower in self._followers.values())

    @property
    def followed(self) -> int:
        return len(self._followers) + (1 if self._stdin is not None else 0)

    def discover(self, now: float) -> None:
        """Find the files to follow now: start new ones, note renamed and vanished ones."""
        self.needs_rescan = False
        found = self._roots.scan()
        present: set[FileId] = set()
        fresh: list[tuple[str, os.stat_result]] = []
        for path, status in found.items():
            file_id = FileId.of(status)
            present.add(file_id)
            follower = self._followers.get(file_id)
            if follower is None:
                fresh.append((path, status))
            elif follower.path != path and _holds_other(found, follower):
                self._move(follower, path)
        # resume known inodes first: an original must own its content before copies are judged
        fresh.sort(key=lambda item: FileId.of(item[1]) not in self._live)
        self._deferred.clear()
        for path, status in fresh:
            self._start(path, status, now)
        for file_id, follower in self._followers.items():
            if file_id not in present and follower.orphaned_at is None:
                follower.orphaned_at = now
            elif file_id in present:
                follower.orphaned_at = None
        self._first_discovery = False

    def read(self, paths: Collection[str] | None, now: float) -> list[Event]:
        """Read the files named in ``paths`` (None: all), and standard input."""
        events: list[Event] = []
        if paths is None:
            followers: Iterable[Follower] = list(self._followers.values())
        else:
            followers = [f for path in paths if (f := self._by_path.get(path)) is not None]
            followers += [f for f in self._followers.values() if f.behind and f.path not in paths]
            if any(path not in self._by_path and self._roots.could_follow(path)
                   for path in paths):
                self.needs_rescan = True  # a file we do not know changed: perhaps just created
        for follower in followers:
            events += self._read_one(follower, now)
        if self._stdin is not None:
            events += self._stdin.read(now)
            self._collect_notices(self._stdin)
        return events

    def maintain(self, now: float) -> list[Event]:
        """Time-based work: end quiet traceback blocks, release vanished files, close idle
        handles. Returns the events this produced."""
        events: list[Event] = []
        flush_after = self._settings.flush_seconds
        for follower in list(self._followers.values()):
            if follower.pending and now - follower.last_data_at >= flush_after:
                events += follower.flush()
            if follower.orphaned_at is not None:
                events += self._read_one(follower, now)
                quiet_since = max(follower.orphaned_at, follower.last_data_at)
                if now - quiet_since >= self._settings.release_seconds:
                    events += self._release(follower, now)
        stdin = self._stdin
        if stdin is not None and stdin.pending and now - stdin.last_data_at >= flush_after:
            events += stdin.flush()
        self._close_idle_handles(now)
        return events

    def commit(self, windows: Mapping[str, str | None] | None = None) -> None:
        """Save every checkpoint up to what has been turned into events, and the health
        ``windows`` given (saved forms, see ``StateStore.save``), in one transaction. Call only
        after the events read so far were delivered.

        Raises:
            StateError: the state file cannot be written (nothing was: try again later).
        """
        for follower in self._followers.values():
            follower.sync_checkpoint()
        self._store.save([*self._live.values(), *self._retired], windows=windows)

    def set_patterns(self, include: Sequence[str], exclude: Sequence[str]) -> None:
        """Follow what these file name patterns select from now on (a reload): files found
        by the next discovery start, files no longer selected are let go like vanished
        ones (read to their end, released after ``release_seconds``)."""
        self._roots = dataclasses.replace(self._roots, include=tuple(include),
                                          exclude=tuple(exclude))
        self.needs_rescan = True

    def appeared(self) -> list[str]:
        """The waited-for paths that are folders now (see ``Roots.waiting``)."""
        return self._roots.appeared()

    def followed_names(self) -> set[str]:
        """The source names of the files followed now, and of those waiting to be (a copy
        being written, a file too short to compare yet)."""
        return {follower.name for follower in self._followers.values()} | self._deferred

    def lag_bytes(self) -> dict[str, int]:
        """Per source name, the bytes its files hold beyond what was read (as of the last
        read of each)."""
        lag: dict[str, int] = {}
        for follower in self._followers.values():
            lag[follower.name] = lag.get(follower.name, 0) + follower.lag_bytes
        return lag

    def take_released(self) -> list[str]:
        """Source names no longer followed by any file since the last call."""
        released, self._released = self._released, []
        names = {follower.name for follower in self._followers.values()}
        return [name for name in released if name not in names]

    def close(self) -> None:
        """Close every handle (checkpoints are saved by ``commit``)."""
        for follower in self._followers.values():
            follower.close_handle()

    # -- starting, moving, releasing --------------------------------------------------------

    def _start(self, path: str, status: os.stat_result, now: float) -> None:
        try:
            fd = open_file(path)
        except FileNotFoundError:
            return
        except OSError as exc:
            self._skip(path, FileId.of(status), exc)
            return
        try:
            checkpoint = self._placement(fd, path)
        except _Deferred:
            os.close(fd)
            self._deferred.add(path)
            return
        except OSError as exc:
            os.close(fd)
            self._skip(path, FileId.of(status), exc)
            return
        follower = Follower(path, fd, checkpoint, self._grammar,
                            max_line_bytes=self._settings.max_line_bytes, now=now)
        self._followers[checkpoint.file_id] = follower
        self._by_path[path] = follower
        self._live[checkpoint.file_id] = checkpoint
        self._skipped.pop(path, None)

    def _placement(self, fd: int, path: str) -> Checkpoint:
        """The checkpoint to start the open file ``fd`` from (see the module docstring)."""
        status = os.fstat(fd)
        file_id, size = FileId.of(status), status.st_size
        fingerprint = take_fingerprint(fd, size)
        known = self._live.get(file_id)
        if known is not None:
            if _still_holds(fd, size, known):
                known.path = path
                known.dirty = True
                return known
            self._retire(known)
            return Checkpoint(file_id, fingerprint, path, 0)
        copied = self._copied_from(fd, size, file_id, path)
        if copied is not None:
            if copied.offset > size:
                # logrotate is still writing the copy: starting at its current end would read
                # again what the original already gave. Wait until it reaches the offset (a
                # copy that never does holds nothing unread).
                raise _Deferred
            return Checkpoint(file_id, fingerprint, path, copied.offset)
        start = _last_line_start(fd, size) if self._settings.from_end and \
            self._first_discovery else 0
        return Checkpoint(file_id, fingerprint, path, start)

    def _copied_from(self, fd: int, size: int, file_id: FileId, path: str) -> Checkpoint | None:
        folder, name = os.path.split(path)
        best: Checkpoint | None = None
        too_short = False
        for candidate in [*self._live.values(), *self._retired]:
            length = candidate.fingerprint.length
            if candidate.file_id == file_id or length == 0:
                continue
            other_folder, other_name = os.path.split(candidate.path)
            if other_folder != folder or not _related(name, other_name):
                continue
            if length > size:
                too_short = True
                continue
            if not has_prefix(fd, candidate.fingerprint):
                continue
            if candidate.live and candidate.file_id in self._followers:
                raise _Deferred
            if best is None or candidate.offset > best.offset:
                best = candidate
        if best is None and too_short and (size == 0 or self._young.get(path) != size):
            # Perhaps a copy logrotate is still writing (copytruncate): judged as new now, it
            # would be read again from its start. Wait until it can be compared, or stops
            # growing (then it is new); an empty file has nothing to read yet anyway.
            self._young[path] = size
            raise _Deferred
        self._young.pop(path, None)
        return best

    def _move(self, follower: Follower, path: str) -> None:
        if self._by_path.get(follower.path) is follower:
            del self._by_path[follower.path]
        follower.path = path
        self._by_path[path] = follower

    def _release(self, follower: Follower, now: float) -> list[Event]:
        events = follower.finish(now)
        follower.sync_checkpoint()
        self._retire(follower.checkpoint)
        del self._followers[follower.file_id]
        if self._by_path.get(follower.path) is follower:
            del self._by_path[follower.path]
        self._released.append(follower.name)
        return events

    def _retire(self, checkpoint: Checkpoint) -> None:
        checkpoint.retire()
        if self._live.get(checkpoint.file_id) is checkpoint:
            del self._live[checkpoint.file_id]
        self._retired.append(checkpoint)
        if self._deferred:
            self.needs_rescan = True  # a copy waiting for this content may start now

    # -- reading -------------------------------------------------------------------------------

    def _read_one(self, follower: Follower, now: float) -> list[Event]:
        try:
            events = follower.read(now, READ_BUDGET)
        except OSError as exc:
            self._drop(follower, exc)
            return []
        for old in follower.retired:
            self._retire(old)
        if follower.retired:
            follower.retired.clear()
            self._live[follower.file_id] = follower.checkpoint
        self._collect_notices(follower)
        return events

    def _collect_notices(self, follower: Follower | StdinFollower) -> None:
        for notice in follower.take_notices():
            self.problems.append(f"{follower.name}: at byte {notice.offset}: {notice.message}")

    def _drop(self, follower: Follower, exc: OSError) -> None:
        """A file that cannot be read any more: say so, keep its checkpoint, follow the rest."""
        follower.close_handle()
        del self._followers[follower.file_id]
        if self._by_path.get(follower.path) is follower:
            del self._by_path[follower.path]
        self._skip(follower.path, follower.file_id, exc)
        self._released.append(follower.name)

    def _skip(self, path: str, file_id: FileId, exc: OSError) -> None:
        # said once per file; discovery keeps trying quietly in case it becomes readable again
        if self._skipped.get(path) != file_id:
            self._skipped[path] = file_id
            reason = exc.strerror or str(exc)
            self.problems.append(f"{path}: cannot read ({reason}); skipped")

    def _close_idle_handles(self, now: float) -> None:
        open_followers = [f for f in self._followers.values()
                          if f.is_open and f.orphaned_at is None]
        idle_after = self._settings.close_idle_seconds
        for follower in open_followers:
            if now - follower.last_data_at >= idle_after and not follower.pending:
                follower.close_handle()
        still_open = [f for f in open_followers if f.is_open]
        excess = len(still_open) - self._settings.max_open_files
        if excess > 0:
            still_open.sort(key=lambda f: f.last_data_at)
            for follower in still_open[:excess]:
                follower.close_handle()


def _holds_other(found: dict[str, os.stat_result], follower: Follower) -> bool:
    """True if the follower's path no longer holds its file (renamed away, or replaced)."""
    status = found.get(follower.path)
    return status is None or FileId.of(status) != follower.file_id


def _still_holds(fd: int, size: int, checkpoint: Checkpoint) -> bool:
    """True if the file still holds the checkpointed content up to the checkpoint."""
    return (
        checkpoint.offset <= size
        and checkpoint.fingerprint.length <= size
        and has_prefix(fd, checkpoint.fingerprint)
        and ends_line_at(fd, checkpoint.offset)
    )


def _related(name: str, other: str) -> bool:
    """Rotated names keep the original's stem: ``app.log`` → ``app.log.1``, ``app.log-2025…``."""
    stem = other.split(".", 1)[0]
    return bool(stem) and name.startswith(stem)


def _last_line_start(fd: int, size: int) -> int:
    """The start of the last line of the file (its end if it ends with a newline)."""
    start = max(0, size - _TAIL_WINDOW)
    data = os.pread(fd, size - start, start)
    newline = data.rfind(b"\n")
    return start + newline + 1 if newline >= 0 else (start if start else 0)
