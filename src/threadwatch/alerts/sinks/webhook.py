"""A generic JSON webhook: the body is ``Notification.as_dict()`` (schema
``threadwatch.alert/v1``, documented in the README, "Webhook body").

With a secret, ``X-Threadwatch-Signature: sha256=<hex>`` is the HMAC-SHA256 of the exact body
bytes under that secret, so a receiver can check the sender (compare in constant time).
"""

from __future__ import annotations

import hashlib
import hmac
import json

from threadwatch.alerts.model import Notification
from threadwatch.alerts.secrets import Secret
from threadwatch.alerts.sinks.http import HttpPoster

SIGNATURE_HEADER = "X-Threadwatch-Signature"


def signature(secret: str, body: bytes) -> str:
    """The signature header's value for ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class WebhookSink:
    """Posts the documented JSON body to a URL.

    Args:
        url: where to post (kept secret).
        secret: HMAC key for the signature header, or None for no signature.
        timeout_seconds, verify_tls: for the request.
    """

    def __init__(self, url: Secret, secret: Secret | None = None, timeout_seconds: float = 10.0,
                 verify_tls: bool = True) -> None:
        self._poster = HttpPoster(url, timeout_seconds, verify_tls,
                                  secrets=() if secret is None else (secret,))
        self._secret = secret

    def send(self, notification: Notification) -> None:
        body = json.dumps(notification.escaped().as_dict(), sort_keys=True).encode()
        headers = {"Content-Type": "application/json"}
        if self._secret is not None:
            headers[SIGNATURE_HEADER] = signature(self._secret.reveal(), body)
        self._poster.post(body, headers)

    def close(self) -> None:
        self._poster.close()
