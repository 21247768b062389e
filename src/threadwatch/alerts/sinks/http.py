"""One HTTP POST within a total deadline, its outcome translated into ``DeliveryError``.

The request is made with httpcore (below httpx) so that a network backend can bound all of it
by one deadline (``deadline.py``); httpx's ``Response`` reads the answer's status, headers and
text.

HTTP exceptions name the request URL, and a webhook URL is itself the credential, so no
exception text is passed on and exceptions are raised ``from None``: a printed traceback must not
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

import base64
import email.utils
import re
import time
import urllib.request
from collections.abc import Iterable
from http import HTTPStatus
from urllib.parse import SplitResult, unquote, urlsplit, urlunsplit

import httpcore
import httpx

from threadwatch.alerts.secrets import Redactor, Secret
from threadwatch.alerts.sinks.deadline import Deadline, DeadlineBackend
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


_ANSWER_BYTES = 65536  # of an answer's body read at most (only its start is ever shown)
# Every failure httpcore raises for a request (its exceptions have no common base).
_REQUEST_ERRORS = (httpcore.TimeoutException, httpcore.NetworkError, httpcore.ProtocolError,
                   httpcore.ProxyError, httpcore.UnsupportedProtocol)


def _environment_proxy(url: SplitResult) -> tuple[str, tuple[str, str] | None] | None:
    """The proxy ``HTTP_PROXY``/``HTTPS_PROXY``/``ALL_PROXY`` name for ``url`` unless
    ``NO_PROXY`` exempts it (what httpx does by default), with its user-info as credentials.

    Raises:
        ValueError: the proxy is not an http(s) proxy.
    """
    proxies = urllib.request.getproxies_environment()
    proxy = proxies.get(url.scheme) or proxies.get("all")
    if not proxy or urllib.request.proxy_bypass(url.netloc.rpartition("@")[2]):
        return None
    parts = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"the {parts.scheme} proxy from the environment is not supported")
    auth = None
    if parts.username is not None:
        auth = (unquote(parts.username), unquote(parts.password or ""))
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2])), auth


class HttpPoster:
    """POSTs bodies to one URL, one request at a time, each bounded by a total deadline.

    Args:
        url: the target (kept secret). User-info in it (``https://user:pass@host/``) is sent as
            HTTP Basic authentication. ``HTTP(S)_PROXY``/``NO_PROXY`` are honoured.
        timeout_seconds: the whole request, from connecting to the last byte of the answer
            (see ``deadline.py``).
        verify_tls: verify HTTPS certificates (turn off only for a private test receiver).
        public_segments: path segments of ``url`` that are not secret (the sink appended them),
            so an answer that repeats them is still shown.
        secrets: the sink's other secrets (an HMAC key), redacted from answers too.

    Raises:
        ValueError: the environment names an unsupported (non-http) proxy.
    """

    def __init__(self, url: Secret, timeout_seconds: float, verify_tls: bool,
                 public_segments: frozenset[str] = frozenset(),
                 secrets: Iterable[Secret] = ()) -> None:
        self._redactor = Redactor.for_sink(url, secrets, public_segments)
        self._timeout = timeout_seconds
        parts = urlsplit(url.reveal())
        self._auth: dict[str, str] = {}
        if parts.username is not None:
            pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
            self._auth["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
        self._target = Secret(urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2])))
        self._deadline = Deadline()
        proxy = _environment_proxy(parts)
        ssl_context = httpx.create_ssl_context(verify=verify_tls)
        backend = DeadlineBackend(self._deadline)
        self._pool: httpcore.ConnectionPool
        if proxy is None:
            self._pool = httpcore.ConnectionPool(ssl_context=ssl_context,
                                                 network_backend=backend)
        else:
            self._pool = httpcore.HTTPProxy(proxy_url=proxy[0], proxy_auth=proxy[1],
                                            ssl_context=ssl_context, network_backend=backend)

    def post(self, body: bytes, headers: dict[str, str]) -> None:
        """POST ``body``; return if the receiver answered 2xx, all within the deadline.

        Raises:
            DeliveryError: the deadline passed, timed out, could not connect, or a non-2xx
                answer.
        """
        sent = {"User-Agent": USER_AGENT, **self._auth, **headers,
                "Content-Length": str(len(body))}
        timeouts = dict.fromkeys(("connect", "read", "write", "pool"), self._timeout)
        self._deadline.start(self._timeout)
        try:
            with self._pool.stream("POST", self._target.reveal(), headers=list(sent.items()),
                                   content=body, extensions={"timeout": timeouts}) as answer:
                start = bytearray()
                for chunk in answer.iter_stream():
                    start += chunk
                    if len(start) >= _ANSWER_BYTES:
                        break  # closing an unread answer closes its connection
                response = httpx.Response(answer.status, headers=answer.headers,
                                          content=bytes(start))
        except _REQUEST_ERRORS as exc:
            if self._deadline.passed:
                problem = f"timed out: no complete answer within {self._timeout:g} s (deadline)"
            elif isinstance(exc, httpcore.TimeoutException):
                problem = f"timed out ({type(exc).__name__})"
            else:
                problem = f"request failed ({type(exc).__name__})"
            raise DeliveryError(problem, retryable=True) from None
        finally:
            self._deadline.clear()
        if response.is_success:
            return
        status = response.status_code
        raise DeliveryError(
            f"HTTP {status}{_answer(response, self._redactor)}",
            retryable=status in _RETRY_STATUS,
            retry_after=retry_after_seconds(response.headers.get("Retry-After")),
        )

    def close(self) -> None:
        self._pool.close()
