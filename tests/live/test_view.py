"""tail's outputs: JSON lines and the live table."""

from __future__ import annotations

import io
import json

from rich.console import Console

from threadwatch.config import load_config
from threadwatch.events import Event, Kind
from threadwatch.health.window import WindowedHealth
from threadwatch.live.view import JsonLinesWriter, LiveView, live_table
from threadwatch.report.render import short_names

CONFIG = load_config()
BATCH = Event(Kind.BATCH, "/logs/a.log", 17, task_id="0000abcd", batch_index=3,
              text="run_batt.py:475: -- 0000abcd - 3 --")


def test_each_event_is_one_json_line_without_empty_fields() -> None:
    out = io.StringIO()
    JsonLinesWriter(out).on_events([BATCH, BATCH._replace(batch_index=4)], 12.5)
    lines = out.getvalue().splitlines()
    assert json.loads(lines[0]) == {
        "type": "event", "at": 12.5, "kind": "batch", "source": "/logs/a.log", "offset": 17,
        "task_id": "0000abcd", "batch_index": 3, "text": "run_batt.py:475: -- 0000abcd - 3 --",
    }
    assert len(lines) == 2


def test_each_level_change_is_one_json_line() -> None:
    health = WindowedHealth(CONFIG, 900)
    health.add(Event(Kind.MEMORY_ERROR, "/logs/a.log", 0), 5.0)
    out = io.StringIO()
    JsonLinesWriter(out).on_changes(health.evaluate(5.0), health.snapshot(5.0))
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [(r["type"], r["scope"], r["previous"], r["current"]) for r in records] == [
        ("level", "/logs/a.log", "unknown", "red"), ("level", "total", "unknown", "red"),
    ]
    assert records[0]["reasons"][0]["metric"] == "memory_errors"


def test_live_table_shows_escape_sequences_in_log_text_as_escapes() -> None:
    health = WindowedHealth(CONFIG, 900)
    health.add(BATCH._replace(text="run_batt.py:475: \x1b]0;pwned\x07\x1b[31mred"), 1.0)
    console = Console(file=io.StringIO(), width=200, color_system=None)
    console.print(live_table(health.snapshot(2.0), 2.0))
    shown = console.file.getvalue()  # type: ignore[attr-defined]
    assert "\x1b" not in shown and "\x07" not in shown
    assert r"\x1b]0;pwned\x07\x1b[31mred" in shown
    assert "1s ago batch" in shown


def test_live_table_has_one_row_per_source_and_the_total() -> None:
    health = WindowedHealth(CONFIG, 900)
    for name in ("/logs/a.log", "/logs/b.log"):
        health.add(BATCH._replace(source=name), 1.0)
    console = Console(file=io.StringIO(), width=200, color_system=None)
    console.print(live_table(health.snapshot(1.0), 1.0))
    shown = console.file.getvalue()  # type: ignore[attr-defined]
    assert all(name in shown for name in ("a.log", "b.log", "total"))


def test_live_table_names_files_relative_to_their_common_folder() -> None:
    health = WindowedHealth(CONFIG, 900)
    deep = "/var/log/some/very/long/folder/name/of/the/service"
    for name in (f"{deep}/host-a/run.log", f"{deep}/host-b/run.log", "-"):
        health.add(BATCH._replace(source=name), 1.0)
    console = Console(file=io.StringIO(), width=120, color_system=None)
    console.print(live_table(health.snapshot(1.0), 1.0, "polling"))
    shown = console.file.getvalue()  # type: ignore[attr-defined]
    assert f"threadwatch tail (polling) — {deep}" in shown
    rows = [line.split("│")[1].strip() for line in shown.splitlines() if line.count("│") > 2]
    assert {"host-a/run.log", "host-b/run.log", "-", "total"} <= set(rows)
    assert not any(row.startswith("/var") for row in rows)


def test_a_single_file_is_named_by_its_base_name() -> None:
    assert short_names(["/logs/a.log"]) == ("/logs", {"/logs/a.log": "a.log"})
    assert short_names(["-"]) == ("", {"-": "-"})


def test_live_view_redraws_at_most_every_refresh_interval() -> None:
    calls: list[float] = []

    def snapshot(now: float) -> list:  # type: ignore[type-arg]
        calls.append(now)
        return []

    view = LiveView(snapshot, refresh_seconds=0.5,
                    console=Console(file=io.StringIO(), force_terminal=True))
    for now in (0.0, 0.2, 0.4, 0.5, 0.7, 1.0):
        view.tick(now)
    view.close()
    assert calls == [0.0, 0.5, 1.0]


def test_a_folder_name_is_never_read_as_markup() -> None:
    health = WindowedHealth(CONFIG, 900)
    for name in ("/logs[/bold]x/a.log", "/logs[/bold]x/b.log"):
        health.add(BATCH._replace(source=name), 1.0)
    console = Console(file=io.StringIO(), width=200, color_system=None)
    console.print(live_table(health.snapshot(1.0), 1.0))  # "[/bold]" closes no open tag
    assert "— /logs[/bold]x" in console.file.getvalue()  # type: ignore[attr-defined]
