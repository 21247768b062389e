"""tail's outputs: JSON lines and the live table."""

from __future__ import annotations

import io
import json
import os
import re
import select

import pytest
from rich.console import Console

from threadwatch.config import load_config
from threadwatch.errors import TerminalGoneError
from threadwatch.events import Event, Kind
from threadwatch.health.window import WindowedHealth
from threadwatch.live.view import (
    JsonLinesWriter,
    LiveView,
    distinct_labels,
    live_frame,
    middle,
)
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


def test_live_frame_shows_escape_sequences_in_log_text_as_escapes() -> None:
    health = WindowedHealth(CONFIG.model_copy(update={"rules": ()}), 900)  # green: last line
    health.add(BATCH._replace(text="run_batt.py:475: \x1b]0;pwned\x07\x1b[31mred"), 1.0)
    console = Console(file=io.StringIO(), width=200, color_system=None)
    console.print(live_frame(health.snapshot(2.0), 2.0))
    shown = console.file.getvalue()  # type: ignore[attr-defined]
    assert "\x1b" not in shown and "\x07" not in shown
    assert r"\x1b]0;pwned\x07\x1b[31mred" in shown
    assert "1s ago: run_batt.py:475" in shown


def test_live_frame_has_one_row_per_source_and_the_total() -> None:
    health = WindowedHealth(CONFIG, 900)
    for name in ("/logs/a.log", "/logs/b.log"):
        health.add(BATCH._replace(source=name), 1.0)
    console = Console(file=io.StringIO(), width=200, color_system=None)
    console.print(live_frame(health.snapshot(1.0), 1.0))
    shown = console.file.getvalue()  # type: ignore[attr-defined]
    assert all(name in shown for name in ("a.log", "b.log", "total"))


def test_live_frame_names_files_relative_to_their_common_folder() -> None:
    health = WindowedHealth(CONFIG, 900)
    deep = "/var/log/some/very/long/folder/name/of/the/service"
    for name in (f"{deep}/host-a/run.log", f"{deep}/host-b/run.log", "-"):
        health.add(BATCH._replace(source=name), 1.0)
    console = Console(file=io.StringIO(), width=120, color_system=None)
    console.print(live_frame(health.snapshot(1.0), 1.0, "polling", width=120))
    shown = console.file.getvalue()  # type: ignore[attr-defined]
    assert shown.splitlines()[0] == f"threadwatch tail (polling) — {deep}"
    rows = [re.split(r"\s{2,}", line.strip()) for line in shown.splitlines()[5:] if line.strip()]
    assert sorted(row[4] for row in rows) == ["-", "host-a/run.log", "host-b/run.log", "total"]


def test_long_names_keep_what_tells_them_apart() -> None:
    names = ["host-a/tmp_batt_k3J9xQ2mPa_run.log", "host-b/tmp_batt_Zq81LmNo4R_run.log", "-"]
    assert distinct_labels(names, 40) == {name: name for name in names}  # all fit
    # all share "host-" and "_run.log": those give way first (22 characters left)
    assert distinct_labels(names[:2], 24) == {
        names[0]: "…a/tmp_batt_k3J9xQ2mPa…",
        names[1]: "…b/tmp_batt_Zq81LmNo4R…",
    }
    # still too long for 20: then the middle (9 characters, "…", the last 10)
    assert distinct_labels(names[:2], 20) == {
        names[0]: "…a/tmp_ba…3J9xQ2mPa…",
        names[1]: "…b/tmp_ba…q81LmNo4R…",
    }


def test_long_names_are_cut_in_the_middle() -> None:
    assert middle("host-a/tmp_batt_k3J9xQ2mPa_run.log", 20) == "host-a/tm…Pa_run.log"
    assert middle("short.log", 20) == "short.log"


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
    console.print(live_frame(health.snapshot(1.0), 1.0))  # "[/bold]" closes no open tag
    assert "— /logs[/bold]x" in console.file.getvalue()  # type: ignore[attr-defined]


def test_the_alert_line_says_what_fires_what_is_held_and_which_sink_fails() -> None:
    from threadwatch.alerts.dispatcher import AlertState  # noqa: PLC0415
    from threadwatch.alerts.sender import SinkState  # noqa: PLC0415

    health = WindowedHealth(CONFIG, 900)
    health.add(Event(Kind.MEMORY_ERROR, "/logs/a.log", 0), 1.0)

    def alert_line(alerts: AlertState | None) -> str:
        console = Console(width=120, record=True, file=io.StringIO())
        console.print(live_frame(health.snapshot(1.0), 1.0, width=120, alerts=alerts))
        return console.export_text().splitlines()[2]

    assert alert_line(None) == "alerts: no sink configured"
    assert alert_line(AlertState()) == "alerts: 0 firing"
    state = AlertState(firing=3, pending=1, silenced=1, inhibited=2, sinks=(
        SinkState("slack"), SinkState("hook", 5.0, 2, "HTTP 503")))
    assert alert_line(state) == (
        "alerts: 3 firing (1 silenced, 2 inhibited) · 1 pending · sink hook FAILING (2x: HTTP 503)")


def test_a_terminal_that_hangs_up_ends_the_view_quietly() -> None:
    master, slave = os.openpty()  # a real terminal
    os.set_blocking(master, False)
    with open(slave, "w", encoding="utf-8") as tty:
        view = LiveView(lambda now: [], refresh_seconds=0.1,
                        console=Console(file=tty, width=80, height=24))
        view.tick(0.0)
        drawn = b""
        while select.select([master], [], [], 0.5)[0]:
            drawn += os.read(master, 1 << 16)
        assert b"threadwatch tail" in drawn  # the first frame, on the terminal
        os.close(master)  # the terminal hangs up
        with pytest.raises(TerminalGoneError):
            view.tick(1.0)
        view.close()  # nowhere to write: neither the last frame nor an error
