"""What ``tail`` shows: a live table on a terminal, JSON lines for scripts and log shippers.

Both are consumers (``consumers.Consumer``). Log text reaching the terminal goes through
``render.safe_text``; JSON output escapes control characters by itself.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

from threadwatch.events import Event, Kind
from threadwatch.health.scope import TOTAL
from threadwatch.health.window import LevelChange, ScopeHealth
from threadwatch.report.render import level_text, percent, short_names
from threadwatch.text import safe_text

_FIELDS = Event._fields
_LAST_TEXT_CHARS = 60


def event_record(event: Event, at: float) -> dict[str, Any]:
    """An event as the JSON object of ``--format jsonl`` (fields that are None left out)."""
    record: dict[str, Any] = {"type": "event", "at": at}
    for name, value in zip(_FIELDS, event, strict=True):
        if value is not None:
            record[name] = value
    record["kind"] = event.kind.value
    return record


def change_record(change: LevelChange) -> dict[str, Any]:
    """A level change as the JSON object of ``--format jsonl``."""
    health = change.health
    return {
        "type": "level",
        "at": change.at,
        "scope": change.scope,
        "previous": change.previous.label,
        "current": change.current.label,
        "reasons": [reason.as_dict() for reason in health.verdict.reasons],
        "counts": health.counts,
        "rates": health.rates,
    }


class JsonLinesWriter:
    """Writes one JSON object per line: each event, each level change.

    Args:
        stream: where to write (flushed after every delivery, so a reader sees events at once).
    """

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    kinds: frozenset[Kind] = frozenset()  # prints what is found; asks for nothing more

    def on_events(self, events: Sequence[Event], at: float) -> None:
        lines = [json.dumps(event_record(event, at)) for event in events]
        self._write(lines)

    def on_changes(self, changes: Sequence[LevelChange], health: Sequence[ScopeHealth]) -> None:
        self._write([json.dumps(change_record(change)) for change in changes])

    def tick(self, now: float) -> None:
        pass

    def close(self) -> None:
        self._stream.flush()

    def _write(self, lines: list[str]) -> None:
        if lines:
            self._stream.write("\n".join(lines) + "\n")
            self._stream.flush()


class LiveView:
    """A rich live table: one row per source and the total, redrawn every ``refresh_seconds``.

    Args:
        snapshot: the current health of every scope at a time (``WindowedHealth.snapshot``).
        refresh_seconds: the shortest time between redraws.
        mode: how files are watched (shown in the title).
        console: where to draw (default: the terminal).
    """

    def __init__(
        self,
        snapshot: Callable[[float], list[ScopeHealth]],
        *,
        refresh_seconds: float,
        mode: str = "",
        console: Console | None = None,
    ) -> None:
        self._snapshot = snapshot
        self._refresh = refresh_seconds
        self._mode = mode
        self._console = console or Console()
        self._live: Live | None = None
        self._last_draw = float("-inf")

    kinds: frozenset[Kind] = frozenset()  # draws the health snapshot only

    def on_events(self, events: Sequence[Event], at: float) -> None:
        pass  # the counts come from the health snapshot at the next redraw

    def on_changes(self, changes: Sequence[LevelChange], health: Sequence[ScopeHealth]) -> None:
        self._last_draw = float("-inf")  # show a level change at the next tick

    def tick(self, now: float) -> None:
        if now - self._last_draw < self._refresh:
            return
        self._last_draw = now
        table = live_table(self._snapshot(now), now, self._mode,
                           max_rows=max(3, self._console.height - 8))
        if self._live is None:
            self._live = Live(table, console=self._console, auto_refresh=False)
            self._live.start()
        self._live.update(table, refresh=True)

    def close(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None


def live_table(
    healths: Sequence[ScopeHealth], now: float, mode: str = "", *, max_rows: int = 40
) -> Table:
    """The live view of scope healths: the worst sources first, then the total.

    Files are named relative to the folder that holds them all, shown in the title.
    """
    sources = [h for h in healths if h.scope != TOTAL]
    total = [h for h in healths if h.scope == TOTAL]
    folder, names = short_names([h.scope for h in sources])
    title = "threadwatch tail" + (f" ({mode})" if mode else "")
    if folder:
        title += f" — {safe_text(folder)}"
    # a Text, not a str: rich would read a folder named "[/]" as markup (and fail)
    table = Table(title=Text(title, style="table.title"), title_justify="left")
    for header, justify in [
        ("source", "left"), ("level", "left"), ("batches", "right"), ("overload", "right"),
        ("sequential", "right"), ("thread errors", "right"), ("last event", "left"),
    ]:
        table.add_column(header, justify=justify)  # type: ignore[arg-type]
    sources.sort(key=lambda h: (-_severity(h), h.scope))
    for health in sources[:max_rows]:
        _add_row(table, health, now, name=names[health.scope])
    if len(sources) > max_rows:
        table.add_row(Text(f"… {len(sources) - max_rows} more sources", style="dim"))
    table.add_section()
    for health in total:
        _add_row(table, health, now, bold=True)
    return table


def _severity(health: ScopeHealth) -> int:
    level = int(health.verdict.level)
    return -1 if level == 3 else level  # unknown (nothing seen yet) sorts after green


def _add_row(
    table: Table, health: ScopeHealth, now: float, *, name: str | None = None, bold: bool = False
) -> None:
    counts, rates = health.counts, health.rates
    level = health.verdict.level
    table.add_row(
        Text(safe_text(health.scope if name is None else name), style="bold" if bold else ""),
        level_text(level),
        str(counts["batches"]),
        percent(rates["overload"]),
        percent(rates["sequential"]),
        str(counts["thread_keyerror"] + counts["thread_errors"]),
        _last_event(health, now),
    )


def _last_event(health: ScopeHealth, now: float) -> Text:
    event, at = health.last_event, health.last_event_at
    if event is None or at is None:
        return Text("-", style="dim")
    text = safe_text(event.text.splitlines()[0] if event.text else "")
    if len(text) > _LAST_TEXT_CHARS:
        text = text[: _LAST_TEXT_CHARS - 1] + "…"
    return Text(f"{max(0, int(now - at))}s ago {event.kind.value}: {text}")
