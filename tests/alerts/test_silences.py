"""Silences as data: durations, globs, which alerts they cover, and their table in a real
state file (time injected)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from threadwatch.alerts.model import Alert, Status, Transition
from threadwatch.alerts.silences import (
    KEEP_ENDED_DAYS,
    Silence,
    SilenceError,
    SilenceStore,
    check_glob,
    format_silences,
    parse_duration,
    read_silences,
    scope_matches,
    time_left,
)

NOW = 1_800_000_000.0


def _alert(scope: str, rule: str = "level") -> Alert:
    key = f"level:{scope}" if rule == "level" else f"event:{rule}:{scope}"
    return Alert(key, rule, Status.FIRING, Transition.FIRING, "red", scope, "s", NOW)


@pytest.mark.parametrize(("text", "seconds"), [
    ("90s", 90), ("30m", 1800), ("2h", 7200), ("1d", 86400), ("1h30m", 5400), (" 2H ", 7200),
    ("366d", 366 * 86400),
])
def test_durations_read_as_seconds(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "2", "h", "2x", "-1h", "1.5h", "0s", "0h0m", "367d",
                                  "2h junk", "2 h"])
def test_bad_durations_are_refused_with_the_text(text: str) -> None:
    with pytest.raises(SilenceError, match="bad duration"):
        parse_duration(text)


@pytest.mark.parametrize(("glob", "scope", "matches"), [
    ("*.log", "/var/log/batt/host1/a.log", True),  # no '/': the file name
    ("a.log", "/var/log/batt/host1/a.log", True),
    ("host1", "/var/log/batt/host1/a.log", False),  # a folder's name is not the file name
    ("host*", "/var/log/host1/run.log", False),  # '*' of a name glob stays in the name
    ("total", "total", True),
    ("*", "total", True),
    ("*", "/x/a.log", True),
    ("host1/*.log", "/var/log/batt/host1/a.log", True),  # relative: the end of the path
    ("batt/host1/*", "/var/log/batt/host1/a.log", True),
    ("ost1/*.log", "/var/log/batt/host1/a.log", False),  # ... at a '/'
    ("/var/log/*/a.log", "/var/log/batt/host1/a.log", True),  # '*' also matches '/'
    ("/var/log/batt/host2/*", "/var/log/batt/host1/a.log", False),
    ("/log/batt/host1/a.log", "/var/log/batt/host1/a.log", False),  # absolute: whole path
    ("logs/a.log", "logs/a.log", True),  # tail given a relative path
    ("A.log", "/x/a.log", False),  # case counts
    ("[ab].log", "/x/b.log", True),
])
def test_scope_globs(glob: str, scope: str, matches: bool) -> None:
    assert scope_matches(glob, scope) is matches


@pytest.mark.parametrize(("glob", "problem"), [
    ("", "empty"), ("  ", "empty"), ("a[", "never closed"), ("a[!]", "never closed"),
    ("a\nb", "control character"),
])
def test_bad_globs_are_refused(glob: str, problem: str) -> None:
    with pytest.raises(SilenceError, match=problem):
        check_glob(glob)


@pytest.mark.parametrize("glob", ["a[]]", "a[!]]", "[a-z]*.log", "x]"])
def test_globs_fnmatch_reads_are_accepted(glob: str) -> None:
    assert check_glob(glob) == glob


def test_a_rule_glob_narrows_a_silence_to_that_rule() -> None:
    silence = Silence("id", "*", "memory-*", NOW, NOW + 60, "me@here", "")
    assert silence.matches(_alert("/x/a.log", "memory-error"))
    assert not silence.matches(_alert("/x/a.log"))
    assert Silence("id", "*", None, NOW, NOW + 60, "me@here", "").matches(_alert("/x/a.log"))


def test_a_silence_is_active_from_its_start_until_its_end() -> None:
    silence = Silence("id", "*", None, NOW, NOW + 60, "me@here", "")
    assert [silence.active(t) for t in (NOW - 1, NOW, NOW + 59.9, NOW + 60)] == [
        False, True, True, False]


def test_added_silences_get_short_unique_ids_and_are_listed_until_they_end(
        tmp_path: Path) -> None:
    store = SilenceStore(tmp_path / "new" / "state.db")  # the folder is made
    made = [store.add("*.log", rule=None, seconds=60 * (n + 1), created_by="me@here",
                      comment=f"c{n}", now=NOW) for n in range(50)]
    assert len({s.id for s in made}) == 50
    assert all(len(s.id) == 8 and int(s.id, 16) >= 0 for s in made)
    assert [s.id for s in store.silences(NOW + 1)] == [s.id for s in made]
    assert [s.id for s in store.silences(NOW + 60 * 49.5)] == [s.id for s in made[49:]]
    assert len(store.silences(NOW + 60 * 49.5, ended=True)) == 50
    assert store.silences(NOW - 1) == []  # not begun yet
    store.close()


def test_expiring_ends_a_silence_now_and_again_changes_nothing(tmp_path: Path) -> None:
    store = SilenceStore(tmp_path / "state.db")
    silence = store.add("total", rule="level", seconds=7200, created_by="me@here",
                        comment="deploy", now=NOW)
    ended, changed = store.expire(silence.id.upper(), "you@there", NOW + 10)
    assert changed and (ended.ends_at, ended.expired_by) == (NOW + 10, "you@there")
    assert store.silences(NOW + 10) == []
    again, changed = store.expire(silence.id, "you@there", NOW + 20)
    assert not changed and again.ends_at == NOW + 10
    [kept] = store.silences(NOW + 20, ended=True)
    assert (kept.comment, kept.created_by, kept.expired_by) == ("deploy", "me@here", "you@there")
    with pytest.raises(SilenceError, match="no silence 'nope'"):
        store.expire("nope", "you@there", NOW)
    store.close()


def test_silences_ended_long_ago_are_deleted_by_the_next_add(tmp_path: Path) -> None:
    store = SilenceStore(tmp_path / "state.db")
    old = store.add("a", rule=None, seconds=60, created_by="me@here", comment="", now=NOW)
    later = NOW + 60 + KEEP_ENDED_DAYS * 86400
    store.add("b", rule=None, seconds=60, created_by="me@here", comment="", now=later - 1)
    assert old.id in {s.id for s in store.silences(later, ended=True)}
    store.add("c", rule=None, seconds=60, created_by="me@here", comment="", now=later + 1)
    assert old.id not in {s.id for s in store.silences(later, ended=True)}
    store.close()


def test_the_alerts_held_back_are_recorded_with_their_silences(tmp_path: Path) -> None:
    store = SilenceStore(tmp_path / "state.db")
    alert = _alert("/x/a.log")
    store.hold([(alert, ("s1",))], NOW)
    store.hold([(alert, ("s1", "s2"))], NOW + 5)
    [held] = store.held()
    assert (held.alert, held.silenced_by, held.since, held.updated_at) == (
        alert, ("s1", "s2"), NOW, NOW + 5)
    store.release([alert.key])
    assert store.held() == []
    store.close()


def test_reading_changes_nothing_and_a_file_without_silences_has_none(tmp_path: Path) -> None:
    state = tmp_path / "state.db"
    db = sqlite3.connect(state)
    db.execute("CREATE TABLE checkpoints (id INTEGER PRIMARY KEY)")
    db.close()
    before = state.read_bytes()
    assert read_silences(state, NOW, ended=True) == []
    assert state.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.db"]
    assert read_silences(tmp_path / "none.db", NOW, missing_ok=True) == []


@pytest.mark.parametrize(("seconds", "text"), [
    (0, "0s"), (9.4, "9s"), (9.7, "9s"), (250, "4m10s"), (7140, "1h59m"), (7199.7, "1h59m"),
    (7200, "2h0m"), (93600, "1d2h"),
])
def test_time_left_shows_two_units(seconds: float, text: str) -> None:
    assert time_left(seconds) == text


def test_the_table_shows_time_left_or_who_ended_it() -> None:
    active = Silence("aaaa0001", "host1/*", None, NOW, NOW + 7200, "me@here", "deploy")
    ended = Silence("aaaa0002", "total", "level", NOW - 99, NOW - 9, "me@here", "", "you@there")
    header, first, second = format_silences([active, ended], NOW)
    assert header.split() == ["ID", "SCOPE", "RULE", "ENDS", "LEFT", "BY", "COMMENT"]
    assert first.split() == ["aaaa0001", "host1/*", "*", "2027-01-15T10:00:00Z", "2h0m",
                             "me@here", "deploy"]
    assert "expired by you@there" in second
    assert format_silences([], NOW) == ["(no silences)"]
