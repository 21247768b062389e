"""One HTTP POST with a timeout, its outcome translated into ``DeliveryError``.

httpx exceptions name the request URL, and a webhook URL is itself the credential, so no httpx
error text is passed on and exceptions are raised ``from None``: a printed traceback must not
carry the URL either. Only the exception's class name and the receiver's status (and a short
piece of its answer) are kept.
"""

from __future__ import annotations

import email.utils
import time

import httpx

from threadwatch.alerts.secrets import Secret
from threadwatch.errors import DeliveryError

USER_AGENT = "threadwatch-alerts/1"
_RETRY_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
_ANSWER_CHARS = 80


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


def _answer(response: httpx.Response) -> str:
    text = "".join(ch for ch in response.text[:_ANSWER_CHARS] if ch.isprintable()).strip()
    return f": {text}" if text else ""


class HttpPoster:
    """POSTs bodies to one URL.

    Args:
        url: the target (kept secret).
        timeout_seconds: for connecting, reading and writing each.
        verify_tls: verify HTTPS certificates (turn off only for a private test receiver).
    """

    def __init__(self, url: Secret, timeout_seconds: float, verify_tls: bool) -> None:
        self._url = url
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
            f"HTTP {status}{_answer(response)}",
            retryable=status in _RETRY_STATUS,
            retry_after=retry_after_seconds(response.headers.get("Retry-After")),
        )

    def close(self) -> None:
        self._client.close()
