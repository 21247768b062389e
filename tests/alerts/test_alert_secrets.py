"""Sink settings from the environment: named when missing or malformed, never shown."""

from __future__ import annotations

import pytest
from alert_helpers import alerts_config

from threadwatch.alerts.secrets import Secret, expand, expand_url
from threadwatch.alerts.sinks import build_sinks
from threadwatch.errors import SinkConfigError

URL = "https://hooks.slack.com/services/T0/B0/t0psecret"


def test_a_reference_is_expanded_from_the_environment() -> None:
    assert expand_url("s", "${HOOK}", {"HOOK": URL}).reveal() == URL


def test_a_secret_never_prints_itself() -> None:
    secret = Secret(URL)
    assert "t0psecret" not in f"{secret} {secret!r}"


def test_an_unset_variable_names_sink_and_variable() -> None:
    with pytest.raises(SinkConfigError) as caught:
        expand("ops", "secret", "${HOOK_SECRET}", {})
    assert str(caught.value) == ("alert sink 'ops': secret: environment variable HOOK_SECRET "
                                 "is not set")


def test_a_malformed_url_is_named_but_not_shown() -> None:
    with pytest.raises(SinkConfigError) as caught:
        expand_url("ops", "${HOOK}", {"HOOK": "hooks.slack.com/t0psecret"})
    assert "t0psecret" not in str(caught.value)
    assert "'ops'" in str(caught.value)


def test_build_sinks_names_every_sink_that_cannot_be_built() -> None:
    config = alerts_config(sinks={
        "a": {"type": "slack", "url": "${A_URL}"},
        "b": {"type": "webhook", "url": "${B_URL}"},
        "c": {"type": "alertmanager", "url": "http://am:9093"}})
    with pytest.raises(SinkConfigError) as caught:
        build_sinks(config, {"B_URL": "ftp://x/t0psecret"})
    message = str(caught.value)
    assert "a: url: environment variable A_URL is not set" in message
    assert "b: url is not a valid" in message
    assert "t0psecret" not in message


def test_alertmanager_ttl_must_exceed_the_repeat_interval() -> None:
    with pytest.raises(ValueError, match="firing_ttl_seconds"):
        alerts_config(repeat_seconds=3600, sinks={
            "am": {"type": "alertmanager", "url": "x", "firing_ttl_seconds": 600}})


def test_unknown_keys_in_a_sink_table_are_refused() -> None:
    with pytest.raises(ValueError, match="extra"):
        alerts_config(sinks={"s": {"type": "slack", "url": "x", "colour": "red"}})
