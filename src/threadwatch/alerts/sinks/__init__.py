"""Sinks: one small class per receiver behind the ``Sink`` protocol, built from the config."""

from __future__ import annotations

from collections.abc import Mapping

from threadwatch.alerts.secrets import Secret, expand, expand_url
from threadwatch.alerts.settings import (
    AlertmanagerSinkConfig,
    AlertsConfig,
    SinkConfig,
    SlackSinkConfig,
    WebhookSinkConfig,
)
from threadwatch.alerts.sinks.alertmanager import AlertmanagerSink
from threadwatch.alerts.sinks.base import Sink
from threadwatch.alerts.sinks.slack import SlackSink
from threadwatch.alerts.sinks.webhook import WebhookSink
from threadwatch.errors import SinkConfigError

__all__ = ["AlertmanagerSink", "Sink", "SlackSink", "WebhookSink", "build_sink", "build_sinks"]


def build_sink(name: str, settings: SinkConfig, env: Mapping[str, str]) -> Sink:
    """One sink from its config table, with ``${VARIABLES}`` expanded from ``env``.

    Raises:
        SinkConfigError: a variable is unset, the URL is malformed, or the sink refuses a
            setting (an empty webhook secret).
    """
    url = expand_url(name, settings.url, env)
    try:
        return _make_sink(name, settings, url, env)
    except ValueError as exc:  # an empty secret, an unsupported proxy: said by the sink
        raise SinkConfigError(name, str(exc)) from exc


def _make_sink(name: str, settings: SinkConfig, url: Secret, env: Mapping[str, str]) -> Sink:
    if isinstance(settings, SlackSinkConfig):
        return SlackSink(url, settings.timeout_seconds, settings.verify_tls,
                         settings.max_text_chars)
    if isinstance(settings, WebhookSinkConfig):
        secret = None if settings.secret is None else expand(name, "secret", settings.secret, env)
        return WebhookSink(url, secret, settings.timeout_seconds, settings.verify_tls)
    if isinstance(settings, AlertmanagerSinkConfig):
        return AlertmanagerSink(url, settings.firing_ttl_seconds, settings.timeout_seconds,
                                settings.verify_tls)
    raise AssertionError(f"unhandled sink type {type(settings).__name__}")


def build_sinks(config: AlertsConfig, env: Mapping[str, str]) -> dict[str, Sink]:
    """Every configured sink, by name.

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
