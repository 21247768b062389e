"""Health over a sliding window of observed time, per source and in total, and the stream of
level changes that ``tail`` shows and alerting consumes.

Counts go into time buckets; a scope's window counts are the sum of its buckets younger than
the window. A source whose run has started and not finished, and that has printed no
recognised line for ``[runs] stall_seconds``, is *stalled*: its ``stalled`` count is 1 until a
line arrives (the total counts the stalled sources). Each source keeps its own ``Tally``
(lines without a task id belong to the latest batch *of their source*); the total is the sum
of the sources' window counts, judged as one.

What a source counted since this process began (``counted``: the ``/metrics`` counters) is
the window's buckets plus those that left it (``retired``, summed as they go), less the
buckets taken back at start; no second tally is kept for it. A batch still open when its bucket
leaves the window (open longer than the window) has its executor counted in neither.

A restart of ``tail`` must not forget the window: a source that is still red would read as
*unknown* and resolve its alert, then fire again. Each source's window (buckets, open batches,
run and stall state, latest event) is therefore saved as JSON with the checkpoints, in the same
transaction, so it always matches the lines the checkpoints say were counted (even after a
kill -9). Rebuilding it by reading the files again was the other way, and a worse one: the
logs carry no timestamps (which lines fell in which bucket is known only to the process that
saw them), the window may span a rotation, and a run's start may lie before the window.
"""

from __future__ import annotations

import itertools
import json
import math
from collections import defaultdict, deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from threadwatch.events import Event, Kind
from threadwatch.health.levels import Level
from threadwatch.health.metrics import COUNT_KEYS, Counts, Inference, Tally, add_counts, count_key
from threadwatch.health.scope import TOTAL, ScopeReport, judge_scope
from threadwatch.health.settings import HealthConfig

_STATE_VERSION = 1
_STATE_TEXT_CHARS = 4000  # the latest event's text is kept for a stalled event's sample
_TEXT = Event._fields.index("text")


@dataclass(frozen=True)
class ScopeHealth(ScopeReport):
    """A scope's window counts, rates and verdict at one moment, and its latest event."""

    last_event_at: float | None = None
    last_event: Event | None = None


class Counted(NamedTuple):
    """What one source's window counted since this process began (``WindowedHealth.counted``).

    Attributes:
        window: the window's serial number: a source forgotten and seen again has a new
            window, which counts from 0 again.
        counts: every count key, never going down while the window lives.
    """

    window: int
    counts: Counts


@dataclass(frozen=True)
class LevelChange:
    """A scope's level changed (the first verdict of a scope counts as a change from UNKNOWN).

    Attributes:
        scope: a source path, or ``total``.
        previous, current: the levels before and after.
        health: the scope's health when it changed (reasons in ``health.verdict``).
        at: observed time of the change (seconds since the epoch).
    """

    scope: str
    previous: Level
    current: Level
    health: ScopeHealth
    at: float


class _SourceWindow:
    _serials = itertools.count(1)

    def __init__(self, inference: Inference) -> None:
        self.tally = Tally(inference)
        self.buckets: deque[tuple[int, Counts]] = deque()
        self.last_event_at: float | None = None
        self.last_event: Event | None = None
        self.serial = next(self._serials)
        # the buckets that left the window, summed, less those restored at start
        self.retired: Counts = dict.fromkeys(COUNT_KEYS, 0)

    def enter(self, bucket: int) -> None:
        """Count from now on into ``bucket``."""
        if not self.buckets or self.buckets[-1][0] != bucket:
            counts: Counts = defaultdict(int)  # sparse: a thousand sources x 90 buckets
            self.buckets.append((bucket, counts))
            self.tally.counts = counts

    def expire(self, oldest_bucket: int) -> None:
        while self.buckets and self.buckets[0][0] < oldest_bucket:
            add_counts(self.retired, self.buckets.popleft()[1])

    def counted(self) -> Counted:
        counts = dict(self.retired)
        for _, bucket in self.buckets:
            add_counts(counts, bucket)
        return Counted(self.serial, counts)

    def stalled(self, now: float, stall_seconds: float) -> bool:
        """The run started, has not finished, and nothing came for ``stall_seconds``."""
        last = self.last_event_at
        return self.tally.run_open and last is not None and now - last >= stall_seconds

    def state(self, bucket_seconds: float, stalled: bool) -> dict[str, Any]:
        bucket_of = {id(counts): bucket for bucket, counts in self.buckets}
        last = self.last_event
        return {
            "v": _STATE_VERSION,
            "bucket_seconds": bucket_seconds,
            "buckets": [[bucket, counts] for bucket, counts in self.buckets],
            "tally": self.tally.live_state(bucket_of),
            "last_event_at": self.last_event_at,
            # every field up to its text, cut (a live event has no folded ``samples``)
            "last_event": None if last is None else [
                last.kind.value, *last[1:_TEXT], last.text[:_STATE_TEXT_CHARS]],
            "stalled": stalled,
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any], inference: Inference,
                   oldest_bucket: int) -> _SourceWindow:
        window = cls(inference)
        kept: dict[int, Counts] = {}
        for bucket, counts in state["buckets"]:
            if int(bucket) >= oldest_bucket:
                kept[int(bucket)] = defaultdict(
                    int, {count_key(k): int(n) for k, n in counts.items()})
                window.buckets.append((int(bucket), kept[int(bucket)]))

        def counts_of(bucket: int | None) -> Counts:
            # a batch whose bucket has left the window counts nowhere any more
            return kept[bucket] if bucket in kept else defaultdict(int)

        for counts in kept.values():  # counted by an earlier process
            for key, n in counts.items():
                window.retired[key] -= n
        window.tally = Tally.from_live_state(state["tally"], inference, counts_of)
        if window.buckets:
            window.tally.counts = window.buckets[-1][1]
        at, last = state["last_event_at"], state["last_event"]
        window.last_event_at = None if at is None else float(at)
        window.last_event = None if last is None else Event(Kind(last[0]), *last[1:])
        return window

    def counts(self, stalled: bool) -> Counts:
        """Window counts, with the batches still open counted by their executor so far."""
        total = dict.fromkeys(COUNT_KEYS, 0)
        for _, counts in self.buckets:
            add_counts(total, counts)
        add_counts(total, self.tally.provisional(counts for _, counts in self.buckets))
        total["stalled"] = int(stalled)
        return total


class WindowedHealth:
    """Per-source and total health over the last ``window_seconds`` of observed time.

    Args:
        config: rules and the inference setting; its rules and ``runs`` are read at each use,
            so a config that changes (``tail``'s reload) is judged by from then on.
        window_seconds: how far back the counts reach.
        bucket_seconds: time resolution of the window.
    """

    def __init__(self, config: HealthConfig, window_seconds: float,
                 bucket_seconds: float = 10.0) -> None:
        self._config = config
        self._window = window_seconds
        self._bucket = bucket_seconds
        self._sources: dict[str, _SourceWindow] = {}
        self._levels: dict[str, Level] = {}
        self._stalled: set[str] = set()
        self._unsaved: set[str] = set()  # sources whose state changed since it was saved
        self._judged: tuple[float, list[ScopeHealth]] | None = None  # evaluate's, and when
        self._rules_fired: dict[str, tuple[str, ...]] = {}  # per scope, at reasons_moved

    def add(self, event: Event, at: float) -> None:
        """Count an event observed at time ``at``."""
        self.add_all((event,), at)

    def add_all(self, events: Iterable[Event], at: float) -> None:
        """Count events observed at time ``at`` (a reader's batch: runs of one source)."""
        bucket = math.floor(at / self._bucket)
        source: str | None = None
        window: _SourceWindow | None = None
        last: Event | None = None
        for event in events:
            if event.source != source:
                if window is not None:
                    window.last_event, window.last_event_at = last, at
                source = event.source
                window = self._source_window(source)
                self._unsaved.add(source)
                window.enter(bucket)
                add = window.tally.add
            add(event)
            last = event
        if window is not None:
            window.last_event, window.last_event_at = last, at

    def _source_window(self, source: str) -> _SourceWindow:
        window = self._sources.get(source)
        if window is None:
            window = self._sources[source] = _SourceWindow(self._config.inference)
        return window

    def forget(self, source: str) -> None:
        """Stop tracking a source (its file is gone); the total no longer includes it."""
        self._sources.pop(source, None)
        self._levels.pop(source, None)
        self._stalled.discard(source)
        self._unsaved.add(source)

    def take_stalls(self, now: float) -> list[Event]:
        """A ``stalled`` event for each source that has become stalled since the last call
        (it starts at the source's last recognised line); a source that printed again can
        stall again later."""
        found = []
        for source, window in self._sources.items():
            if not window.stalled(now, self._config.runs.stall_seconds):
                if source in self._stalled:
                    self._stalled.discard(source)
                    self._unsaved.add(source)
                continue
            if source in self._stalled:
                continue
            self._stalled.add(source)
            self._unsaved.add(source)
            last = window.last_event
            quiet = now - (window.last_event_at or now)
            task_id, index = window.tally.last_start or (None, None)
            found.append(Event(
                Kind.STALLED, source, last.offset if last is not None else 0,
                task_id=task_id, batch_index=index, number=int(quiet),
                message=f"no line for {quiet:.0f} s",
                text=last.text if last is not None else "",
            ))
        return found

    def unsaved_state(self) -> dict[str, str | None]:
        """The saved form (JSON) of each source whose window changed since ``state_saved``;
        None for a source forgotten since."""
        found: dict[str, str | None] = {}
        for source in self._unsaved:
            window = self._sources.get(source)
            found[source] = None if window is None else json.dumps(
                window.state(self._bucket, source in self._stalled), separators=(",", ":"))
        return found

    def state_saved(self) -> None:
        """What ``unsaved_state`` returned is safely stored."""
        self._unsaved.clear()

    def restore_state(self, saved: Mapping[str, str], now: float) -> list[str]:
        """Take back the windows a previous ``tail`` saved (``unsaved_state``), at time
        ``now``: buckets older than the window are dropped. Returns the sources whose saved
        window could not be used (another ``bucket_seconds``, or not a saved window)."""
        oldest = math.floor((now - self._window) / self._bucket) + 1
        unusable = []
        for source, body in saved.items():
            try:
                state = json.loads(body)
                if state["v"] != _STATE_VERSION or state["bucket_seconds"] != self._bucket:
                    raise ValueError("saved with other settings")
                window = _SourceWindow.from_state(state, self._config.inference, oldest)
            except (ValueError, TypeError, KeyError, IndexError):
                unusable.append(source)
                continue
            self._sources[source] = window
            if state["stalled"]:
                self._stalled.add(source)
        return unusable

    def sources(self) -> list[str]:
        """The sources with a window."""
        return list(self._sources)

    def counted(self, sources: Iterable[str]) -> dict[str, Counted]:
        """What each of ``sources`` counted since this process began (the ones without a
        window left out): the window's counts and those that left it, without the stall
        count or the executors of batches still open."""
        windows = self._sources
        return {source: windows[source].counted() for source in sources if source in windows}

    def snapshot(self, now: float) -> list[ScopeHealth]:
        """Every source's health, then the total's, at time ``now``."""
        oldest = math.floor((now - self._window) / self._bucket) + 1
        healths = []
        total = dict.fromkeys(COUNT_KEYS, 0)
        last_at: float | None = None
        last_event: Event | None = None
        for source, window in sorted(self._sources.items()):
            window.expire(oldest)
            counts = window.counts(window.stalled(now, self._config.runs.stall_seconds))
            add_counts(total, counts)
            healths.append(self._health(source, counts, window.last_event_at, window.last_event))
            if window.last_event_at is not None and (
                last_at is None or window.last_event_at > last_at
            ):
                last_at, last_event = window.last_event_at, window.last_event
        healths.append(self._health(TOTAL, total, last_at, last_event))
        return healths

    def recent_snapshot(self, now: float, max_age: float) -> list[ScopeHealth]:
        """``snapshot(now)``, or the one the last ``evaluate`` took if it is at most
        ``max_age`` seconds old (judging a thousand sources takes tens of milliseconds)."""
        if self._judged is not None and 0 <= now - self._judged[0] <= max_age:
            return self._judged[1]
        return self.snapshot(now)

    def evaluate(self, now: float) -> list[LevelChange]:
        """Judge every scope at ``now``; return the scopes whose level changed."""
        changes = []
        healths = self.snapshot(now)
        self._judged = (now, healths)
        for health in healths:
            previous = self._levels.get(health.scope, Level.UNKNOWN)
            current = health.verdict.level
            if current is not previous:
                self._levels[health.scope] = current
                changes.append(LevelChange(health.scope, previous, current, health, now))
        return changes

    def reasons_moved(self) -> bool:
        """Whether the rules that fired in some scope, as the last ``evaluate`` judged them,
        differ from those at the previous call, though its level may not have changed: a rule
        with a hold of its own holds from when its reason appeared (``alerts.rules``)."""
        fired = {health.scope: tuple(reason.rule for reason in health.verdict.reasons)
                 for health in (self._judged[1] if self._judged is not None else ())}
        moved = fired != self._rules_fired
        self._rules_fired = fired
        return moved

    def _health(
        self, scope: str, counts: Counts, last_at: float | None, last: Event | None
    ) -> ScopeHealth:
        judged = judge_scope(scope, counts, self._config.rules)
        return ScopeHealth(scope, counts, judged.rates, judged.verdict,
                           last_event_at=last_at, last_event=last)
