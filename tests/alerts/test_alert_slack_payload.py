"""The Slack message: escaping, colour and emoji, truncation."""

from __future__ import annotations

import dataclasses

from threadwatch.alerts.checks import sample_notification
from threadwatch.alerts.model import Status, Transition
from threadwatch.alerts.sinks.slack import escape, slack_payload, truncate

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
