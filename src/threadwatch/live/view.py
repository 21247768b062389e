"""What ``tail`` shows: a live table on a terminal, JSON lines for scripts and log shippers.

Both are consumers (``health.consumer.Consumer``). Log text reaching the terminal goes through
``text.safe_text``; JSON output escapes control characters by itself.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from rich import box
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from threadwatch.alerts.dispatcher import AlertState
from threadwatch.errors import TerminalGoneError
from threadwatch.events import Event, Kind
from threadwatch.health.levels import Level
from threadwatch.health.scope import TOTAL
from threadwatch.health.window import LevelChange, ScopeHealth
from threadwatch.logs import set_log_stream
from threadwatch.report.render import level_text, percent, short_names
from threadwatch.text import common_start, safe_text

_FIELDS = Event._fields


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
    """Redraws the health of every scope on a terminal, in place, at most every
    ``refresh_seconds``: one frame that fits the terminal (``live_frame``), never more lines
    than it has, so nothing scrolls and no frame piles up in the scrollback.

    Args:
        snapshot: the current health of every scope, for an observed time.
        refresh_seconds: the least time between two redraws (a level change redraws sooner).
        mode: how files are watched (``inotify``, ``polling``), for the title.
        console: where to draw (default: the terminal).
        alerts: where alerting stands (None while no sink is configured).
    """

    def __init__(
        self,
        snapshot: Callable[[float], list[ScopeHealth]],
        *,
        refresh_seconds: float,
        mode: str = "",
        console: Console | None = None,
        alerts: Callable[[], AlertState | None] | None = None,
    ) -> None:
        self._snapshot = snapshot
        self._refresh = refresh_seconds
        self._mode = mode
        self._console = console or Console()
        self._alerts = alerts
        self._live: Live | None = None
        self._log_stream: TextIO | None = None  # where tail's log went before the view
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
        if self._live is not None and not self._console.is_terminal:
            # its terminal hung up without a SIGHUP reaching tail (a disowned job): rich would
            # go on drawing nothing, and tail would run unseen, holding its state file
            raise TerminalGoneError("the terminal of the live view went away: tail stops")
        width, height = self._console.size
        frame = live_frame(self._snapshot(now), now, self._mode, width=width, height=height,
                           alerts=self._alerts() if self._alerts is not None else None)
        if self._live is None:
            # what tail logs (a sink failing, a file gone) is printed above the frame, which
            # stays whole below it: written straight to the terminal, a message would land
            # inside the frame and the next redraw would start below it
            self._live = Live(frame, console=self._console, auto_refresh=False,
                              vertical_overflow="crop", redirect_stdout=False,
                              redirect_stderr=True)
            self._live.start()
            self._log_stream = set_log_stream(sys.stderr)  # the Live's stream, now
        self._live.update(frame, refresh=True)

    def close(self) -> None:
        if self._live is not None:
            if self._log_stream is not None:
                set_log_stream(self._log_stream)
            if not self._console.is_terminal:  # hung up: nowhere to write, nothing to restore
                self._console.quiet = True
            self._live.stop()
            self._live = None


# Lines of a frame besides the source rows: title, summary, alerts, table header and its
# rule, the total's rule and row, the "… more" line, and two spare: the line rich leaves blank
# under a frame and the cursor's line (a frame as tall as the terminal scrolls by one each
# redraw).
_FRAME_LINES = 10
_NAME_MIN, _NAME_MAX = 16, 40


def live_frame(
    healths: Sequence[ScopeHealth],
    now: float,
    mode: str = "",
    *,
    width: int = 80,
    height: int = 24,
    alerts: AlertState | None = None,
) -> Group:
    """One frame of the live view, at most ``height`` lines of at most ``width`` columns.

    A title (mode, the folder holding every file), a summary line (the total's level, how many
    sources are red, yellow or stalled), the alert line (alerts firing, pending, silenced or
    inhibited, failing sinks), then one row per source, the worst first, each with the reason
    of its level (or its last line when green), and the total.
    Paths are named relative to their common folder and shortened in the middle; a row never
    wraps.
    """
    sources = [h for h in healths if h.scope != TOTAL]
    total = next((h for h in healths if h.scope == TOTAL), None)
    folder, names = short_names([h.scope for h in sources])
    title = "threadwatch tail" + (f" ({mode})" if mode else "")
    if folder:
        title += f" — {safe_text(folder)}"
    lines = [
        # Texts, not markup strings: rich would read a folder named "[/]" as markup (and fail)
        Text(title, style="bold", no_wrap=True, overflow="ellipsis"),
        _summary(sources, total),
        _alert_line(alerts),
    ]
    name_width = max(_NAME_MIN, min(_NAME_MAX, width // 3))
    table = Table(box=box.SIMPLE_HEAD, expand=True, pad_edge=False, show_edge=False,
                  padding=(0, 1))
    table.add_column("level", width=7, no_wrap=True)
    table.add_column("batch", justify="right", width=5, no_wrap=True)
    table.add_column("ovld", justify="right", width=4, no_wrap=True)
    table.add_column("seq", justify="right", width=4, no_wrap=True)
    table.add_column("source", width=name_width, no_wrap=True, overflow="ellipsis")
    table.add_column("why / last line", ratio=1, no_wrap=True, overflow="ellipsis")
    sources.sort(key=lambda h: (-_severity(h), h.scope))
    room = max(1, height - _FRAME_LINES)
    shown = sources if len(sources) <= room else sources[: room - 1]
    labels = distinct_labels([names[h.scope] for h in sources], name_width)
    for health in shown:
        _add_row(table, health, now, labels[names[health.scope]])
    if len(shown) < len(sources):
        table.add_row("", "", "", "", Text(f"… {len(sources) - len(shown)} more", style="dim"))
    if total is not None:
        table.add_section()
        _add_row(table, total, now, "total", bold=True)
    return Group(*lines, table)


def distinct_labels(names: Sequence[str], width: int) -> dict[str, str]:
    """Each name in at most ``width`` characters, keeping what tells them apart: the start and
    end all names share (``host-``, ``_run.log``) give way first (``…a/tmp_batt_k3J9xQ2mPa…``),
    then the middle of what is left."""
    safe = [safe_text(name) for name in names]
    if all(len(name) <= width for name in safe):
        return dict(zip(names, safe, strict=True))
    prefix = common_start(safe) if len(safe) > 1 else ""
    suffix = common_start([n[::-1] for n in safe])[::-1] if len(safe) > 1 else ""
    labels = {}
    for name, text in zip(names, safe, strict=True):
        label = text
        if len(text) > width:
            cut = min(len(suffix), len(text) - len(prefix))  # the two may overlap
            core = text[len(prefix) : len(text) - cut]
            label = ("…" if prefix else "") + core + ("…" if cut else "")
        labels[name] = middle(label, width)
    return labels


def middle(text: str, width: int) -> str:
    """``text`` cut to ``width`` characters in the middle, where paths are least telling
    (``host-a/tmp_ba…Pa_run.log``)."""
    text = safe_text(text)
    if len(text) <= width:
        return text
    keep = width - 1
    return text[: keep // 2] + "…" + text[len(text) - (keep - keep // 2):]


def _summary(sources: Sequence[ScopeHealth], total: ScopeHealth | None) -> Text:
    line = Text(no_wrap=True, overflow="ellipsis")
    if total is not None:
        line.append("total ")
        line.append_text(level_text(total.verdict.level))
        line.append(" · ")
    levels = [h.verdict.level for h in sources]
    parts = [f"{len(sources)} sources"]
    parts += [f"{levels.count(level)} {level.label}" for level in (Level.RED, Level.YELLOW)
              if level in levels]
    stalled = sum(1 for h in sources if h.counts["stalled"])
    if stalled:
        parts.append(f"{stalled} stalled")
    line.append(", ".join(parts))
    return line


def _alert_line(alerts: AlertState | None) -> Text:
    """``alerts: 2 firing (1 silenced) · 1 pending · sink hook FAILING (3x: timeout)``."""
    line = Text("alerts: ", no_wrap=True, overflow="ellipsis")
    if alerts is None:
        line.append("no sink configured", style="dim")
        return line
    held = [f"{n} {what}" for n, what in ((alerts.silenced, "silenced"),
                                          (alerts.inhibited, "inhibited")) if n]
    line.append(f"{alerts.firing} firing", style="bold red" if alerts.firing else "")
    if held:
        line.append(f" ({', '.join(held)})")
    if alerts.pending:
        line.append(f" · {alerts.pending} pending", style="yellow")
    for sink in alerts.sinks:
        if sink.failing_since is not None:
            line.append(" · ")
            line.append(f"sink {sink.sink} FAILING ({sink.failed_attempts}x"
                        f"{': ' + safe_text(sink.last_error) if sink.last_error else ''})",
                        style="bold red")
    return line


def _severity(health: ScopeHealth) -> int:
    level = int(health.verdict.level)
    return -1 if level == 3 else level  # unknown (nothing seen yet) sorts after green


def _add_row(table: Table, health: ScopeHealth, now: float, name: str, *,
             bold: bool = False) -> None:
    counts, rates = health.counts, health.rates
    table.add_row(
        level_text(health.verdict.level),
        str(counts["batches"]),
        percent(rates["overload"]),
        percent(rates["sequential"]),
        Text(name, style="bold" if bold else ""),
        _why(health, now),
    )


def _why(health: ScopeHealth, now: float) -> Text:
    """The reason of a yellow or red level (the worst first), else the last line seen."""
    reasons = health.verdict.reasons
    if reasons:
        first = reasons[0]
        if first.is_rate:
            value = f"{first.value:.0%} {first.operator} {first.threshold:.0%}"
        else:
            value = f"{first.value:g} {first.operator} {first.threshold:g}"
        said = f"{first.why} ({value})" if first.why else first.describe()
        more = f" (+{len(reasons) - 1})" if len(reasons) > 1 else ""
        return Text(safe_text(said) + more)
    event, at = health.last_event, health.last_event_at
    if event is None or at is None:
        return Text("-", style="dim")
    text = safe_text(event.text.splitlines()[0] if event.text else event.kind.value)
    return Text(f"{max(0, int(now - at))}s ago: {text}", style="dim")
