"""What ``threadwatch status`` shows: a running ``tail``'s state, as one JSON object and as text.

The answer is made from what the metrics exporter already gathers (``live.metrics``: its
latest snapshot, taken in the tail's thread once a second, and the outbox counts per sink), so
asking never touches the tail's loop and never waits for it. Schema 1:

    {"schema": 1, "pid": 1234, "version": "…", "started_at": …, "uptime_seconds": …,
     "snapshot_at": … | null, "snapshot_age_seconds": 0.4, "stale": false,
     "level": "red", "files_followed": 25, "read_lag_bytes": 0, "stalled_sources": 1,
     "scopes": [{"scope": "total" | PATH | "other", "level": "red", "reason": "…" | null,
                 "read_lag_bytes": 0, "last_line_at": … | null}, …],      # worst first
     "sinks": [{"sink": "ops", "state": "ok" | "failing", "pending": 0, "failed": 0,
                "last_delivered_at": … | null, "failing_since": … | null,
                "last_error": "…" | null}],
     "config": {"path": "…" | null, "loaded_at": …, "reload_error": "…" | null}}

``snapshot_at`` is when the snapshot answered from was taken (unix time; null before the
first), ``snapshot_age_seconds`` how old it is (before the first: how long the tail has run).
The loop takes one every second; one older than ``STALE_SECONDS`` means the loop is stuck (what
systemd's watchdog would kill it for): ``stale`` is true, and the levels, as of then, may be
out of date, so ``status`` says so and exits 3 (unknown) whatever they are.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from threadwatch import __version__
from threadwatch.alerts.sender import SinkState
from threadwatch.health.levels import Level
from threadwatch.health.rules import Reason
from threadwatch.health.scope import TOTAL
from threadwatch.live.metrics import MetricsExporter
from threadwatch.text import safe_text

SCHEMA = 1
# The loop snapshots every second (``live.metrics.SNAPSHOT_SECONDS``); a step reading a large
# backlog may delay one by a second or two. Ten is stuck, and still well within systemd's
# watchdog (WatchdogSec=30 in config/threadwatch.service), which restarts the tail later.
STALE_SECONDS = 10.0


@dataclass
class ConfigState:
    """The config file a running tail judges by, and how its last reload went."""

    path: str | None
    loaded_at: float = field(default_factory=time.time)
    reload_error: str | None = None


@dataclass(frozen=True)
class StatusSource:
    """Where a running tail's status comes from.

    Attributes:
        exporter: the tail's metrics exporter (snapshot and outbox counts).
        sink_states: how delivery to each sink is going.
        config: the config file and its reloads.
        started_at: when the tail started (unix time).
    """

    exporter: MetricsExporter
    sink_states: Callable[[], Sequence[SinkState]]
    config: ConfigState
    started_at: float = field(default_factory=time.time)


def status_answer(source: StatusSource, now: float) -> dict[str, Any]:
    """The status as one JSON-ready object (schema above); call from any thread."""
    snapshot = source.exporter.snapshot
    scopes: list[dict[str, Any]] = []
    for label, scope in snapshot.scopes.items():
        if scope.report is None:
            continue  # a source gone: only its counter remains
        verdict = scope.report.verdict
        scopes.append({
            "scope": label,
            "level": verdict.level.label,
            "reason": _reason(verdict.reasons[0]) if verdict.reasons else None,
            "read_lag_bytes": scope.lag_bytes,
            "last_line_at": scope.last_line_at,
        })
    scopes.sort(key=lambda s: (s["scope"] == TOTAL, -_severity(s["level"]), s["scope"]))
    total = snapshot.scopes.get(TOTAL)
    level = Level.UNKNOWN if total is None or total.report is None else (
        total.report.verdict.level)
    taken_at = snapshot.taken_at
    age = now - (source.started_at if taken_at is None else taken_at)
    counts = {sink.sink: sink for sink in source.exporter.sinks()}
    sinks = []
    for state in source.sink_states():
        waiting = counts.get(state.sink)
        sinks.append({
            "sink": state.sink,
            "state": "ok" if state.ok else "failing",
            "pending": waiting.pending if waiting else 0,
            "failed": waiting.failed if waiting else 0,
            "last_delivered_at": state.last_delivered_at,
            "failing_since": state.failing_since,
            "last_error": state.last_error,
        })
    return {
        "schema": SCHEMA,
        "pid": os.getpid(),
        "version": __version__,
        "started_at": source.started_at,
        "uptime_seconds": round(now - source.started_at, 3),
        "snapshot_at": taken_at,
        "snapshot_age_seconds": round(max(0.0, age), 3),
        "stale": age > STALE_SECONDS,
        "level": level.label,
        "files_followed": snapshot.files_followed,
        "read_lag_bytes": total.lag_bytes if total is not None else 0,
        "stalled_sources": snapshot.stalled_sources,
        "scopes": scopes,
        "sinks": sinks,
        "config": {"path": source.config.path, "loaded_at": source.config.loaded_at,
                   "reload_error": source.config.reload_error},
    }


def _reason(reason: Reason) -> str:
    return f"{reason.describe()} ({reason.why})" if reason.why else reason.describe()


def _severity(label: str) -> int:
    # worst first: red, yellow, unknown, green
    return {"red": 3, "yellow": 2, "unknown": 1, "green": 0}.get(label, 1)


def answer_level(answer: dict[str, Any]) -> Level:
    """The total's level an answer gives (unknown if it gives none, or if it is stale)."""
    if answer.get("stale"):
        return Level.UNKNOWN
    try:
        return Level[str(answer.get("level", "unknown")).upper()]
    except KeyError:
        return Level.UNKNOWN


def format_status(answer: dict[str, Any], now: float | None = None, *,
                  max_scopes: int = 20) -> str:
    """The answer as text: a summary, one row per scope (worst first), the sinks."""
    now = time.time() if now is None else now
    head = (f"threadwatch tail (pid {answer['pid']}, up {_duration(answer['uptime_seconds'])}):"
            f" {answer_level(answer).label.upper()}")
    age = answer.get("snapshot_age_seconds")
    if age is None:  # a tail from before snapshot times were said
        lines = [head]
    elif answer.get("stale") and answer.get("snapshot_at") is None:
        lines = [head, f"STALE: the tail has taken no snapshot in {_duration(age)}: its loop is"
                       " stuck"]
    elif answer.get("stale"):
        lines = [head, f"STALE: the tail's last snapshot is {_duration(age)} old: its loop is"
                       f" stuck; what follows is as of then (it said"
                       f" {str(answer['level']).upper()})"]
    elif answer.get("snapshot_at") is None:
        lines = [f"{head} (starting: no snapshot yet)"]
    else:
        lines = [f"{head} (as of {_duration(age)} ago)"]
    lines += [
        f"files followed {answer['files_followed']} · read lag {answer['read_lag_bytes']} bytes"
        f" · stalled sources {answer['stalled_sources']}",
    ]
    config = answer.get("config") or {}
    if config.get("path"):
        lines.append(f"config {config['path']} (loaded {_ago(now, config['loaded_at'])})")
    if config.get("reload_error"):
        lines.append(f"last reload failed, previous config kept: {config['reload_error']}")
    scopes: list[dict[str, Any]] = answer["scopes"]
    sources = [scope for scope in scopes if scope["scope"] != TOTAL]
    lines += ["", f"{'level':<8} {'lag':>8}  {'last line':>10}  scope · worst reason"]
    for scope in [*sources[:max_scopes], *(s for s in scopes if s["scope"] == TOTAL)]:
        if scope["scope"] == TOTAL and len(sources) > max_scopes:
            lines.append(f"{'':<8} {'':>8}  {'':>10}  … {len(sources) - max_scopes} more")
        row = (f"{str(scope['level']).upper():<8} {scope['read_lag_bytes']:>8}"
               f"  {_ago(now, scope['last_line_at']):>10}  {scope['scope']}")
        if scope["reason"]:
            row += f" · {scope['reason']}"
        lines.append(row)
    if answer["sinks"]:
        lines += ["", "sinks:"]
        for sink in answer["sinks"]:
            row = (f"  {sink['sink']}: {sink['state']}, {sink['pending']} pending,"
                   f" {sink['failed']} failed, last delivered"
                   f" {_ago(now, sink['last_delivered_at'])}")
            if sink["state"] != "ok" and sink["last_error"]:
                row += f" ({sink['last_error']})"
            lines.append(row)
    return "\n".join(safe_text(line) for line in lines)


def _ago(now: float, at: float | None) -> str:
    if at is None:
        return "never"
    return f"{_duration(max(0.0, now - at))} ago"


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m"
    if seconds < 172800:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 86400}d"
