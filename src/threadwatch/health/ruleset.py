"""How a configuration's ``[[rules]]`` combine with the default rules: by name.

Every default rule has a name (``overload-red``). An entry of a user's file that names a
default rule changes only the keys it gives (``rate`` and ``count`` replace each other, and so
do the comparisons ``above``, ``at_least``, ``at_most``, ``below``); ``enabled = false`` turns
it off. An entry under a new name is a rule of its own, added after the defaults: it must be
whole (a level, a rate or a count, a comparison), or it is taken for a misspelt default.

An entry without a name is refused. Files written when a ``[[rules]]`` list replaced the
default rules list whole rule sets; merging one would bring back the rules it left out, so
such a file must say what it means: ``replace_default_rules = true`` keeps the old meaning
(the file's rules are the whole set, each without a name named after its metric and level).

The entries are plain TOML data here; the settings model (``Rule``) checks their values after.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from threadwatch.health.settings import derived_name

_METRIC = ("rate", "count")
_COMPARISON = ("above", "at_least", "at_most", "below")

UNNAMED = (
    "no name: give the name of the default rule it changes, or a new name to add a rule"
    " (`threadwatch config show` lists them); replace_default_rules = true at the top of the"
    " file replaces all the default rules, as before"
)


@dataclass(frozen=True)
class MergedRules:
    """The rule entries to validate, where each came from, and what was wrong.

    Attributes:
        entries: the rules in order (defaults first, changed in place; then the added ones).
        origin: per entry, the index of the file's ``[[rules]]`` entry it came from (None for
            a default the file left alone), so a problem names the entry the user wrote.
        problems: ``(key, problem)`` pairs, keys such as ``rules.2``.
    """

    entries: list[Any]
    origin: list[int | None]
    problems: list[tuple[str, str]]


def merge_rules(defaults: Sequence[Mapping[str, Any]], given: Sequence[Any], *,
                replace: bool) -> MergedRules:
    """The rules of a file whose ``[[rules]]`` are ``given``, over the ``defaults``."""
    if replace:
        return _replace(given)
    entries: list[Any] = [dict(rule) for rule in defaults]
    origin: list[int | None] = [None] * len(entries)
    where = {rule.get("name"): index for index, rule in enumerate(entries)}
    problems: list[tuple[str, str]] = []
    seen: dict[str, int] = {}
    for index, entry in enumerate(given):
        key = f"rules.{index}"
        name = entry.get("name") if isinstance(entry, dict) else None
        if not isinstance(entry, dict) or not isinstance(name, str):
            if isinstance(entry, dict) and name is None:
                problems.append((key, UNNAMED))
                continue
            entries.append(entry)  # not a table, or a name that is no text: the model says so
            origin.append(index)
            continue
        if name in seen:
            problems.append((f"{key}.name", f"{name!r} is given twice (rules.{seen[name]} too)"))
            continue
        seen[name] = index
        if name in where:
            entries[where[name]] = _changed(entries[where[name]], entry)
            origin[where[name]] = index
            continue
        missing = _missing(entry)
        if missing:
            problems.append((key, _unknown(name, list(where), missing)))
            continue
        entries.append(entry)
        origin.append(index)
    return MergedRules(entries, origin, problems)


def _replace(given: Sequence[Any]) -> MergedRules:
    problems: list[tuple[str, str]] = []
    entries: list[Any] = []
    origin: list[int | None] = []
    seen: dict[str, int] = {}
    for index, entry in enumerate(given):
        name = (entry.get("name") or derived_name(entry)) if isinstance(entry, dict) else None
        if isinstance(name, str) and name in seen:
            problems.append((f"rules.{index}", f"two rules named {name!r} (rules.{seen[name]}"
                                               " too): give each a name of its own"))
            continue
        if isinstance(name, str):
            seen[name] = index
        entries.append(entry)
        origin.append(index)
    return MergedRules(entries, origin, problems)


def _changed(default: Mapping[str, Any], change: Mapping[str, Any]) -> dict[str, Any]:
    """``default`` with the keys ``change`` gives; a metric or a comparison replaces the
    default's (a rule has one of each)."""
    changed = dict(default)
    for group in (_METRIC, _COMPARISON):
        if any(key in change for key in group):
            for key in group:
                changed.pop(key, None)
    changed.update(change)
    return changed


def _missing(entry: Mapping[str, Any]) -> list[str]:
    missing = []
    if "level" not in entry:
        missing.append("level")
    if not any(key in entry for key in _METRIC):
        missing.append("rate or count")
    if not any(key in entry for key in _COMPARISON):
        missing.append("one of " + "/".join(_COMPARISON))
    return missing


def _unknown(name: str, known: list[Any], missing: list[str]) -> str:
    names = [known_name for known_name in known if isinstance(known_name, str)]
    close = difflib.get_close_matches(name, names, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else " (`threadwatch config show` lists them)"
    return f"no default rule is named {name!r}{hint}; a new rule needs {', '.join(missing)}"
