"""The Slack message: escaping (entities, code fences, formatting characters, controls), colour
and emoji, truncation."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from threadwatch.alerts.checks import sample_notification
from threadwatch.alerts.model import AlertReason, Status, Transition
from threadwatch.alerts.sinks.slack import (
    code_block,
    escape,
    inline_code,
    plain,
    slack_payload,
    truncate,
)

NOW = 1_800_000_000.0


def test_escape_turns_slack_control_characters_into_entities() -> None:
    assert escape("<!channel> & <@U1>") == "&lt;!channel&gt; &amp; &lt;@U1&gt;"


def test_truncate_says_how_much_was_cut_and_never_splits_an_entity() -> None:
    cut = truncate("a" * 8 + "&amp;" + "b" * 100, 10)
    assert cut.startswith("aaaaaaaa\n")
    assert cut.endswith("(105 more characters cut)")


def test_long_samples_are_cut_with_a_note() -> None:
    notification = sample_notification(NOW, "h")
    alert = dataclasses.replace(notification.alerts[0], samples=("x" * 10_000,))
    payload = slack_payload(dataclasses.replace(notification, alerts=(alert,)), max_chars=500)
    code = payload["attachments"][0]["blocks"][2]["text"]["text"]
    assert len(code) < 600
    assert "more characters cut" in code


def test_resolved_alerts_are_green_with_a_check_mark() -> None:
    notification = sample_notification(NOW, "h")
    alert = dataclasses.replace(notification.alerts[0], status=Status.RESOLVED,
                                transition=Transition.RESOLVED, ends_at=NOW + 60)
    payload = slack_payload(dataclasses.replace(notification, alerts=(alert,)))
    assert payload["text"].startswith(":white_check_mark: RESOLVED")
    assert payload["attachments"][0]["color"] == "#2eb67d"


def test_a_code_fence_in_a_log_line_cannot_close_the_code_block() -> None:
    notification = sample_notification(NOW, "h")
    alert = dataclasses.replace(notification.alerts[0], samples=("a ``` b",))
    payload = slack_payload(dataclasses.replace(notification, alerts=(alert,)))
    code = payload["attachments"][0]["blocks"][2]["text"]["text"]
    assert code.count("```") == 2


def _payload_with(**changes: object) -> dict[str, Any]:
    notification = sample_notification(NOW, "h")
    alert = dataclasses.replace(notification.alerts[0], **changes)
    return slack_payload(dataclasses.replace(notification, alerts=(alert,)))


def _closed_only_by_its_fences(code: str) -> bool:
    """Slack ends a block at any three backticks: inside, no two may touch."""
    return code.startswith("```\n") and code.endswith("\n```") and "``" not in code[3:-3]


@pytest.mark.parametrize("sample", [
    "a ``` b", "a ```` b", "````` at the start", "at the end ``````", "```", "`" * 7,
    "one ` two `` three ``` four ```` five", "``\n``\n``",
])
def test_no_run_of_backticks_can_close_the_code_block(sample: str) -> None:
    blocks = _payload_with(samples=(sample, "next *line* <!here>"))["attachments"][0]["blocks"]
    code = blocks[2]["text"]["text"]
    assert _closed_only_by_its_fences(code), code
    assert code.replace("\u200b", "")[4:-4] == sample + "\nnext *line* &lt;!here&gt;"


def test_a_single_backtick_in_a_code_block_stays_a_backtick() -> None:
    code = code_block("echo `date` done", 100)
    assert code == "```\necho `date` done\n```"


def test_a_cut_code_block_is_still_closed_only_by_its_fences() -> None:
    code = code_block("`" * 5000, 101)
    assert _closed_only_by_its_fences(code) and "more characters cut" in code


@pytest.mark.parametrize(("text", "shown"), [
    ("<!channel> <@U123> <http://evil.example|click here>",
     "&lt;!channel&gt; &lt;@U123&gt; &lt;http://evil.example|click here&gt;"),
    ("*bold* ~strike~ `code`", "\u2217bold\u2217 \u223cstrike\u223c \u02cbcode\u02cb"),
    ("_italic_ and __init__", "\u02cditalic\u02cd and \u02cd\u02cdinit\u02cd\u02cd"),
    ("tmp_batt_k3J9xQ2mPa_run.log", "tmp_batt_k3J9xQ2mPa_run.log"),  # never italics
    ("a\nb\x1b[31m\u202e", r"a\nb\x1b[31m\u202e"),
    ("&amp; stays text", "&amp;amp; stays text"),
])
def test_plain_text_can_neither_format_nor_ping(text: str, shown: str) -> None:
    assert plain(text) == shown


def test_inline_code_cannot_be_closed_by_a_backtick() -> None:
    assert inline_code("a`b\n<c>") == "`a\u02cbb\\n&lt;c&gt;`"


def test_every_untrusted_text_of_the_message_is_escaped() -> None:
    hostile = "x`*_~<!channel>\n\x1b[2J\u202e"
    reason = AlertReason("overload", "rate", 0.6, ">", 0.5, hostile, hostile)
    payload = _payload_with(scope=hostile, summary=hostile, key=hostile, reasons=(reason,),
                            samples=(hostile,))
    texts = [payload["text"]] + [
        piece["text"] for block in payload["attachments"][0]["blocks"]
        for piece in [block.get("text", {}), *block.get("elements", [])] if piece]
    for text in texts:
        assert "<!channel>" not in text and "\x1b" not in text and "\u202e" not in text, text
    headline, scope_line = texts[1].split("\n")
    assert headline.count("*") == 2 and scope_line.count("`") == 4, texts[1]
    assert "*" not in texts[2] and "~" not in texts[2] and "`" not in texts[2], texts[2]
    assert texts[4].count("`") == 2, texts[4]


def test_links_in_log_text_are_not_unfurled() -> None:
    payload = _payload_with()
    assert payload["unfurl_links"] is False and payload["unfurl_media"] is False
