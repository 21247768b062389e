"""The webhook signature (``timestamp.body``, Slack/Stripe style) checked by the README's own
verification snippet against real requests captured by a real receiver."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request

from threadwatch.alerts.checks import sample_notification
from threadwatch.alerts.secrets import Secret
from threadwatch.alerts.sinks import WebhookSink, build_sink
from threadwatch.alerts.sinks.webhook import WebhookSinkConfig
from threadwatch.errors import SinkConfigError

README = Path(__file__).parents[2] / "README.md"
SECRET = "whsec-7f3a9c"

Verify = Callable[..., bool]


@pytest.fixture(scope="module")
def verify() -> Verify:
    """``threadwatch_request_is_valid`` exactly as the README shows it."""
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.DOTALL)
    [snippet] = [b for b in blocks if "def threadwatch_request_is_valid" in b]
    namespace: dict[str, Any] = {}
    exec(compile(snippet, "README.md", "exec"), namespace)  # as a reader would paste it
    function: Verify = namespace["threadwatch_request_is_valid"]
    return function


def _captured(httpserver: HTTPServer, at: float | None = None) -> Request:
    """One request the webhook sink sent (signed at ``at``, default now), as received."""
    httpserver.expect_oneshot_request("/hook").respond_with_data("ok")
    clock = time.time if at is None else (lambda: at)
    sink = WebhookSink(Secret(httpserver.url_for("/hook")), Secret(SECRET), clock=clock)
    try:
        sink.send(sample_notification(time.time(), "sig-host"))
    finally:
        sink.close()
    request: Request = httpserver.log[-1][0]
    return request


def test_the_readme_snippet_accepts_a_real_signed_request(httpserver: HTTPServer,
                                                         verify: Verify) -> None:
    request = _captured(httpserver)
    assert request.headers["X-Threadwatch-Signature"].startswith("v1=")
    assert verify(SECRET.encode(), request.headers, request.get_data())


def test_a_replay_after_five_minutes_is_refused(httpserver: HTTPServer, verify: Verify) -> None:
    request = _captured(httpserver)
    sent = int(request.headers["X-Threadwatch-Timestamp"])
    assert verify(SECRET.encode(), request.headers, request.get_data(), now=sent + 299)
    assert not verify(SECRET.encode(), request.headers, request.get_data(), now=sent + 301)


def test_a_fresh_timestamp_on_a_captured_request_is_refused(httpserver: HTTPServer,
                                                            verify: Verify) -> None:
    request = _captured(httpserver, at=time.time() - 3600)  # captured an hour ago
    forged = dict(request.headers)
    forged["X-Threadwatch-Timestamp"] = str(int(time.time()))
    assert not verify(SECRET.encode(), forged, request.get_data())


def test_a_changed_body_or_another_secret_is_refused(httpserver: HTTPServer,
                                                     verify: Verify) -> None:
    request = _captured(httpserver)
    body = request.get_data()
    assert not verify(SECRET.encode(), request.headers, body.replace(b"sig-host", b"sig-hosT"))
    assert not verify(b"another-secret", request.headers, body)
    assert not verify(SECRET.encode(), {}, body)


def test_each_attempt_is_signed_at_its_own_time(httpserver: HTTPServer, verify: Verify) -> None:
    first = _captured(httpserver, at=time.time() - 600)
    second = _captured(httpserver)
    assert first.headers["X-Threadwatch-Timestamp"] != second.headers["X-Threadwatch-Timestamp"]
    assert not verify(SECRET.encode(), first.headers, first.get_data())
    assert verify(SECRET.encode(), second.headers, second.get_data())


def test_an_empty_secret_is_refused_when_the_sink_is_built() -> None:
    with pytest.raises(ValueError, match="secret is empty"):
        WebhookSink(Secret("http://127.0.0.1:9/hook"), Secret(""))
    # the config refuses it first; a settings object made without validation still cannot
    # build a sink that signs with an empty key
    settings = WebhookSinkConfig.model_construct(
        type="webhook", url="${HOOK}", secret="", timeout_seconds=10.0, verify_tls=True,
        min_interval_seconds=0.0)
    with pytest.raises(SinkConfigError, match=r"alert sink 'ops': secret is empty"):
        build_sink("ops", settings, {"HOOK": "http://127.0.0.1:9/hook"})
