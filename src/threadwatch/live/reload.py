"""Reloading ``tail``'s config on SIGHUP, without stopping it.

What a reload changes, at once: the ``[[rules]]`` (thresholds), ``[runs]``, the ``[sources]``
include and exclude patterns (files newly selected are followed from the next discovery, those
no longer selected are let go like vanished files), and ``[alerts]`` (hold, repeat, grouping,
event rules, sinks, delivery). What it does not: ``[tail]``, ``[parse]`` and ``[inference]``
(they shape what was already read and counted), the paths on the command line, ``--state``,
``--metrics-listen``, and the environment the sinks' ``${VARIABLES}`` come from; a change to
any of these is said in one line and applies after a restart.

The health windows are kept as they are (only the rules that judge them change), and so are
the alert episodes: when ``[alerts]`` changed, the old dispatcher puts its waiting group into
the outbox and stops, and the new one takes the firing alerts back from the outbox as a
restarted ``tail`` does (they neither fire again nor resolve) and is told every scope's level
at once. A file that cannot be read or is invalid, or a sink that cannot be built, is one line
on stderr; the config in use stays, and ``tail`` goes on.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Sequence
from pathlib import Path

from threadwatch.alerts.dispatcher import AlertDispatcher, AlertState, build_alert_consumer
from threadwatch.alerts.rules import watched_kinds
from threadwatch.alerts.sender import SinkState
from threadwatch.alerts.settings import AlertsConfig
from threadwatch.alerts.sinks import build_sinks
from threadwatch.config import Config, load_config
from threadwatch.errors import ConfigError, ThreadwatchError
from threadwatch.events import Event, Kind
from threadwatch.health.window import LevelChange, ScopeHealth
from threadwatch.live.loop import Tail
from threadwatch.live.status import ConfigState
from threadwatch.live.systemd import Notifier
from threadwatch.logs import TAIL_LOGGER, get_logger

logger = get_logger(TAIL_LOGGER)

Clock = Callable[[], float]
NOT_RELOADED = ("tail", "parse", "inference")  # tables of the config a reload leaves alone


class Alerting:
    """The alert consumer of a ``tail`` whose config can change: the dispatcher of the
    current ``[alerts]`` (none while no sink is configured), replaced on reload.

    Args:
        config: the ``[alerts]`` settings to start with.
        state_path: the state file (the outbox's tables).
        clock: current time, seconds since the epoch.

    Raises:
        SinkConfigError: a sink's variable is unset or its URL malformed.
        ThreadwatchError: the state file cannot be opened.
    """

    def __init__(self, config: AlertsConfig, state_path: Path, clock: Clock) -> None:
        self._state_path = state_path
        self._clock = clock
        self.config = config
        self.dispatcher = self._build(config)

    def _build(self, config: AlertsConfig) -> AlertDispatcher | None:
        if not config.sinks:
            return None
        return build_alert_consumer(config, self._state_path, self._clock)

    def replace(self, config: AlertsConfig, health: Sequence[ScopeHealth]) -> None:
        """Deliver by ``config`` from now on; ``health`` is every scope's health now.

        Raises:
            SinkConfigError: a new sink cannot be built (nothing changed).
            ThreadwatchError: the state file cannot be opened (alerting stops until the next
                reload or restart; said by the caller).
        """
        # first, a trial build: a bad sink leaves everything as it was
        for sink in build_sinks(config, os.environ).values():
            sink.close()
        old, self.dispatcher = self.dispatcher, None
        if old is not None:
            # its group goes into the outbox and its senders stop, before the new one reads
            # the outbox: what the old one sent or grouped is the new one's active alerts
            old.close()
        self.config = config
        self.dispatcher = self._build(config)
        if self.dispatcher is not None and health:
            self.dispatcher.on_changes((), health)  # the levels it would otherwise wait for

    def sink_states(self) -> list[SinkState]:
        """How delivery to each sink is going (any thread: the status socket's, the metrics
        server's). ``dispatcher`` is read once: a reload sets it to None meanwhile."""
        dispatcher = self.dispatcher
        return [] if dispatcher is None else dispatcher.sink_states()

    def state(self) -> AlertState | None:
        """Where alerting stands; None while no sink is configured."""
        return None if self.dispatcher is None else self.dispatcher.state()

    @property
    def kinds(self) -> Collection[Kind]:
        return watched_kinds(self.config)

    def on_events(self, events: Sequence[Event], at: float) -> None:
        if self.dispatcher is not None:
            self.dispatcher.on_events(events, at)

    def on_changes(self, changes: Sequence[LevelChange], health: Sequence[ScopeHealth]) -> None:
        if self.dispatcher is not None:
            self.dispatcher.on_changes(changes, health)

    def tick(self, now: float) -> None:
        if self.dispatcher is not None:
            self.dispatcher.tick(now)

    def close(self) -> None:
        if self.dispatcher is not None:
            self.dispatcher.close()


def carry_over(old: Config, new: Config) -> tuple[Config, list[str]]:
    """``new`` with the tables a reload leaves alone taken from ``old``, and the names of
    those that differ (they apply after a restart)."""
    differing = [name for name in NOT_RELOADED if getattr(old, name) != getattr(new, name)]
    return new.model_copy(update={name: getattr(old, name) for name in NOT_RELOADED}), differing


class Reloader:
    """What SIGHUP does (``Tail.on_reload``, in the loop's thread): read ``path`` again and
    apply it, or say why not and keep the config in use.

    Args:
        path: the ``--config`` file (None: the defaults, read again).
        tail: the running tail.
        alerting: its alert consumer.
        notifier: systemd, told ``RELOADING=1`` then ``READY=1``.
        state: the config's state shown by ``threadwatch status``.
        clock: current time, seconds since the epoch.
    """

    def __init__(self, path: Path | None, tail: Tail, *, alerting: Alerting,
                 notifier: Notifier, state: ConfigState, clock: Clock) -> None:
        self._path = path
        self._tail = tail
        self._alerting = alerting
        self._notifier = notifier
        self._state = state
        self._clock = clock

    def __call__(self) -> None:
        self._notifier.reloading()
        try:
            self._reload()
        finally:
            self._notifier.ready()

    def _reload(self) -> None:
        where = str(self._path) if self._path is not None else "the defaults"
        try:
            new = load_config(self._path)
        except ConfigError as exc:
            more = len(exc.lines) - 1
            self._refused(exc.lines[0] + (f" (and {more} more problem{'s' * (more > 1)})"
                                          if more else ""))
            return
        old = self._tail.settings.current
        config, differing = carry_over(old, new)
        if config.alerts != old.alerts:
            try:
                self._alerting.replace(config.alerts,
                                       self._tail.snapshot(self._clock()))
            except ThreadwatchError as exc:
                self._refused(str(exc))
                if self._alerting.dispatcher is None and old.alerts.sinks:
                    logger.error("alerts stopped: the alert state cannot be opened; reload"
                                 " again or restart")
                return
        self._tail.reconfigure(config)
        self._state.loaded_at = self._clock()
        self._state.reload_error = None
        missing = watched_kinds(config.alerts) - set(self._tail.kinds)
        notes = []
        if differing:
            notes.append(f"[{'], ['.join(differing)}] changed: applies after a restart")
        if missing:
            notes.append("[[alerts.events]] kinds this tail does not look for ("
                         f"{', '.join(sorted(kind.value for kind in missing))}): they apply"
                         " after a restart")
        logger.warning("config reloaded from %s%s", where,
                       "".join(f"; {note}" for note in notes))

    def _refused(self, problem: str) -> None:
        self._state.reload_error = problem
        logger.error("config not reloaded, the one in use is kept: %s", problem)
