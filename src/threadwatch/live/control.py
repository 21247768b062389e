"""The status socket: how ``threadwatch status`` asks a running ``tail``.

``tail`` listens on a unix stream socket beside its state file, ``<state>.sock`` (mode 0600:
only its user may ask), and answers each connection with one JSON object (``live.status``)
and a newline, then closes it. No request is read: connecting is asking. The answer is made
in the socket's own thread from the exporter's latest snapshot, so a busy loop never delays it.

The socket is made after the state file's lock is taken: a socket file found there then is a
dead tail's (``kill -9`` leaves it behind) and is replaced. A client that finds the file but
no listener (connection refused) says so: the tail that made it is gone.

Unix socket addresses hold at most 107 bytes; a longer path is reached through its folder's
``/proc/self/fd`` entry (Linux), so a state file deep in a tree still gets its socket.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import stat
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from threadwatch.errors import NotRunningError, ThreadwatchError
from threadwatch.logs import TAIL_LOGGER, get_logger

logger = get_logger(TAIL_LOGGER)

_ACCEPT_POLL_SECONDS = 0.25  # a close() is noticed within this long
_SEND_TIMEOUT_SECONDS = 2.0  # a client that does not read is dropped after this long
_MAX_ADDRESS_BYTES = 100  # sun_path is 108 bytes with its NUL; keep a margin
_MAX_ANSWER_BYTES = 16 * 1024 * 1024


def socket_path(state_path: str | Path) -> Path:
    """The status socket of the ``tail`` using ``state_path``."""
    return Path(f"{state_path}.sock")


@contextlib.contextmanager
def _address(path: Path) -> Iterator[str]:
    """``path`` as a socket address: itself if short enough, else through its folder's fd."""
    if len(os.fsencode(path)) <= _MAX_ADDRESS_BYTES:
        yield str(path)
        return
    folder = os.open(path.parent, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        yield f"/proc/self/fd/{folder}/{path.name}"
    finally:
        os.close(folder)


class ControlServer:
    """Answers every connection to ``path`` with ``answer()`` as JSON, on a daemon thread.

    Args:
        path: the socket file (``socket_path(state)``); a socket file already there is
            replaced (call only while holding the state file's lock).
        answer: makes the answer (called in the server's thread).

    Raises:
        ThreadwatchError: the socket cannot be made (the path holds something else, or the
            folder is not writable).
    """

    def __init__(self, path: Path, answer: Callable[[], dict[str, Any]]) -> None:
        self.path = path
        self._answer = answer
        self._stopping = threading.Event()
        _remove_stale(path)
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        try:
            with _address(path) as address:
                self._socket.bind(address)
            os.chmod(path, 0o600)
            self._identity = _identity(path)
            self._socket.listen(16)
            self._socket.settimeout(_ACCEPT_POLL_SECONDS)
        except OSError as exc:
            self._socket.close()
            raise ThreadwatchError(
                f"status socket {path}: cannot listen ({exc.strerror or exc})") from exc
        self._thread = threading.Thread(target=self._serve, name="threadwatch-status",
                                        daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stopping.is_set():
            try:
                connection, _ = self._socket.accept()
            except TimeoutError:
                continue
            except OSError:
                if self._stopping.is_set():
                    return
                continue
            with connection:
                try:
                    body = json.dumps(self._answer(), separators=(",", ":")).encode()
                    connection.settimeout(_SEND_TIMEOUT_SECONDS)
                    connection.sendall(body + b"\n")
                except OSError:
                    pass  # the client went away: its loss
                except Exception:  # a bug must not end the status thread
                    logger.exception("status: cannot answer")

    def close(self) -> None:
        """Stop answering and remove the socket file (if it is still ours)."""
        self._stopping.set()
        self._thread.join()
        self._socket.close()
        with contextlib.suppress(OSError):
            if _identity(self.path) == self._identity:
                os.unlink(self.path)


def _identity(path: Path) -> tuple[int, int]:
    status = os.lstat(path)
    return status.st_dev, status.st_ino


def _remove_stale(path: Path) -> None:
    try:
        status = os.lstat(path)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise ThreadwatchError(f"status socket {path}: {exc.strerror}") from exc
    if not stat.S_ISSOCK(status.st_mode):
        raise ThreadwatchError(f"status socket {path}: something else is there (not a socket)")
    try:
        os.unlink(path)  # a dead tail's: the state lock says no live one uses it
    except OSError as exc:
        raise ThreadwatchError(f"status socket {path}: cannot remove the old one"
                               f" ({exc.strerror})") from exc


def ask_status(path: Path, timeout: float = 5.0) -> dict[str, Any]:
    """Ask the ``tail`` listening on ``path`` for its status.

    Raises:
        NotRunningError: no tail listens there (no socket, or a dead tail's socket), or it
            did not answer within ``timeout`` seconds.
        ThreadwatchError: the answer is not a status (another program's socket?).
    """
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    client.settimeout(timeout)
    chunks: list[bytes] = []
    try:
        with client:
            try:
                with _address(path) as address:
                    client.connect(address)
            except FileNotFoundError:
                raise NotRunningError(f"no threadwatch tail is running here (no {path})") from None
            except ConnectionRefusedError:
                raise NotRunningError(f"no threadwatch tail is running here ({path} is left"
                                      " over from one that stopped)") from None
            received = 0
            while chunk := client.recv(65536):
                chunks.append(chunk)
                received += len(chunk)
                if received > _MAX_ANSWER_BYTES:
                    raise ThreadwatchError(f"{path}: the answer is too long")
    except TimeoutError:
        raise NotRunningError(f"the threadwatch tail at {path} does not answer"
                              f" (waited {timeout:g} s)") from None
    except OSError as exc:
        raise NotRunningError(f"cannot ask the threadwatch tail at {path}"
                              f" ({exc.strerror or exc})") from exc
    try:
        answer = json.loads(b"".join(chunks))
    except ValueError:
        answer = None
    if not isinstance(answer, dict) or "schema" not in answer:
        raise ThreadwatchError(f"{path}: the answer is not a threadwatch status")
    return answer
