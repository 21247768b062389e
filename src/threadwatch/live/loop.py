"""``threadwatch tail``'s loop: it follows files and drives the consumers (``live.service``
puts it together with the alerts, the metrics, the status socket and systemd).

One thread does everything in order, so the checkpoint rule holds by construction: read → give
the events to every consumer → save the checkpoints → wait for the next change. A crash at any
point re-reads at most the lines whose events were being delivered when it struck.

Time is injected: ``clock`` gives the observed time that events, windows, traceback flushes
and releases are judged by; only the waiting between changes uses the real monotonic clock.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from threadwatch.config import Config
from threadwatch.errors import StateError
from threadwatch.events import Event, Kind
from threadwatch.health.consumer import Consumer
from threadwatch.health.metrics import LIVE_KINDS
from threadwatch.health.settings import InferenceConfig, Rule, RunsConfig
from threadwatch.health.window import Counted, ScopeHealth, WindowedHealth
from threadwatch.live.metrics import DEFAULT_MAX_SCOPES
from threadwatch.logs import TAIL_LOGGER, get_logger
from threadwatch.parse.grammar import Grammar
from threadwatch.sources.checkpoints import StateStore
from threadwatch.sources.discovery import Roots
from threadwatch.sources.followed import FollowedFiles, FollowSettings
from threadwatch.sources.wakeup import Waker
from threadwatch.statefile import StateLock, default_state_path, make_state_folder

logger = get_logger(TAIL_LOGGER)

_MAX_WAIT = 0.25  # a stop request (a signal handler sets a flag) is noticed within this long
_TICK_SECONDS = 1.0


class LiveConfig:
    """The configuration a running tail judges by (a ``HealthConfig``): the health windows
    and the metrics exporter read its rules through it at each use, so a reload that swaps
    ``current`` applies at once, without touching what they have counted.

    Args:
        config: the configuration to start with.
    """

    def __init__(self, config: Config) -> None:
        self.current = config

    @property
    def rules(self) -> tuple[Rule, ...]:
        return self.current.rules

    @property
    def inference(self) -> InferenceConfig:
        return self.current.inference

    @property
    def runs(self) -> RunsConfig:
        return self.current.runs


@dataclass(frozen=True)
class TailOptions:
    """The command's options.

    Attributes:
        state_path: the SQLite state file (default: ``default_state_path()``).
        from_end: files not seen before start at their end instead of their start.
        use_inotify: False forces polling.
        metrics_listen: ``HOST:PORT`` to serve ``/metrics`` on (``live.metrics``), or None.
        metrics_max_scopes: sources with a ``scope`` label of their own in the metrics.
    """

    state_path: Path | None = None
    from_end: bool = False
    use_inotify: bool = True
    metrics_listen: str | None = None
    metrics_max_scopes: int = DEFAULT_MAX_SCOPES


class Tail:
    """Follows ``paths`` and feeds what it sees to consumers until ``stop()``.

    The state file is locked first (one ``tail`` per state file, see ``StateLock``), then
    opened, and the health windows the previous ``tail`` saved in it are taken back: a restart
    neither resolves nor fires again what is still bad.

    Args:
        paths: folders, files, globs, ``-`` for standard input.
        config: settings (``[tail]``, ``[sources]``, ``[parse]``, rules).
        options: the command's options.
        clock: observed time in seconds since the epoch.
        kinds: event kinds the consumers need found besides those health reads (``LIVE_KINDS``);
            ``run`` refuses a consumer that needs a kind not asked for here.

    Raises:
        SourceError: a path is missing or unreadable.
        StateInUseError: another ``tail`` uses the state file.
        StateError: the state file cannot be used.
    """

    def __init__(
        self,
        paths: Sequence[str],
        config: Config,
        options: TailOptions = TailOptions(),
        clock: Callable[[], float] = time.time,
        kinds: Collection[Kind] = (),
    ) -> None:
        self._config = config
        self.settings = LiveConfig(config)
        self.kinds = LIVE_KINDS | frozenset(kinds)
        self._clock = clock
        self._stopping = False
        self._reload_requested = False
        self._loop_thread: int | None = None  # the thread in run()
        self.on_reload: Callable[[], None] | None = None  # called in the loop's thread
        roots = Roots.parse(paths, config.sources.include, config.sources.exclude)
        self.health = WindowedHealth(self.settings, config.tail.window_seconds,
                                     config.tail.bucket_seconds)
        settings = FollowSettings.of(config.tail, config.parse.max_line_bytes, options.from_end)
        state_path = options.state_path or default_state_path()
        make_state_folder(state_path)
        self._lock = StateLock(state_path)
        self._closing: list[Callable[[], None]] = [self._lock.release]
        try:
            self._store = StateStore(state_path)
            self._closing.insert(0, self._store.close)
            self._restore_windows(clock())
            self._waker = Waker(
                roots.watch_dirs(), poll_seconds=config.tail.poll_seconds,
                sweep_seconds=config.tail.sweep_seconds, use_inotify=options.use_inotify,
            )
            self._closing.insert(0, self._waker.stop)
            self.mode = self._waker.mode
            grammar = Grammar(config.parse.program_files, self.kinds)
            self.source = FollowedFiles(roots, grammar, self._store, settings,
                                     self._waker.notify)
            self._closing.insert(0, self.source.close)
        except BaseException:
            self.close()
            raise
        self._watched: set[str] = set()  # folders waited for and watched since they appeared
        self._next_evaluate = float("-inf")
        self._next_tick = float("-inf")
        self._unsaved_since: float | None = None  # the state file refused a write since then
        self.discoveries = 0  # how many times the followed set was looked for (tests wait on it)

    def _restore_windows(self, now: float) -> None:
        unusable = self.health.restore_state(self._store.load_windows(), now)
        for source in unusable:
            logger.warning("%s: the saved health window cannot be used (saved with other"
                           " settings?); it starts empty", source)
        # windows of files not followed any more are dropped after the first discovery
        self._restored: set[str] | None = set(self.health.sources())

    def snapshot(self, now: float) -> list[ScopeHealth]:
        """Every source's health, then the total's, as judged at most ``refresh_seconds`` ago
        (call in the loop's thread)."""
        return self.health.recent_snapshot(now, self._config.tail.refresh_seconds)

    def lag_bytes(self) -> dict[str, int]:
        """Per source, bytes written and not read yet (as of the last read)."""
        return self.source.lag_bytes()

    def counted(self, sources: Iterable[str]) -> dict[str, Counted]:
        """What each of ``sources`` still followed counted since this tail started (call in
        the loop's thread)."""
        return self.health.counted(sources)

    def followed(self) -> int:
        """How many files (and standard input) are followed now."""
        return self.source.followed

    def stop(self) -> None:
        """Ask the loop to stop (safe from a signal handler or another thread)."""
        self._stopping = True
        self._wake_loop()

    def request_reload(self) -> None:
        """Ask the loop to call ``on_reload`` at its next step (safe from a signal handler)."""
        self._reload_requested = True
        self._wake_loop()

    def _wake_loop(self) -> None:
        # Only another thread has a waiting loop to wake. In the loop's own thread (a signal
        # handler when the loop runs in the main thread), the waker's Event may be half-way
        # through wait() or clear(), holding the lock set() would take: a deadlock. The flag
        # is seen within _MAX_WAIT all the same.
        if threading.get_ident() != self._loop_thread:
            self._waker.notify()

    def reconfigure(self, config: Config) -> None:
        """Judge by ``config`` from now on: its rules and ``[runs]`` at once, its ``[sources]``
        patterns at the next discovery. The rest (``[tail]``, ``[parse]``, the kinds looked
        for) stays as the tail was built with (call in the loop's thread)."""
        self.settings.current = config
        self.source.set_patterns(config.sources.include, config.sources.exclude)
        self._next_evaluate = float("-inf")  # judge again now

    def close(self) -> None:
        """Release the files, the state file and its lock (``run`` does it on its way out;
        call it for a ``Tail`` that is never run). Again: nothing happens."""
        closing, self._closing = self._closing, []
        try:
            for close in closing:
                close()
        finally:
            self._lock.release()

    def run(self, consumers: Sequence[Consumer]) -> None:
        """Follow until ``stop()`` (or until standard input, the only source, ends).

        Checkpoints are saved after every delivery; consumers are closed on the way out. A
        state file that cannot be written for a while (another process holds its lock) is
        said once on the log and written again as soon as it can be.

        Raises:
            StateError: the state file could not be written.
            ValueError: a consumer needs a kind this tail was not built to find (``kinds``).
        """
        self._loop_thread = threading.get_ident()
        try:
            for consumer in consumers:
                missing = frozenset(consumer.kinds) - self.kinds
                if missing:
                    names = ", ".join(sorted(kind.value for kind in missing))
                    raise ValueError(f"{type(consumer).__name__} needs kinds this tail does not"
                                     f" look for: {names} (pass them as Tail(kinds=...))")
            self._step(consumers, None, rescan=True)
            while not self._stopping and not self.source.finished:
                wake = self._waker.wait(0.0 if self.source.behind else _MAX_WAIT)
                if self._reload_requested:
                    self._reload_requested = False
                    if self.on_reload is not None:
                        self.on_reload()
                paths = None if wake.sweep else wake.paths
                self._step(consumers, paths, rescan=wake.rescan)
        finally:
            # no final commit: every step commits after delivering, and committing after a
            # failed delivery would skip the events that never reached the consumers
            try:
                for consumer in consumers:
                    consumer.close()
            finally:
                self.close()

    def _step(self, consumers: Sequence[Consumer], paths: frozenset[str] | None,
              *, rescan: bool) -> None:
        now = self._clock()
        if rescan or self.source.needs_rescan:
            self._say_problems()  # a path waited for is said before it is seen to appear
            self._watch_appeared()
            self.source.discover(now)
            self.discoveries += 1
            if self._restored is not None:
                for name in self._restored - self.source.followed_names():
                    self.health.forget(name)  # its file went away while tail was stopped
                self._restored = None
        events = self.source.read(paths, now)
        events += self.source.maintain(now)
        if events:
            self._deliver(consumers, events, now)
        for name in self.source.take_released():
            self.health.forget(name)
        self._commit(now)
        self._say_problems()
        stalls = self.health.take_stalls(now)
        if stalls:  # made here, not read: for the consumers only, never counted as a line
            for consumer in consumers:
                consumer.on_events(stalls, now)
        if now >= self._next_evaluate:
            self._next_evaluate = now + self._config.tail.refresh_seconds
            changes = self.health.evaluate(now)
            # reasons that come or go without a level change matter to a rule's own hold
            if self.health.reasons_moved() or changes:
                healths = self.health.snapshot(now)
                for consumer in consumers:
                    consumer.on_changes(changes, healths)
        if now >= self._next_tick:
            self._next_tick = now + min(_TICK_SECONDS, self._config.tail.refresh_seconds)
            for consumer in consumers:
                consumer.tick(now)

    def _say_problems(self) -> None:
        for problem in self.source.problems:
            logger.warning("%s", problem)
        self.source.problems.clear()

    def _watch_appeared(self) -> None:
        """Watch the folders waited for that have appeared (before they are scanned, so that
        nothing written meanwhile goes unseen)."""
        for folder in self.source.appeared():
            if folder not in self._watched:
                self._watched.add(folder)
                logger.warning("%s: appeared; following it", folder)
                self._waker.watch(folder)

    def _commit(self, now: float) -> None:
        """Save the checkpoints and the changed health windows together. A write refused for
        a while (``database is locked``: another process holds the file) is said once and
        tried again at every step; meanwhile lines go on being read and alerts raised (the
        alert outbox retries on its own), and a crash would read the unsaved lines again."""
        try:
            self.source.commit(self.health.unsaved_state())
        except StateError as exc:
            if self._unsaved_since is None:
                self._unsaved_since = now
                logger.warning("%s; checkpoints are kept in memory and saved when it can be"
                               " written again", exc)
            return
        self.health.state_saved()
        if self._unsaved_since is not None:
            logger.warning("state file %s written again (after %.0f s)", self._store.path,
                           now - self._unsaved_since)
            self._unsaved_since = None

    def _deliver(self, consumers: Sequence[Consumer], events: list[Event], now: float) -> None:
        self.health.add_all(events, now)
        for consumer in consumers:
            consumer.on_events(events, now)
