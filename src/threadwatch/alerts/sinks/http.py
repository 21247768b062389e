"""One HTTP POST with a timeout, its outcome translated into ``DeliveryError``.

httpx exceptions name the request URL, and a webhook URL is itself the credential, so no httpx
error text is passed on and exceptions are raised ``from None``: a printed traceback must not
carry the URL either. Only the exception's class name and the receiver's status (and a short
piece of its answer) are kept.

The receiver's answer is itself a leak risk: many servers echo the request path in an error
page (Express: ``Cannot POST /hooks/T0001/B0002/s3cr3tTOKEN``), and the answer ends up in the
outbox's ``last_error``, tail's log and ``threadwatch alerts``. So a non-2xx answer keeps its
status code, and its first characters only when they contain no part of the URL that may be
secret (its path, any path segment of 3 or more characters except those the sink appended
itself, such as Alertmanager's ``api/v2/alerts``, user-info, query names and values, fragment;
compared case-insensitively, raw, percent-decoded and without control characters). Otherwise
only the status and reason phrase are kept.
"""

from __future__ import annotations

import email.utils
import time
from http import HTTPStatus
from urllib.parse import parse_qsl, unquote, urlsplit

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


_MIN_FRAGMENT_CHARS = 3  # shorter URL parts ("v1", "a") match too much innocent text


def _url_fragments(url: str, public: frozenset[str] = frozenset()) -> set[str]:
    """The parts of ``url`` that may be secret, lower-cased, raw and percent-decoded; path
    segments in ``public`` (added by the sink itself, e.g. ``api/v2/alerts``) are left out."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return {url.lower()}
    pieces = [url, parts.path, parts.query, parts.fragment, parts.netloc.rpartition("@")[0]]
    pieces += [segment for segment in parts.path.split("/") if segment not in public]
    pieces += [parts.username or "", parts.password or ""]
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        pieces += [name, value]
    found: set[str] = set()
    for piece in pieces:
        for form in (piece, unquote(piece)):
            lowered = form.strip().lower()
            if len(lowered) >= _MIN_FRAGMENT_CHARS:
                found.add(lowered)
    return found


def _printable(text: str) -> str:
    return "".join(ch for ch in text if ch.isprintable())


def _answer(response: httpx.Response, url: str, public: frozenset[str] = frozenset()) -> str:
    """``: <start of the body>`` if it repeats no part of ``url``, else `` <reason phrase>``."""
    text = _printable(response.text[:_ANSWER_CHARS]).strip()
    # more than the kept start is checked (the cut may split a secret in two), also as kept
    # (without control characters, which could otherwise split a secret for the check)
    whole = response.text[:_ANSWER_CHARS + 4096]
    forms = {form.lower() for form in (whole, unquote(whole), _printable(whole))}
    fragments = _url_fragments(url, public)
    if text and not any(fragment in form for fragment in fragments for form in forms):
        return f": {text}"
    try:
        reason = HTTPStatus(response.status_code).phrase
    except ValueError:
        reason = ""
    withheld = " (answer not shown: it repeats part of the URL)" if text else ""
    return f" {reason}{withheld}" if reason else withheld


class HttpPoster:
    """POSTs bodies to one URL.

    Args:
        url: the target (kept secret).
        timeout_seconds: for connecting, reading and writing each.
        verify_tls: verify HTTPS certificates (turn off only for a private test receiver).
        public_segments: path segments of ``url`` that are not secret (the sink appended them),
            so an answer that repeats them is still shown.
    """

    def __init__(self, url: Secret, timeout_seconds: float, verify_tls: bool,
                 public_segments: frozenset[str] = frozenset()) -> None:
        self._url = url
        self._public = public_segments
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
            f"HTTP {status}{_answer(response, self._url.reveal(), self._public)}",
            retryable=status in _RETRY_STATUS,
            retry_after=retry_after_seconds(response.headers.get("Retry-After")),
        )

    def close(self) -> None:
        self._client.close()
