"""Sink settings from the environment: named when missing or malformed, never shown; every
form of them redacted from a receiver's answer."""

from __future__ import annotations

import base64
import html
from urllib.parse import quote

import pytest
from alert_helpers import alerts_config

from threadwatch.alerts.secrets import Redactor, Secret, expand, expand_url
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
            "am": {"type": "alertmanager", "url": "http://am:9093", "firing_ttl_seconds": 600}})


def test_unknown_keys_in_a_sink_table_are_refused() -> None:
    with pytest.raises(ValueError, match="extra"):
        alerts_config(sinks={"s": {"type": "slack", "url": "${URL}", "colour": "red"}})


USER, PASSWORD, TOKEN = "ops", "pa:ss&w<rd>", "XoXbT0k3nAbc"
SINK_URL = f"https://{USER}:{quote(PASSWORD, safe='')}@hooks.example.com/services/T0001/{TOKEN}"
BASIC = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
HMAC = "hm4c-k3y-value"


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _redactor() -> Redactor:
    return Redactor.for_sink(Secret(SINK_URL), [Secret(HMAC)])


@pytest.mark.parametrize("echo", [
    SINK_URL,                                                   # the URL
    f"{USER}:{quote(PASSWORD, safe='')}",                       # its user-info as written
    f"{USER}:{PASSWORD}",                                       # user:password
    PASSWORD,                                                   # the password alone
    BASIC,                                                      # the Authorization header
    _b64(f"{USER}:{PASSWORD}"),                                 # base64 of user:password
    _b64(BASIC),                                                # base64 of the header
    _b64(f"Authorization: {BASIC}\r\nHost: x\r\n"),             # base64 of a whole request
    base64.urlsafe_b64encode(f"{USER}:{PASSWORD}".encode()).decode(),
    html.escape(f"{USER}:{PASSWORD}").replace(":", "&#58;"),    # HTML entities
    "".join(f"&#x{ord(ch):x};" for ch in PASSWORD),             # hexadecimal entities
    quote(quote(PASSWORD, safe=""), safe=""),                   # percent-encoded twice
    html.escape(quote(PASSWORD, safe="")),                      # both at once
    _b64(html.escape(PASSWORD)),                                # base64 of entities
    TOKEN, TOKEN.lower(), "T0001", quote(f"/services/T0001/{TOKEN}", safe=""),  # path parts
    HMAC,                                                       # the webhook's HMAC key
    f"{PASSWORD[:4]}\x00\u200b{PASSWORD[4:]}",                  # split by invisibles
])
def test_every_form_of_a_secret_is_redacted(echo: str) -> None:
    redactor = _redactor()
    shown = redactor.redact(f"error: got ({echo}), try again")
    assert shown.startswith("error: got (") and shown.endswith("), try again"), shown
    assert "***" in shown
    assert not redactor.leaks(shown)
    for secret in (PASSWORD, TOKEN, HMAC, _b64(f"{USER}:{PASSWORD}")[:16]):
        assert secret.lower() not in shown.lower(), shown


def test_text_without_secrets_is_kept() -> None:
    text = "503 service unavailable: upstream timed out, retry later (hooks.example.com)"
    assert _redactor().redact(text) == text


def test_the_parts_a_sink_appends_itself_are_not_secret() -> None:
    redactor = Redactor.for_sink(Secret("http://am.example:9093/api/v2/alerts"),
                                 public=frozenset({"api", "v2", "alerts"}))
    assert redactor.redact("bad request: alerts need labels (POST /api/v2/alerts)") == (
        "bad request: alerts need labels (POST /api/v2/alerts)")


def test_a_base64_text_wrapped_into_lines_is_redacted_whole() -> None:
    wrapped = _b64("x" * 50 + f"{USER}:{PASSWORD}" + "y" * 50)
    mime = "\n".join(wrapped[i:i + 76] for i in range(0, len(wrapped), 76))  # MIME lines
    assert _redactor().redact(f"echo: {mime}.") == "echo: ***."


def test_a_secret_split_over_lines_is_found_by_leaks() -> None:
    redactor = _redactor()
    shown = redactor.redact(f"no user {USER}:{PASSWORD[:5]}\n{PASSWORD[5:]}")
    assert PASSWORD[5:] in shown  # no form matches either half...
    assert redactor.leaks(shown)  # ...but the text must not be shown


def test_short_pieces_are_not_matched_alone() -> None:
    redactor = Redactor.for_sink(Secret("http://a:pw@host.example/v1/hook-token"))
    assert redactor.redact("v1 of the API refused a:pw") == "v1 of the API refused ***"
