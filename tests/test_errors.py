"""One exception tree: every ``ThreadwatchError`` is defined in ``errors.py``, and the tree drawn
in its docstring names each under its own parent."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re

import threadwatch
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


def test_every_threadwatch_error_is_defined_in_errors() -> None:
    for module in pkgutil.walk_packages(threadwatch.__path__, "threadwatch."):
        if module.name not in ("threadwatch.__main__",):
            importlib.import_module(module.name)
    elsewhere = []
    pending = [errors.ThreadwatchError]
    while pending:
        cls = pending.pop()
        if cls.__module__ != errors.__name__:
            elsewhere.append(f"{cls.__module__}.{cls.__qualname__}")
        pending += cls.__subclasses__()
    assert elsewhere == []
