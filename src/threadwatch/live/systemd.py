"""``tail`` under systemd (``Type=notify``): the ``sd_notify`` protocol without libsystemd.

The protocol is one datagram per message to the unix socket named by ``$NOTIFY_SOCKET`` (a
path, or an abstract socket written ``@name``), holding ``KEY=VALUE`` lines. ``tail`` says:

* ``READY=1`` once its first sweep is done (every file found and read up to now);
* ``STATUS=<one line>`` when that line changes (level, files followed, alerts pending);
* ``WATCHDOG=1`` every half of ``$WATCHDOG_USEC``, from the loop's own thread, so that a loop
  that hangs stops petting the watchdog and systemd kills and restarts it;
* ``RELOADING=1`` with ``MONOTONIC_USEC`` when a reload (SIGHUP) begins, ``READY=1`` when it
  is done; ``STOPPING=1`` on the way out.

Without ``$NOTIFY_SOCKET`` (not run by systemd) nothing is sent and nothing is opened. A
datagram that cannot be sent is logged once; ``tail`` goes on (systemd's own timeouts judge).
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Collection, Mapping, Sequence

from threadwatch.events import Event, Kind
from threadwatch.health.window import LevelChange, ScopeHealth
from threadwatch.logs import TAIL_LOGGER, get_logger

logger = get_logger(TAIL_LOGGER)

Clock = Callable[[], float]


class Notifier:
    """Sends ``sd_notify`` messages to ``$NOTIFY_SOCKET``, if set.

    Args:
        environ: where ``NOTIFY_SOCKET``, ``WATCHDOG_USEC`` and ``WATCHDOG_PID`` are read.
        monotonic: the clock the watchdog interval is measured with.
    """

    def __init__(self, environ: Mapping[str, str] = os.environ,
                 monotonic: Clock = time.monotonic) -> None:
        address = environ.get("NOTIFY_SOCKET", "")
        self._address: str | bytes | None = None
        if address.startswith("@"):  # abstract namespace: a leading NUL byte
            self._address = b"\0" + address[1:].encode()
        elif address.startswith("/"):
            self._address = address
        self._monotonic = monotonic
        self._socket: socket.socket | None = None
        self._failed = False
        self._last_status: str | None = None
        self.watchdog_seconds: float | None = None
        usec = environ.get("WATCHDOG_USEC", "")
        pid = environ.get("WATCHDOG_PID", "")
        if self._address is not None and usec.isdigit() and int(usec) > 0 and (
                not pid or pid == str(os.getpid())):
            self.watchdog_seconds = int(usec) / 1e6
        self._next_watchdog = float("-inf")

    @property
    def enabled(self) -> bool:
        """True when run by systemd with ``Type=notify`` (``$NOTIFY_SOCKET`` is set)."""
        return self._address is not None

    def send(self, *fields: str) -> bool:
        """Send ``fields`` (``KEY=VALUE`` each) as one message; False if not sent."""
        if self._address is None:
            return False
        try:
            if self._socket is None:
                self._socket = socket.socket(socket.AF_UNIX,
                                             socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            self._socket.sendto("\n".join(fields).encode(), self._address)
        except OSError as exc:
            if not self._failed:
                logger.warning("cannot notify systemd at $NOTIFY_SOCKET (%s)",
                               exc.strerror or exc)
                self._failed = True
            return False
        return True

    def ready(self) -> None:
        self.send("READY=1")

    def reloading(self) -> None:
        """A reload begins (systemd ≥ 253 wants the monotonic time with it)."""
        usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        self.send("RELOADING=1", f"MONOTONIC_USEC={usec}")

    def stopping(self) -> None:
        self.send("STOPPING=1")

    def status(self, line: str) -> None:
        """Say ``line`` as the service's status, if it differs from the last one said."""
        line = " ".join(line.split())  # one line, whatever it holds
        if line != self._last_status and self.send(f"STATUS={line}"):
            self._last_status = line

    def watchdog(self) -> None:
        """Pet the watchdog if half its interval has passed since the last time."""
        if self.watchdog_seconds is None:
            return
        now = self._monotonic()
        if now >= self._next_watchdog:
            self._next_watchdog = now + self.watchdog_seconds / 2
            self.send("WATCHDOG=1")

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None


class ServiceNotifications:
    """A ``Consumer`` that keeps systemd told: ready at the first tick (the first step, its
    sweep done), then the status line when it changes and the watchdog, at every tick.

    Args:
        notifier: where to send.
        status_line: the status to show, computed at each tick (cheap: a snapshot's summary).
    """

    def __init__(self, notifier: Notifier, status_line: Callable[[], str]) -> None:
        self._notifier = notifier
        self._status_line = status_line
        self._ready = False

    @property
    def kinds(self) -> Collection[Kind]:
        return ()

    def on_events(self, events: Sequence[Event], at: float) -> None:
        pass

    def on_changes(self, changes: Sequence[LevelChange], health: Sequence[ScopeHealth]) -> None:
        pass

    def tick(self, now: float) -> None:
        self._notifier.watchdog()
        self._notifier.status(self._status_line())
        if not self._ready:
            self._ready = True
            self._notifier.ready()

    def close(self) -> None:
        self._notifier.stopping()
        self._notifier.close()
