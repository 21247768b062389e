"""``threadwatch tail`` put together: the loop (``live.loop``), the view or JSON lines, the
alerts, the metrics exporter, the status socket, systemd's notifications, and the signals
(SIGINT and SIGTERM stop; SIGHUP reloads the config, or, when tail writes to a terminal, is the
terminal hanging up and stops it).
"""

from __future__ import annotations

import dataclasses
import signal
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from types import FrameType

from threadwatch.alerts.outbox import Outbox
from threadwatch.alerts.rules import watched_kinds
from threadwatch.config import Config
from threadwatch.health.consumer import Consumer
from threadwatch.health.scope import TOTAL
from threadwatch.live.control import ControlServer, socket_path
from threadwatch.live.loop import Tail, TailOptions
from threadwatch.live.metrics import MetricsCollector, MetricsExporter, MetricsServer
from threadwatch.live.reload import Alerting, Reloader
from threadwatch.live.status import ConfigState, StatusSource, status_answer
from threadwatch.live.systemd import Notifier, ServiceNotifications
from threadwatch.live.view import JsonLinesWriter, LiveView
from threadwatch.statefile import default_state_path

_METRICS_BUSY_SECONDS = 0.5  # a scrape or a status waits this long at most for a locked state file
_STATUS_OUTBOX_SECONDS = 10.0  # systemd's status line reads the outbox counts this often


@contextmanager
def handle_signals(tail: Tail, *, hang_up_stops: bool = False) -> Iterator[None]:
    """Make SIGINT and SIGTERM stop ``tail`` cleanly and SIGHUP reload its config, or stop it
    too with ``hang_up_stops`` (main thread only); restore the previous handlers on exit."""
    def stop(signum: int, frame: FrameType | None) -> None:
        tail.stop()

    def reload(signum: int, frame: FrameType | None) -> None:
        tail.request_reload()

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    handlers = {signal.SIGINT: stop, signal.SIGTERM: stop,
                signal.SIGHUP: stop if hang_up_stops else reload}
    previous = {sig: signal.signal(sig, handler) for sig, handler in handlers.items()}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


class _SystemdStatus:
    """systemd's one-line status, from the exporter's snapshot; the outbox's pending count
    (a query) is read at most every ``_STATUS_OUTBOX_SECONDS``."""

    def __init__(self, exporter: MetricsExporter, alerting: Alerting) -> None:
        self._exporter = exporter
        self._alerting = alerting
        self._pending = 0
        self._next_read = float("-inf")

    def __call__(self) -> str:
        now = time.monotonic()
        if now >= self._next_read:
            self._next_read = now + _STATUS_OUTBOX_SECONDS
            self._pending = sum(sink.pending for sink in self._exporter.sinks())
        snapshot = self._exporter.snapshot
        total = snapshot.scopes.get(TOTAL)
        level = "UNKNOWN" if total is None or total.report is None else (
            total.report.verdict.level.name)
        failing = [state.sink for state in self._alerting.sink_states() if not state.ok]
        line = (f"{level} · {snapshot.files_followed} files followed ·"
                f" {self._pending} alert{'' if self._pending == 1 else 's'} pending")
        if failing:
            line += f" · sink {', '.join(failing)} failing"
        return line


def tail_logs(
    paths: Sequence[str],
    config: Config,
    *,
    output: str | None = None,
    options: TailOptions | None = None,
    consumers: Sequence[Consumer] = (),
    config_path: Path | None = None,
) -> None:
    """What ``threadwatch tail`` does: follow ``paths`` with a live view on a terminal, or JSON
    lines (``output="jsonl"``, or stdout not a terminal), alerts through the configured sinks
    (outbox in the same state file), plus ``consumers``, until SIGINT or SIGTERM. SIGHUP reads
    ``config_path`` again (``live.reload``), except when stdout is a terminal: there it is the
    terminal hanging up (closed, ssh gone), and stops tail like SIGTERM, as in any program run
    in a terminal (left running, tail would go on unseen, holding its state file).
    ``threadwatch status`` is answered on ``<state>.sock``; under systemd (``$NOTIFY_SOCKET``)
    it is told ready, the status and the watchdog (``live.systemd``).

    Raises:
        SinkConfigError: an alert sink's variable is unset or its URL malformed.
        SourceError: a path is unreadable.
        StateInUseError: another ``tail`` uses the state file.
        StateError: the state file cannot be used.
        TerminalGoneError: the live view's terminal went away without a SIGHUP.
        ThreadwatchError: the metrics address or the status socket cannot be listened on.
    """
    options = options or TailOptions()
    state_path = options.state_path or default_state_path()
    options = dataclasses.replace(options, state_path=state_path)
    # Tail first: it locks the state file (a second tail stops here) and opens it for writing
    # (a read-only or unusable one stops here) before the alert outbox opens it too.
    kinds = {kind for consumer in consumers for kind in consumer.kinds}
    kinds |= watched_kinds(config.alerts)  # also without sinks: a reload may add one
    tail = Tail(paths, config, options, kinds=kinds)
    with ExitStack() as closing:
        closing.callback(tail.close)  # run closes it too; again does nothing
        alerting = Alerting(config.alerts, state_path, time.time)
        closing.callback(alerting.close)
        on_terminal = sys.stdout.isatty()
        if output is None:
            output = "live" if on_terminal else "jsonl"
        view: Consumer
        if output == "live":
            view = LiveView(tail.health.snapshot, refresh_seconds=config.tail.refresh_seconds,
                            mode=tail.mode, alerts=alerting.state)
        else:
            view = JsonLinesWriter(sys.stdout)
        outbox = Outbox(state_path, busy_timeout_seconds=_METRICS_BUSY_SECONDS, read_only=True)
        closing.callback(outbox.close)
        # the exporter gathers what /metrics, `threadwatch status` and systemd's status show
        exporter = MetricsExporter(tail, tail.settings, max_scopes=options.metrics_max_scopes,
                                   dispatcher=alerting, outbox=outbox)
        closing.callback(exporter.close)
        server: MetricsServer | None = None
        if options.metrics_listen is not None:
            server = MetricsServer(options.metrics_listen, MetricsCollector(exporter))
            closing.callback(server.close)
        config_state = ConfigState(str(config_path) if config_path is not None else None)
        source = StatusSource(exporter, alerting.sink_states, config_state)
        control = ControlServer(socket_path(state_path),
                                lambda: status_answer(source, time.time()))
        closing.callback(control.close)
        notifier = Notifier()
        systemd = ServiceNotifications(notifier, _SystemdStatus(exporter, alerting))
        tail.on_reload = Reloader(config_path, tail, alerting=alerting, notifier=notifier,
                                  state=config_state, clock=time.time)
        closing.pop_all()  # from here on, run closes the consumers and the tail
        try:
            with handle_signals(tail, hang_up_stops=on_terminal):
                tail.run([view, alerting, exporter, systemd, *consumers])
        finally:  # the exporter (a consumer) closed the outbox
            if server is not None:
                server.close()
            control.close()
