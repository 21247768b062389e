"""What ``tail`` feeds: anything that wants events and level changes as they happen.

The live view, the JSON-lines printer and the alert dispatcher are all consumers; ``tail``
knows nothing else about them. Each says which event kinds it needs (``kinds``) beyond those
health always reads (``LIVE_KINDS``): ``tail`` looks for the union, so a consumer never waits
for a kind nobody searches for. Calls come from one thread, in order; ``at``/``now`` are
observed times in seconds since the epoch, from the injected clock.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Protocol

from threadwatch.events import Event, Kind
from threadwatch.health.window import LevelChange, ScopeHealth


class Consumer(Protocol):
    """Receives what ``tail`` sees."""

    @property
    def kinds(self) -> Collection[Kind]:
        """Event kinds this consumer needs found, besides those health reads."""

    def on_events(self, events: Sequence[Event], at: float) -> None:
        """New events, in source order, observed at ``at``."""

    def on_changes(self, changes: Sequence[LevelChange], health: Sequence[ScopeHealth]) -> None:
        """Scopes whose level changed, with every scope's current health; also called with
        no change when only the reasons of a scope changed (the rules that fired)."""

    def tick(self, now: float) -> None:
        """Called regularly (at least once a second) so time-based work can run."""

    def close(self) -> None:
        """``tail`` is stopping: finish quickly, keep what must survive."""
