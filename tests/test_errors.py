"""The exception tree drawn in ``errors.py``'s docstring names every error the module defines,
under its own parent."""

from __future__ import annotations

import inspect
import re

from threadwatch import errors


def test_the_drawn_tree_is_the_class_tree() -> None:
    drawn: dict[str, str] = {}
    parents: list[str] = []  # by depth
    for line in (errors.__doc__ or "").splitlines():
        found = re.match(r"^( *)(?:[├└]── )?([A-Z]\w+Error)\b", line.replace("│", " "))
        if found is None:
            continue
        depth = len(found[1]) // 5
        del parents[depth:]
        if parents:
            drawn[found[2]] = parents[-1]
        parents.append(found[2])
    defined = {
        name: cls.__base__.__name__
        for name, cls in inspect.getmembers(errors, inspect.isclass)
        if issubclass(cls, errors.ThreadwatchError) and cls is not errors.ThreadwatchError
        and cls.__base__ is not None
    }
    assert drawn == defined
