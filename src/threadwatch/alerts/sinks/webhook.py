"""A generic JSON webhook: the body is ``Notification.as_dict()`` (schema
``threadwatch.alert/v2``, documented in the README, "Webhook body").

With a secret, each attempt is signed the way Slack and Stripe sign theirs, so a captured
request cannot be replayed later:

    X-Threadwatch-Timestamp: <unix seconds of this attempt>
    X-Threadwatch-Signature: v1=<hex HMAC-SHA256 of "<timestamp>." + body, under the secret>

A receiver recomputes the signature, compares it in constant time and rejects timestamps more
than 5 minutes away from its clock (README: "Verifying the signature"). Retries are signed
anew (a fresh timestamp); the body, and with it the notification's ``id``, stays the same,
so a receiver drops a retry it already has by ``id``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable, Mapping
from typing import Literal

from pydantic import field_validator

from threadwatch.alerts.model import Notification
from threadwatch.alerts.secrets import Secret, expand
from threadwatch.alerts.sinks.http import HttpPoster
from threadwatch.alerts.sinks.registry import SinkSettings, register_sink

SIGNATURE_HEADER = "X-Threadwatch-Signature"
TIMESTAMP_HEADER = "X-Threadwatch-Timestamp"
SIGNATURE_VERSION = "v1"


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """The signature header's value for ``body`` sent at ``timestamp`` (unix seconds)."""
    signed = timestamp.encode() + b"." + body
    return f"{SIGNATURE_VERSION}=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


class WebhookSinkConfig(SinkSettings):
    """A generic JSON webhook; ``secret`` (optional) signs the body with HMAC-SHA256."""

    type: Literal["webhook"]
    secret: str | None = None

    @field_validator("secret")
    @classmethod
    def _secret_not_empty(cls, secret: str | None) -> str | None:
        # an empty key would sign every body with a signature anyone can make
        if secret is not None and not secret.strip():
            raise ValueError("empty: give a value (\"${VARIABLE}\"), or remove the key to send "
                             "unsigned")
        return secret


class WebhookSink:
    """Posts the documented JSON body to a URL.

    Args:
        url: where to post (kept secret).
        secret: HMAC key for the signature headers, or None for no signature.
        timeout_seconds, verify_tls: for the request.
        clock: the current time, seconds since the epoch (the signed timestamp).

    Raises:
        ValueError: ``secret`` is empty (an HMAC under an empty key proves nothing).
    """

    def __init__(self, url: Secret, secret: Secret | None = None, timeout_seconds: float = 10.0,
                 verify_tls: bool = True, clock: Callable[[], float] = time.time) -> None:
        if secret is not None and not secret.reveal():
            raise ValueError("secret is empty: set one, or leave it out to send unsigned")
        self._poster = HttpPoster(url, timeout_seconds, verify_tls,
                                  secrets=() if secret is None else (secret,))
        self._secret = secret
        self._clock = clock

    def send(self, notification: Notification) -> None:
        body = json.dumps(notification.escaped().as_dict(), sort_keys=True).encode()
        headers = {"Content-Type": "application/json"}
        if self._secret is not None:
            timestamp = str(int(self._clock()))
            headers[TIMESTAMP_HEADER] = timestamp
            headers[SIGNATURE_HEADER] = signature(self._secret.reveal(), timestamp, body)
        self._poster.post(body, headers)

    def close(self) -> None:
        self._poster.close()


def _build(name: str, settings: WebhookSinkConfig, url: Secret,
           env: Mapping[str, str]) -> WebhookSink:
    secret = None if settings.secret is None else expand(name, "secret", settings.secret, env)
    return WebhookSink(url, secret, settings.timeout_seconds, settings.verify_tls)


register_sink(WebhookSinkConfig, _build)
