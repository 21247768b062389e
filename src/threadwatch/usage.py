"""What the command line needs besides its commands: usage errors exit 3, and the version line.

click (inside typer) exits 2 on a usage error (unknown option, missing argument, bad choice,
unknown command), which monitoring reads as CRITICAL, the same as a red verdict. threadwatch
exits 3 (UNKNOWN, as for every other error) with typer's usage message on stderr unchanged.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import typer
from typer.core import TyperArgument, TyperGroup

from threadwatch.health.levels import Level

USAGE_EXIT_CODE = int(Level.UNKNOWN)


def _usage_error_class() -> type[Exception]:
    """click's ``UsageError``. typer exports only its subclass ``BadParameter`` (and recent
    typer bundles its own copy of click), so it is found through that."""
    for cls in typer.BadParameter.__mro__:
        if cls.__name__ == "UsageError" and issubclass(cls, Exception):
            return cls
    raise ImportError("typer.BadParameter is no longer a click UsageError")


_UsageError = _usage_error_class()


@contextmanager
def _usage_errors_exit_3() -> Iterator[None]:
    try:
        yield
    except _UsageError as exc:
        exc.exit_code = USAGE_EXIT_CODE  # type: ignore[attr-defined]  # read when it is shown
        raise


class _PlainArgument(TyperArgument):
    """An argument shown as the usual ``PATH...`` (typer writes ``{PATH}...`` in the usage
    line and adds the Python type, ``PATH <list[str]>``, to its help row)."""

    def _usage_display_name(self) -> str:
        name = self.display_name_raw if self.required else f"[{self.display_name_raw}]"
        return name + ("..." if self.nargs != 1 else "")

    def display_type_rich(self, ctx: Any) -> str | None:
        return None


def _plain_arguments(command: Any) -> None:
    for param in getattr(command, "params", ()):
        if type(param) is TyperArgument:
            param.__class__ = _PlainArgument
    for sub in getattr(command, "commands", {}).values():
        _plain_arguments(sub)


class ThreadwatchGroup(TyperGroup):
    """The command group: a usage error of the group or of any command exits 3; arguments
    are shown as ``PATH...``.

    ``make_context`` parses the group's own options; ``invoke`` finds the command, parses its
    arguments and runs it, so between them they see every usage error before typer shows it.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _plain_arguments(self)

    def make_context(self, info_name: Any, args: Any, parent: Any = None,
                     **extra: Any) -> Any:
        with _usage_errors_exit_3():
            return super().make_context(info_name, args, parent, **extra)

    def invoke(self, ctx: Any) -> Any:
        with _usage_errors_exit_3():
            return super().invoke(ctx)


def version_line() -> str:
    """``threadwatch <version>``, the installed distribution's version (the package's own
    ``__version__`` when it runs uninstalled, from a source tree)."""
    from importlib import metadata  # noqa: PLC0415 - 15 ms: only for --version

    try:
        version = metadata.version("threadwatch")
    except metadata.PackageNotFoundError:
        from threadwatch import __version__  # noqa: PLC0415 - only when not installed

        version = __version__
    return f"threadwatch {version}"
