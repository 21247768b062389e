"""The one exception tree of threadwatch. Foreign errors are translated at the boundary.

    ThreadwatchError            anything threadwatch reports on purpose, one line per problem
     ├── ConfigError            the config file is unreadable or invalid (every key at fault)
     ├── SourceError            a path to read is missing or unreadable
     ├── StateError             the tail state file (checkpoints) cannot be opened or written
     │    ├── StateInUseError   another ``tail`` holds the state file's lock
     │    └── OutboxError       the alert outbox (tables in the state file) cannot be used
     ├── NothingReadError       no input at all could be read
     ├── TerminalGoneError      the live view's terminal went away (``tail`` stops, exit 0)
     ├── NotRunningError        no running ``tail`` answers ``threadwatch status``
     ├── SinkConfigError        an alert sink cannot be built (variable unset, URL malformed)
     ├── SilenceError           a silence cannot be made or found (bad duration or glob, no id)
     └── DeliveryError          an alert sink did not accept a notification

The CLI maps every ThreadwatchError to exit code 3 (unknown/error) and its message.
"""

from __future__ import annotations

from collections.abc import Sequence


class ThreadwatchError(Exception):
    """Base of every error threadwatch raises on purpose."""


class ConfigError(ThreadwatchError):
    """The configuration cannot be used: one or more problems, each naming the key at fault.

    Args:
        path: the config file.
        key: the dotted key at fault, or None when the file itself is at fault.
        problem: what is wrong, in a few words.
        more: further ``(key, problem)`` pairs found in the same file.

    Attributes:
        problems: every ``(key, problem)`` pair, the first one first.
        lines: one line per problem (``invalid config FILE: KEY: PROBLEM``); the message is
            these lines joined by newlines.
    """

    def __init__(
        self,
        path: str,
        key: str | None,
        problem: str,
        more: Sequence[tuple[str | None, str]] = (),
    ) -> None:
        self.path = path
        self.key = key
        self.problem = problem
        self.problems = ((key, problem), *more)
        self.lines = tuple(
            f"invalid config {f'{path}: {where}' if where else path}: {what}"
            for where, what in self.problems
        )
        super().__init__("\n".join(self.lines))


class SourceError(ThreadwatchError):
    """A path to read is missing or cannot be read."""


class StateError(ThreadwatchError):
    """The state file that keeps ``tail``'s checkpoints cannot be opened or written."""


class StateInUseError(StateError):
    """Another ``threadwatch tail`` holds the state file's lock (the message names its pid)."""


class OutboxError(StateError):
    """The alert outbox (the alert tables of the state file) cannot be opened, read or written:
    ``database is locked`` after the busy timeout, disk full, file removed. Raised ``from`` the
    sqlite3 error."""


class NothingReadError(ThreadwatchError):
    """None of the given inputs could be read."""


class TerminalGoneError(ThreadwatchError):
    """The terminal the live view draws on went away (hung up, closed): nothing can be shown."""


class NotRunningError(ThreadwatchError):
    """No running ``threadwatch tail`` answers on the state file's status socket."""


class SinkConfigError(ThreadwatchError):
    """An alert sink cannot be built. The message names the sink and the variable, never
    the value (URLs and secrets stay out of output and logs).

    Args:
        sink: the sink's name in the config.
        problem: what is wrong, in a few words.
    """

    def __init__(self, sink: str, problem: str) -> None:
        self.sink = sink
        self.problem = problem
        super().__init__(f"alert sink {sink!r}: {problem}")


class SilenceError(ThreadwatchError):
    """A silence cannot be made or found: a bad duration or glob, an unknown id."""


class DeliveryError(ThreadwatchError):
    """A sink did not accept a notification. The message never holds the sink's URL.

    Args:
        problem: what happened (e.g. ``HTTP 503``, ``timed out``).
        retryable: whether trying again later may succeed.
        retry_after: seconds the receiver asked us to wait (HTTP 429 ``Retry-After``).
    """

    def __init__(self, problem: str, *, retryable: bool, retry_after: float | None = None) -> None:
        self.problem = problem
        self.retryable = retryable
        self.retry_after = retry_after
        super().__init__(problem)
