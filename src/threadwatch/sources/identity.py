"""What makes a followed file *the same file*: its device and inode, plus a fingerprint of its
first bytes.

Device+inode alone is not enough: an inode freed by a deleted log is soon reused by a new one,
and ``tee`` rewrites a file in place under the same inode. The fingerprint (a hash of the first
``FINGERPRINT_BYTES`` bytes, or of all of a shorter file, with that length) tells a new content
from the one a checkpoint was taken in. A short file's fingerprint is re-taken as it grows, once
its old prefix is confirmed unchanged.
"""

from __future__ import annotations

import hashlib
import os
from typing import NamedTuple

FINGERPRINT_BYTES = 256


class FileId(NamedTuple):
    """Device and inode of a file."""

    device: int
    inode: int

    @classmethod
    def of(cls, status: os.stat_result) -> FileId:
        return cls(status.st_dev, status.st_ino)


class Fingerprint(NamedTuple):
    """A hash of a file's first ``length`` bytes (``length`` is below the full size only for
    files shorter than ``FINGERPRINT_BYTES`` when it was taken)."""

    length: int
    digest: bytes

    @property
    def complete(self) -> bool:
        """True once it covers the full ``FINGERPRINT_BYTES`` (it will not change any more)."""
        return self.length >= FINGERPRINT_BYTES


def _digest(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=16).digest()


def take_fingerprint(fd: int, size: int) -> Fingerprint:
    """Fingerprint of the open file ``fd`` whose size is ``size``."""
    data = os.pread(fd, min(size, FINGERPRINT_BYTES), 0)
    return Fingerprint(len(data), _digest(data))


def has_prefix(fd: int, fingerprint: Fingerprint) -> bool:
    """True if the file still starts with the bytes ``fingerprint`` was taken from."""
    data = os.pread(fd, fingerprint.length, 0)
    return len(data) == fingerprint.length and _digest(data) == fingerprint.digest


def ends_line_at(fd: int, offset: int) -> bool:
    """True if ``offset`` is the start of the file or follows a newline.

    A checkpoint is always at a line start; finding anything else there means the file was
    rewritten (a cheap second check beside the fingerprint, for rewrites that keep the prefix).
    """
    return offset == 0 or os.pread(fd, 1, offset - 1) == b"\n"
