"""``${VARIABLE}`` references in sink settings, expanded from the environment.

The expanded value is wrapped in ``Secret``, whose ``str`` and ``repr`` hide it: a URL or key
that ends up in an f-string, a log record or a traceback shows as ``***``. Only the code that
makes the request calls ``reveal()``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import urlsplit

from threadwatch.errors import SinkConfigError

_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class Secret:
    """A string that does not print itself."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The value, for the one place that needs it."""
        return self._value

    def __str__(self) -> str:
        return "***"

    def __repr__(self) -> str:
        return "Secret('***')"


def expand(sink: str, setting: str, value: str, env: Mapping[str, str]) -> Secret:
    """Replace every ``${NAME}`` in ``value`` with ``env[NAME]``.

    Raises:
        SinkConfigError: a referenced variable is unset or empty (it names the variable and
            the sink, never a value).
    """

    def lookup(match: re.Match[str]) -> str:
        name = match.group(1)
        found = env.get(name)
        if not found:
            raise SinkConfigError(sink, f"{setting}: environment variable {name} is not set")
        return found

    return Secret(_REFERENCE.sub(lookup, value))


def expand_url(sink: str, value: str, env: Mapping[str, str]) -> Secret:
    """``expand`` a URL, then check it is an absolute http(s) URL with a host.

    Raises:
        SinkConfigError: a variable is unset, or the URL is malformed (not shown).
    """
    url = expand(sink, "url", value, env)
    try:
        parts = urlsplit(url.reveal())
        valid = parts.scheme in ("http", "https") and bool(parts.hostname)
        _ = parts.port  # raises ValueError on a non-numeric port
    except ValueError:
        valid = False
    if not valid or any(ch.isspace() for ch in url.reveal()):
        raise SinkConfigError(sink, "url is not a valid http(s) URL (value not shown)")
    return url
