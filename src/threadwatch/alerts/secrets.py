"""``${VARIABLE}`` references in sink settings, expanded from the environment, and the
``Redactor`` that keeps them out of untrusted text.

The expanded value is wrapped in ``Secret``, whose ``str`` and ``repr`` hide it: a URL or key
that ends up in an f-string, a log record or a traceback shows as ``***``. Only the code that
makes the request calls ``reveal()``.

A receiver's answer is untrusted text that may repeat what it was sent: the URL (a webhook URL
is itself the credential), its user-info, which httpx sends as ``Authorization: Basic
base64(user:password)``, a token in the path. ``Redactor`` knows every form of a sink's secrets
that such an echo may take (see ``url_forms`` and ``secret_forms``) and replaces each with
``***``, in the text as received and again after each round of decoding it (HTML entities,
percent-encoding, control and invisible characters dropped); a base64 run that decodes to a
secret is replaced whole.
"""

from __future__ import annotations

import base64
import binascii
import html
import re
from collections.abc import Iterable, Iterator, Mapping
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from threadwatch.errors import SinkConfigError

_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class Secret:
    """A string that does not print itself."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The value, for the one place that needs it."""
        return self._value

    def __str__(self) -> str:
        return "***"

    def __repr__(self) -> str:
        return "Secret('***')"


def expand(sink: str, setting: str, value: str, env: Mapping[str, str]) -> Secret:
    """Replace every ``${NAME}`` in ``value`` with ``env[NAME]``.

    Raises:
        SinkConfigError: a referenced variable is unset or empty (it names the variable and
            the sink, never a value).
    """

    def lookup(match: re.Match[str]) -> str:
        name = match.group(1)
        found = env.get(name)
        if not found:
            raise SinkConfigError(sink, f"{setting}: environment variable {name} is not set")
        return found

    return Secret(_REFERENCE.sub(lookup, value))


def expand_url(sink: str, value: str, env: Mapping[str, str]) -> Secret:
    """``expand`` a URL, then check it is an absolute http(s) URL with a host.

    Raises:
        SinkConfigError: a variable is unset, or the URL is malformed (not shown).
    """
    url = expand(sink, "url", value, env)
    if not is_http_url(url.reveal()):
        raise SinkConfigError(sink, "url is not a valid http(s) URL (value not shown)")
    return url


def has_reference(value: str) -> bool:
    """Whether ``value`` holds a ``${VARIABLE}`` reference (expanded at start-up)."""
    return _REFERENCE.search(value) is not None


def is_http_url(url: str) -> bool:
    """Whether ``url`` is an absolute http(s) URL with a host (and a numeric port, if any)."""
    try:
        parts = urlsplit(url)
        valid = parts.scheme in ("http", "https") and bool(parts.hostname)
        _ = parts.port  # raises ValueError on a non-numeric port
    except ValueError:
        return False
    return valid and not any(ch.isspace() for ch in url)


REDACTED = "***"
_MIN_FORM_CHARS = 3  # shorter pieces ("v1", "a") match too much innocent text
# base64 characters, also over single spaces (a base64 text wrapped into lines, which
# ``_printable`` made spaces), so a secret split at a line end is still decoded whole
_B64_RUN = re.compile(r"[A-Za-z0-9+/_-]{4,}(?: [A-Za-z0-9+/_-]+)*=*")
_SPACES = re.compile(r"[\t\n\r\v\f]+")
_DECODE_ROUNDS = 4  # entity and percent decoding repeated (double encoding) up to this often
_B64_DEPTH = 3  # base64 inside base64 (a Basic header echoed in base64) up to this deep


def _base64_forms(value: str) -> set[str]:
    raw = value.encode()
    return {base64.b64encode(raw).decode().rstrip("="),
            base64.urlsafe_b64encode(raw).decode().rstrip("=")}


def secret_forms(value: str) -> set[str]:
    """``value`` as sent and as an echo may write it: percent-encoded, HTML-escaped (named and
    numeric entities) and base64 (standard and URL-safe alphabet, without padding)."""
    forms = {value, unquote(value), quote(value, safe=""), quote(value), html.escape(value),
             "".join(ch if ch.isalnum() else f"&#{ord(ch)};" for ch in value),
             "".join(f"&#{ord(ch)};" for ch in value)}
    forms |= _base64_forms(value)
    return forms


def url_forms(url: str, public: frozenset[str] = frozenset()) -> set[str]:
    """The secret pieces of ``url``, each in every ``secret_forms`` form: the URL, its
    user-info, ``user:password``, the password, the ``Authorization: Basic`` value built from
    them (and its base64), the path, every path segment except those in ``public`` (added by
    the sink itself, e.g. ``api/v2/alerts``), the query, its names and values, the fragment.
    The user name alone is not secret (``admin``, ``api``: matching it would hide innocent
    words).
    """
    try:
        parts = urlsplit(url)
        username, password = parts.username, parts.password
    except ValueError:
        return secret_forms(url)
    userinfo = parts.netloc.rpartition("@")[0]
    segments = [segment for segment in parts.path.split("/") if segment]
    pieces = [url, userinfo, parts.query, parts.fragment, password or ""]
    if any(segment not in public for segment in segments):
        pieces.append(parts.path)
    pieces += [segment for segment in segments if segment not in public]
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        pieces += [name, value]
    if username is not None:
        # httpx sends the user-info percent-decoded, as Basic auth
        credentials = f"{unquote(username)}:{unquote(password or '')}"
        header = "Basic " + base64.b64encode(credentials.encode()).decode()
        pieces += [credentials, header, base64.b64encode(header.encode()).decode()]
    forms: set[str] = set()
    for piece in pieces:
        for variant in {piece, unquote(piece)}:
            forms |= secret_forms(variant)
    return forms


def _printable(text: str) -> str:
    """Runs of whitespace controls as one space; other non-printable characters (controls,
    zero-width and bidi characters), which could split a secret for the matching, dropped."""
    text = _SPACES.sub(" ", text)
    return text if text.isprintable() else "".join(ch for ch in text if ch.isprintable())


def _base64_decodings(run: str) -> Iterator[str]:
    """What a base64 run may say, read from each of its 4 alignments, in both alphabets."""
    run = run.replace(" ", "").rstrip("=")
    for offset in range(4):
        chunk = run[offset:]
        if len(chunk) % 4 == 1:
            chunk = chunk[:-1]
        if len(chunk) < 4:
            return
        padded = chunk + "=" * (-len(chunk) % 4)
        # with neither alphabet's two extra characters in it, both read the run alike
        both = any(ch in padded for ch in "+/-_")
        for altchars in (b"+/", b"-_") if both else (b"+/",):
            try:
                yield base64.b64decode(padded, altchars=altchars, validate=True).decode(
                    "utf-8", "replace")
            except (binascii.Error, ValueError):
                continue


class Redactor:
    """Replaces every known form of some secrets in untrusted text with ``***``.

    Args:
        forms: the strings to find (any case); those shorter than 3 characters are left out.
    """

    def __init__(self, forms: Iterable[str]) -> None:
        kept = sorted({form.lower() for form in forms if len(form) >= _MIN_FORM_CHARS},
                      key=lambda form: (-len(form), form))  # longest first: a URL before its parts
        self._pattern = (re.compile("|".join(map(re.escape, kept)), re.IGNORECASE)
                         if kept else None)

    @classmethod
    def for_sink(cls, url: Secret, secrets: Iterable[Secret] = (),
                 public: frozenset[str] = frozenset()) -> Redactor:
        """The redactor of a sink posting to ``url`` with further ``secrets`` (an HMAC key)."""
        forms = url_forms(url.reveal(), public)
        for secret in secrets:
            forms |= secret_forms(secret.reveal())
        return cls(forms)

    def redact(self, text: str) -> str:
        """``text`` decoded (entities, percent-encoding; controls and invisible characters
        dropped, whitespace controls as spaces) with every secret form, and every base64 run
        that decodes to one, replaced by ``***``; matched before and after each decoding."""
        text = _printable(text)
        for _ in range(_DECODE_ROUNDS):
            text = self._replace(text)
            decoded = _printable(unquote(html.unescape(text)))
            if decoded == text:
                break
            text = decoded
        return self._replace(text)

    def leaks(self, text: str) -> bool:
        """Whether a secret can still be read in ``text``, also once every space is removed
        (a secret split over lines, a base64 run wrapped at 76 columns): the check to make
        before showing text that went through ``redact``."""
        squashed = "".join(_printable(text).split())
        return any(self._hides(form, _B64_DEPTH) for form in (text, squashed))

    def _replace(self, text: str) -> str:
        if self._pattern is None:
            return text
        # whole base64 runs first: a form replaced inside one would leave its padding behind
        text = _B64_RUN.sub(
            lambda run: REDACTED if self._hides_in_base64(run.group(), _B64_DEPTH) else run.group(),
            text)
        return self._pattern.sub(REDACTED, text)

    def _hides(self, text: str, depth: int) -> bool:
        if self._pattern is None:
            return False
        for _ in range(_DECODE_ROUNDS):
            if self._pattern.search(text) or any(
                    self._hides_in_base64(run, depth) for run in _B64_RUN.findall(text)):
                return True
            if "&" not in text and "%" not in text:
                return False
            decoded = _printable(unquote(html.unescape(text)))
            if decoded == text:
                return False
            text = decoded
        return False

    def _hides_in_base64(self, run: str, depth: int) -> bool:
        if depth <= 0:
            return False
        return any(self._hides(decoded, depth - 1) for decoded in _base64_decodings(run))
