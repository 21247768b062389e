"""Sinks: one module per receiver behind the ``Sink`` protocol, each registering its type by name
(``registry.py``); built here from the ``[alerts.sinks.NAME]`` tables.

The sink classes load lazily (``from threadwatch.alerts.sinks import SlackSink`` works): the
settings import the registry, and a config without sinks never loads an HTTP client.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

from threadwatch.alerts.secrets import expand_url
from threadwatch.alerts.sinks.base import Sink
from threadwatch.alerts.sinks.registry import SinkSettings, register_sink, sink_types
from threadwatch.errors import SinkConfigError

if TYPE_CHECKING:
    from threadwatch.alerts.sinks.alertmanager import AlertmanagerSink
    from threadwatch.alerts.sinks.slack import SlackSink
    from threadwatch.alerts.sinks.webhook import WebhookSink

__all__ = ["AlertmanagerSink", "Sink", "SinkSettings", "SlackSink", "WebhookSink", "build_sink",
           "build_sinks", "register_sink", "sink_types"]

_LAZY = {"AlertmanagerSink": "alertmanager", "SlackSink": "slack", "WebhookSink": "webhook"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


class _WithSinks(Protocol):
    @property
    def sinks(self) -> Mapping[str, SinkSettings]: ...


def build_sink(name: str, settings: SinkSettings, env: Mapping[str, str]) -> Sink:
    """One sink from its config table, with ``${VARIABLES}`` expanded from ``env``.

    Raises:
        SinkConfigError: a variable is unset, the URL is malformed, or the sink refuses a
            setting (an empty webhook secret).
    """
    url = expand_url(name, settings.url, env)
    try:
        return sink_types()[settings.type].build(name, settings, url, env)
    except ValueError as exc:  # an empty secret, an unsupported proxy: said by the sink
        raise SinkConfigError(name, str(exc)) from exc


def build_sinks(config: _WithSinks, env: Mapping[str, str]) -> dict[str, Sink]:
    """Every configured sink of ``config`` (the ``[alerts]`` settings), by name.

    Raises:
        SinkConfigError: naming every sink that cannot be built (and why), never a value.
    """
    sinks: dict[str, Sink] = {}
    problems: list[SinkConfigError] = []
    for name, settings in config.sinks.items():
        try:
            sinks[name] = build_sink(name, settings, env)
        except SinkConfigError as exc:
            problems.append(exc)
    if problems:
        for sink in sinks.values():
            sink.close()
        if len(problems) == 1:
            raise problems[0]
        raise SinkConfigError(", ".join(p.sink for p in problems),
                              "; ".join(f"{p.sink}: {p.problem}" for p in problems))
    return sinks
