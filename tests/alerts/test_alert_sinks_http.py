"""Sinks against a real local HTTP server: what they post and how answers become errors."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import socket
import time

import pytest
from alert_helpers import TricklingReceiver
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from threadwatch.alerts.checks import sample_notification
from threadwatch.alerts.model import Notification
from threadwatch.alerts.secrets import Secret
from threadwatch.alerts.sinks import AlertmanagerSink, SlackSink, WebhookSink
from threadwatch.alerts.sinks.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER
from threadwatch.errors import DeliveryError

NOW = 1_800_000_000.0
SECRET_PATH = "/services/T000/B000/s3cr3tt0k3n"


def _notification() -> Notification:
    return sample_notification(NOW, "host-1")


def test_slack_sink_posts_text_and_attachments(httpserver: HTTPServer) -> None:
    httpserver.expect_oneshot_request(SECRET_PATH, method="POST").respond_with_data("ok")
    sink = SlackSink(Secret(httpserver.url_for(SECRET_PATH)))
    try:
        sink.send(_notification())
    finally:
        sink.close()
    body = json.loads(httpserver.log[0][0].get_data())
    assert body["text"].startswith(":large_yellow_circle: TEST:")
    assert body["attachments"][0]["color"] == "#e8a33c"


def test_slack_sink_escapes_log_text_so_nobody_is_pinged(httpserver: HTTPServer) -> None:
    httpserver.expect_oneshot_request(SECRET_PATH).respond_with_data("ok")
    sink = SlackSink(Secret(httpserver.url_for(SECRET_PATH)))
    try:
        sink.send(_notification())
    finally:
        sink.close()
    raw = httpserver.log[0][0].get_data(as_text=True)
    assert "<!channel>" not in raw
    assert "&lt;!channel&gt; &amp; co" in raw


def test_slack_sink_keeps_a_hostile_log_line_inside_its_code_block(
        httpserver: HTTPServer) -> None:
    httpserver.expect_oneshot_request(SECRET_PATH, method="POST").respond_with_data("ok")
    notification = _notification()
    line = "run_batt.py:1: done ```` *pwned* <http://evil.example|click> `````` \x1b[2J end"
    alert = dataclasses.replace(notification.alerts[0], samples=(line,))
    sink = SlackSink(Secret(httpserver.url_for(SECRET_PATH)))
    try:
        sink.send(dataclasses.replace(notification, alerts=(alert,)))
    finally:
        sink.close()
    body = json.loads(httpserver.log[0][0].get_data())
    [code] = [block["text"]["text"] for block in body["attachments"][0]["blocks"]
              if block.get("text", {}).get("text", "").startswith("```")]
    # Slack ends a code block at any three backticks: only the two fences may hold any
    assert code.startswith("```\n") and code.endswith("\n```"), code
    assert "``" not in code[3:-3], code
    assert "<http" not in code and "\x1b" not in code, code
    assert code.replace("\u200b", "") == (
        "```\nrun_batt.py:1: done ```` *pwned* &lt;http://evil.example|click&gt; `````` "
        "\\x1b[2J end\n```")


def test_webhook_body_is_the_documented_schema_and_signed(httpserver: HTTPServer) -> None:
    httpserver.expect_oneshot_request("/hook").respond_with_data("")
    sink = WebhookSink(Secret(httpserver.url_for("/hook")), Secret("k3y"), clock=lambda: NOW)
    try:
        sink.send(_notification())
    finally:
        sink.close()
    request = httpserver.log[0][0]
    raw = request.get_data()
    assert request.headers[TIMESTAMP_HEADER] == str(int(NOW))
    signed = f"{int(NOW)}.".encode() + raw
    expected = "v1=" + hmac.new(b"k3y", signed, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(request.headers[SIGNATURE_HEADER], expected)
    body = json.loads(raw)
    assert (body["schema"], body["status"], body["host"]) == ("threadwatch.alert/v2", "firing",
                                                             "host-1")
    alert = body["alerts"][0]
    assert {"key", "status", "level", "scope", "reasons", "samples", "starts_at",
            "ends_at"} <= alert.keys()


def test_webhook_without_secret_sends_no_signature(httpserver: HTTPServer) -> None:
    httpserver.expect_oneshot_request("/hook").respond_with_data("")
    sink = WebhookSink(Secret(httpserver.url_for("/hook")))
    try:
        sink.send(_notification())
    finally:
        sink.close()
    assert SIGNATURE_HEADER not in httpserver.log[0][0].headers
    assert TIMESTAMP_HEADER not in httpserver.log[0][0].headers


def test_webhook_texts_carry_no_control_characters(httpserver: HTTPServer) -> None:
    httpserver.expect_oneshot_request("/hook").respond_with_data("")
    notification = _notification()
    hostile = "/logs/a.log\nthreadwatch: all clear\u202e\x1b[2J"
    alert = dataclasses.replace(notification.alerts[0], scope=hostile, summary=hostile,
                                samples=("line one \x1b[31m\n\tline two",))
    sink = WebhookSink(Secret(httpserver.url_for("/hook")))
    try:
        sink.send(dataclasses.replace(notification, alerts=(alert,), host="h\x07"))
    finally:
        sink.close()
    body = json.loads(httpserver.log[0][0].get_data())
    sent = body["alerts"][0]
    shown = r"/logs/a.log\nthreadwatch: all clear\u202e\x1b[2J"
    assert (sent["scope"], sent["summary"], body["host"]) == (shown, shown, r"h\x07")
    assert sent["samples"] == ["line one \\x1b[31m\n\tline two"]  # a block keeps its lines


def _send_expecting_error(url: str, timeout: float = 5.0) -> DeliveryError:
    sink = WebhookSink(Secret(url), timeout_seconds=timeout)
    try:
        with pytest.raises(DeliveryError) as caught:
            sink.send(_notification())
    finally:
        sink.close()
    return caught.value


def test_http_500_is_a_retryable_error(httpserver: HTTPServer) -> None:
    httpserver.expect_oneshot_request(SECRET_PATH).respond_with_data("down", status=500)
    error = _send_expecting_error(httpserver.url_for(SECRET_PATH))
    assert (error.retryable, error.problem) == (True, "HTTP 500: down")


def test_http_429_carries_retry_after(httpserver: HTTPServer) -> None:
    httpserver.expect_oneshot_request(SECRET_PATH).respond_with_data(
        "slow down", status=429, headers={"Retry-After": "17"})
    error = _send_expecting_error(httpserver.url_for(SECRET_PATH))
    assert (error.retryable, error.retry_after) == (True, 17.0)


def test_http_404_is_not_retryable(httpserver: HTTPServer) -> None:
    httpserver.expect_oneshot_request(SECRET_PATH).respond_with_data("no_service", status=404)
    assert _send_expecting_error(httpserver.url_for(SECRET_PATH)).retryable is False


def test_a_slow_receiver_times_out_without_naming_the_url(httpserver: HTTPServer) -> None:
    def slow(request: Request) -> Response:
        time.sleep(1.0)
        return Response("late")

    httpserver.expect_oneshot_request(SECRET_PATH).respond_with_handler(slow)
    error = _send_expecting_error(httpserver.url_for(SECRET_PATH), timeout=0.2)
    assert error.retryable
    assert "timed out" in error.problem
    assert "s3cr3t" not in str(error)
    assert error.__cause__ is None and error.__suppress_context__


def test_a_refused_connection_is_retryable_and_hides_the_url() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    error = _send_expecting_error(f"http://127.0.0.1:{port}{SECRET_PATH}")
    assert error.retryable
    assert "s3cr3t" not in str(error) and str(port) not in str(error)


ECHOED = "/hooks/T0001/B0002/s3cr3tTOKEN"


@pytest.mark.parametrize(("body", "kept"), [
    (f"Cannot POST {ECHOED}", "Cannot POST ***"),                         # Express
    ("<pre>Cannot POST /hooks/T0001/B0002/S3CR3Ttoken</pre>",             # any case
     "<pre>Cannot POST ***</pre>"),
    ("no route for s3cr3t%54OKEN", "no route for ***"),                   # percent-encoded
    ("error: unknown token s3cr3tTOKEN", "error: unknown token ***"),     # one segment alone
    ("no hook s3cr3t&#84;OKEN", "no hook ***"),                           # an HTML entity
])
def test_an_answer_that_echoes_the_url_path_is_redacted(httpserver: HTTPServer, body: str,
                                                        kept: str) -> None:
    httpserver.expect_oneshot_request(ECHOED).respond_with_data(body, status=404)
    error = _send_expecting_error(httpserver.url_for(ECHOED))
    assert error.problem == f"HTTP 404: {kept}"
    assert "s3cr3t" not in str(error).lower()
    assert not error.retryable


def test_an_answer_that_echoes_a_query_value_is_redacted(httpserver: HTTPServer) -> None:
    httpserver.expect_oneshot_request("/hook").respond_with_data(
        "bad token=t0psecretvalue", status=401)
    error = _send_expecting_error(httpserver.url_for("/hook") + "?token=t0psecretvalue")
    assert error.problem == "HTTP 401: bad ***"


def test_an_answer_that_splits_a_secret_over_lines_is_not_shown(httpserver: HTTPServer) -> None:
    httpserver.expect_oneshot_request(ECHOED).respond_with_data(
        "no hook s3cr3t\nTOKEN", status=404)
    error = _send_expecting_error(httpserver.url_for(ECHOED))
    assert error.problem == "HTTP 404 Not Found (answer not shown: it repeats a secret)"


def test_a_long_answer_is_cut_after_redaction(httpserver: HTTPServer) -> None:
    httpserver.expect_oneshot_request(ECHOED).respond_with_data(
        "x" * 70 + " s3cr3tTOKEN " + "yyy " * 5_000, status=500)
    error = _send_expecting_error(httpserver.url_for(ECHOED))
    assert error.problem == "HTTP 500: " + "x" * 70 + " *** yyy y…"


def test_the_last_word_of_an_answer_longer_than_the_window_is_dropped(
        httpserver: HTTPServer) -> None:
    # the cut at the window may split a secret; what is left of it must not show
    httpserver.expect_oneshot_request(ECHOED).respond_with_data(
        "no route for " + "s3cr3tTOKEN" * 1_000, status=404)
    error = _send_expecting_error(httpserver.url_for(ECHOED))
    assert error.problem == "HTTP 404: no route for"


def test_an_empty_answer_keeps_the_reason_phrase(httpserver: HTTPServer) -> None:
    httpserver.expect_oneshot_request(ECHOED).respond_with_data("", status=403)
    assert _send_expecting_error(httpserver.url_for(ECHOED)).problem == "HTTP 403 Forbidden"


def test_an_answer_split_by_control_characters_is_still_caught(httpserver: HTTPServer) -> None:
    httpserver.expect_oneshot_request(ECHOED).respond_with_data(
        "no hook s3cr3t\x00TOKEN", status=404)
    error = _send_expecting_error(httpserver.url_for(ECHOED))
    assert "s3cr3t" not in str(error).lower()


def test_an_alertmanager_answer_naming_its_api_path_is_shown(httpserver: HTTPServer) -> None:
    httpserver.expect_oneshot_request("/base/api/v2/alerts").respond_with_data(
        "bad request: alerts must have labels", status=400)
    sink = AlertmanagerSink(Secret(httpserver.url_for("/base")))
    try:
        with pytest.raises(DeliveryError) as caught:
            sink.send(_notification())
    finally:
        sink.close()
    assert caught.value.problem == "HTTP 400: bad request: alerts must have labels"


def test_a_receiver_trickling_its_answer_is_cut_at_the_total_deadline() -> None:
    # every byte comes well within the per-read timeout; the whole answer never does
    with TricklingReceiver(interval=0.1, give_up_seconds=10) as receiver:
        sink = WebhookSink(Secret(receiver.url(SECRET_PATH)), timeout_seconds=1.0)
        started = time.monotonic()
        try:
            with pytest.raises(DeliveryError) as caught:
                sink.send(_notification())
        finally:
            sink.close()
        elapsed = time.monotonic() - started
    assert receiver.requests == 1
    assert elapsed < 2.0, elapsed
    assert caught.value.retryable
    assert caught.value.problem == "timed out: no complete answer within 1 s (deadline)"
    assert "s3cr3t" not in str(caught.value)
