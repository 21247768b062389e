"""Slack incoming webhooks: a ``text`` fallback plus one coloured attachment of blocks per alert.

Every piece of text that comes from logs, file names or the config is untrusted, and goes
through one of three escapes, by where it lands in Slack's mrkdwn:

* ``plain`` (outside code): ``&``, ``<``, ``>`` as entities, so ``<!channel>``, ``<@U123>``
  and ``<http://x|label>`` show as text and ping or hide nothing. Slack has no escape for its
  formatting characters, so asterisk, tilde and backtick are replaced by look-alikes (U+2217
  asterisk operator, U+223C tilde operator, U+02CB modifier letter grave accent), and so is
  the underscore (U+02CD modifier letter low macron) unless it stands between two letters or
  digits, where Slack never reads it as italics (``tmp_batt_x_run.log`` stays as it is).
* ``inline_code`` (a span in single backticks): entities; a backtick would end the span, so
  it becomes U+02CB.
* ``code_block`` (triple-backtick fences): entities; backticks cannot be escaped in a block,
  and any run of three ends it, so a zero-width space goes between every two adjacent
  backticks. A single backtick, by far the common case in log text, stays the real character
  (copied text still matches the log); a run stays visibly a run of backticks.

All three also write control and bidi characters as visible escapes (``text.safe_text``; a
code block keeps its newlines and tabs). Link previews are off (``unfurl_links``), so a URL in
a log line makes Slack fetch nothing. Long text is cut with a note saying how much was cut.
"""

from __future__ import annotations

import json
import re
from typing import Any, Literal

from pydantic import Field

from threadwatch.alerts.model import Alert, Notification, Status, Transition, iso_time
from threadwatch.alerts.secrets import Secret
from threadwatch.alerts.sinks.http import HttpPoster
from threadwatch.alerts.sinks.registry import SinkSettings, register_sink
from threadwatch.settings import HOUR
from threadwatch.text import safe_block, safe_text

COLOUR = {"red": "#d40e0d", "yellow": "#e8a33c", "resolved": "#2eb67d"}
EMOJI = {"red": ":red_circle:", "yellow": ":large_yellow_circle:", "resolved": ":white_check_mark:"}
MAX_ALERTS = 10  # per message; the rest are counted in a note (Slack caps blocks per message)
_PARTIAL_ENTITY = re.compile(r"&[a-z]{0,4}$")
_LOOK_ALIKE = str.maketrans({"*": "\u2217", "~": "\u223c", "`": "\u02cb"})
_FORMATTING_UNDERSCORE = re.compile(r"(?<![^\W_])_|_(?![^\W_])")  # not between two alnums
_BACKTICK_PAIR = re.compile(r"`(?=`)")
_ZERO_WIDTH_SPACE = "\u200b"


def escape(text: str) -> str:
    """Slack's three control characters as entities (log text must never format or ping)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def plain(text: str) -> str:
    """Untrusted text for mrkdwn outside code: one line, entities, no formatting characters."""
    text = escape(safe_text(text)).translate(_LOOK_ALIKE)
    return _FORMATTING_UNDERSCORE.sub("\u02cd", text)


def inline_code(text: str) -> str:
    """Untrusted text as an inline code span, backticks and all."""
    return "`" + escape(safe_text(text)).replace("`", "\u02cb") + "`"


def code_block(text: str, limit: int) -> str:
    """Untrusted lines as a fenced code block, cut to about ``limit`` characters."""
    body = _BACKTICK_PAIR.sub("`" + _ZERO_WIDTH_SPACE, escape(safe_block(text)))
    return f"```\n{truncate(body, limit)}\n```"


def truncate(text: str, limit: int) -> str:
    """``text`` cut to about ``limit`` characters, with a note; never mid-entity."""
    if len(text) <= limit:
        return text
    cut = _PARTIAL_ENTITY.sub("", text[:limit])
    return f"{cut}\n… ({len(text) - len(cut)} more characters cut)"


def _tone(alert: Alert) -> str:
    return "resolved" if alert.status is Status.RESOLVED else alert.level


def _headline(alert: Alert) -> str:
    tone = _tone(alert)
    if alert.transition is Transition.TEST:
        word = "TEST"
    elif alert.status is Status.RESOLVED:
        word = "RESOLVED"
    elif alert.transition is Transition.ESCALATED:
        word = f"ESCALATED to {alert.level.upper()}"
    else:
        word = alert.level.upper() + (" (still)" if alert.transition is Transition.REPEAT else "")
    return f"{EMOJI[tone]} {word}: {plain(alert.summary)}"


def _blocks(alert: Alert, host: str, max_chars: int) -> list[dict[str, Any]]:
    since = f"since {iso_time(alert.starts_at)}"
    if alert.ends_at is not None:
        since = f"{iso_time(alert.starts_at)} → {iso_time(alert.ends_at)}"
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": truncate(
            f"*{_headline(alert)}*\nscope {inline_code(alert.scope)} on {inline_code(host)}, "
            f"{since}",
            max_chars)}},
    ]
    if alert.reasons:
        lines = "\n".join(
            f"• {plain(r.text)}" + (f" ({plain(r.why)})" if r.why else "")
            for r in alert.reasons)
        blocks.append({"type": "section", "text": {"type": "mrkdwn",
                                                   "text": truncate(lines, max_chars)}})
    if alert.samples:
        code = code_block("\n".join(alert.samples), max_chars)
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": code}})
    blocks.append({"type": "context", "elements": [
        {"type": "mrkdwn", "text": truncate(f"key {inline_code(alert.key)}", max_chars)}]})
    return blocks


def slack_payload(notification: Notification, max_chars: int = 2500) -> dict[str, Any]:
    """The webhook JSON: ``text`` for notifications and clients without blocks, then one
    attachment (coloured by level; green when resolved) per alert."""
    alerts = notification.alerts
    if len(alerts) == 1:
        text = _headline(alerts[0])
    else:
        firing = sum(alert.status is Status.FIRING for alert in alerts)
        tone = "red" if any(a.level == "red" and a.status is Status.FIRING for a in alerts) else (
            "yellow" if firing else "resolved")
        text = (f"{EMOJI[tone]} threadwatch on {plain(notification.host)}: "
                f"{firing} firing, {len(alerts) - firing} resolved")
    attachments = [
        {"color": COLOUR[_tone(alert)], "blocks": _blocks(alert, notification.host, max_chars)}
        for alert in alerts[:MAX_ALERTS]
    ]
    if len(alerts) > MAX_ALERTS:
        attachments.append({"blocks": [{"type": "context", "elements": [
            {"type": "mrkdwn", "text": f"… and {len(alerts) - MAX_ALERTS} more alerts"}]}]})
    return {"text": truncate(text, max_chars), "attachments": attachments,
            "unfurl_links": False, "unfurl_media": False}


class SlackSinkConfig(SinkSettings):
    """A Slack incoming webhook (``url = "${SLACK_WEBHOOK_URL}"``)."""

    type: Literal["slack"]
    min_interval_seconds: float = Field(1.0, ge=0, le=HOUR)
    max_text_chars: int = Field(2500, ge=200, le=2900)


class SlackSink:
    """Posts notifications to a Slack incoming webhook.

    Args:
        url: the webhook URL (a secret: whoever has it can post).
        timeout_seconds, verify_tls: for the request.
        max_chars: longest text of one block before it is cut.
    """

    def __init__(self, url: Secret, timeout_seconds: float = 10.0, verify_tls: bool = True,
                 max_chars: int = 2500) -> None:
        self._poster = HttpPoster(url, timeout_seconds, verify_tls)
        self._max_chars = max_chars

    def send(self, notification: Notification) -> None:
        body = json.dumps(slack_payload(notification, self._max_chars)).encode()
        self._poster.post(body, {"Content-Type": "application/json"})

    def close(self) -> None:
        self._poster.close()


register_sink(SlackSinkConfig, lambda name, settings, url, env: SlackSink(
    url, settings.timeout_seconds, settings.verify_tls, settings.max_text_chars))
