"""One HTTP POST with a timeout, its outcome translated into ``DeliveryError``.

httpx exceptions name the request URL, and a webhook URL is itself the credential, so no httpx
error text is passed on and exceptions are raised ``from None``: a printed traceback must not
carry the URL either. Only the exception's class name and the receiver's status (and a short
piece of its answer) are kept.

The receiver's answer is itself a leak risk: many servers echo the request in an error page
(Express: ``Cannot POST /hooks/T0001/B0002/s3cr3tTOKEN``; others the headers, among them
``Authorization: Basic …`` made from the URL's user-info), plain or encoded, and the answer
ends up in the outbox's ``last_error``, tail's log and ``threadwatch alerts``. This is the one
place where a receiver's text enters threadwatch, so it is made safe here, before anything
stores or logs it: the start of the body (``_WINDOW_CHARS``) goes through the sink's
``Redactor`` (every form of the URL's secret parts and of the sink's other secrets, matched
before and after decoding entities, percent-encoding and base64; see ``secrets``), and only
then is it cut to ``_ANSWER_CHARS``. If a secret can still be read in it (split by spaces),
only the status and reason phrase are kept. The kept text holds no control characters.
"""

from __future__ import annotations

import email.utils
import re
import time
from collections.abc import Iterable
from http import HTTPStatus

import httpx

from threadwatch.alerts.secrets import Redactor, Secret
from threadwatch.errors import DeliveryError

USER_AGENT = "threadwatch-alerts/1"
_RETRY_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
_ANSWER_CHARS = 80
_WINDOW_CHARS = 4096  # of the body, redacted before the cut (a cut must not split a secret)
_LAST_WORD = re.compile(r"\S+\Z")


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """A ``Retry-After`` header (seconds, or an HTTP date) as seconds from now; None if absent
    or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - (time.time() if now is None else now))


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def _answer(response: httpx.Response, redactor: Redactor) -> str:
    """``: <start of the body, secrets redacted>``, or `` <reason phrase>`` when the body is
    empty or a secret can still be read in it after redaction."""
    body = response.text
    window = body[:_WINDOW_CHARS]
    if len(body) > _WINDOW_CHARS:  # its last word may be the start of a secret the cut split
        window = _LAST_WORD.sub("", window)
    text = redactor.redact(window).strip()
    reason = _reason(response.status_code)
    if text and redactor.leaks(text):
        withheld = " (answer not shown: it repeats a secret)"
        return f" {reason}{withheld}" if reason else withheld
    if not text:
        return f" {reason}" if reason else ""
    if len(text) > _ANSWER_CHARS:
        text = text[:_ANSWER_CHARS] + "…"
    return f": {text}"


class HttpPoster:
    """POSTs bodies to one URL.

    Args:
        url: the target (kept secret).
        timeout_seconds: for connecting, reading and writing each.
        verify_tls: verify HTTPS certificates (turn off only for a private test receiver).
        public_segments: path segments of ``url`` that are not secret (the sink appended them),
            so an answer that repeats them is still shown.
        secrets: the sink's other secrets (an HMAC key), redacted from answers too.
    """

    def __init__(self, url: Secret, timeout_seconds: float, verify_tls: bool,
                 public_segments: frozenset[str] = frozenset(),
                 secrets: Iterable[Secret] = ()) -> None:
        self._url = url
        self._redactor = Redactor.for_sink(url, secrets, public_segments)
        self._client = httpx.Client(timeout=timeout_seconds, verify=verify_tls,
                                    follow_redirects=False, headers={"User-Agent": USER_AGENT})

    def post(self, body: bytes, headers: dict[str, str]) -> None:
        """POST ``body``; return if the receiver answered 2xx.

        Raises:
            DeliveryError: timed out, could not connect, or a non-2xx answer.
        """
        try:
            response = self._client.post(self._url.reveal(), content=body, headers=headers)
        except httpx.TimeoutException as exc:
            raise DeliveryError(f"timed out ({type(exc).__name__})", retryable=True) from None
        except httpx.HTTPError as exc:
            raise DeliveryError(f"request failed ({type(exc).__name__})",
                                retryable=True) from None
        if response.is_success:
            return
        status = response.status_code
        raise DeliveryError(
            f"HTTP {status}{_answer(response, self._redactor)}",
            retryable=status in _RETRY_STATUS,
            retry_after=retry_after_seconds(response.headers.get("Retry-After")),
        )

    def close(self) -> None:
        self._client.close()
