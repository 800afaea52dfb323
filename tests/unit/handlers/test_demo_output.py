"""What the demo prints: alert records read from real renderings, and readable emails and Slack messages."""

from __future__ import annotations

import pytest

from handlers.demo_output import (
    Email,
    SummaryCounts,
    count_of,
    email_record,
    render_email,
    render_slack,
    render_summary,
    slack_record,
)
from notifiers.email_render import render_email as render_alert_email
from notifiers.email_render import render_subject
from notifiers.slack_render import render_slack_message
from notifiers.sns import message_attributes
from tests.functional.slack_server import representative_alert


@pytest.mark.parametrize(
    ("text", "count"),
    [
        ("8 failed logins between 2026-12-03 07:26:02 and 07:26:23 UTC", 8),
        ("2 (3 more since 09:50:00 UTC)", 2),
        ("threshold met 4 times between 2026-12-03 07:26:14 and 07:26:23 UTC", 4),
        ("threshold met once at 2026-12-03 07:26:26 UTC", 1),
        ("", 1),
        ("17", 17),
    ],
)
def test_count_of_reads_every_rendered_count(text: str, count: int) -> None:
    """GIVEN a rendered count WHEN read THEN the number of matches, never a year from a date."""
    assert count_of(text) == count


def _email_of_representative_alert(extra: dict[str, str] | None = None) -> Email:
    """The email the SNS notifier would publish for the representative alert, as the mailbox gets it."""
    outgoing = representative_alert()
    rendered = render_alert_email(outgoing)
    return Email(
        render_subject(outgoing.alert), rendered.body, {**message_attributes(outgoing), **(extra or {})}
    )


def test_email_record_reads_rule_source_user_and_count_from_the_real_email() -> None:
    """GIVEN a rendered alert email WHEN recorded THEN rule from its attribute, the rest from its lines."""
    record = email_record(_email_of_representative_alert())
    assert record["channel"] == "email"
    assert record["rule"] == "drop_table"
    assert record["source"] == "aurora_mysql"
    assert record["user"] == "app"
    assert record["count"] == 2
    assert record["subject"].startswith("[CRITICAL]")


def test_email_record_prefers_a_count_attribute_when_there_is_one() -> None:
    """GIVEN an SNS `count` message attribute WHEN recorded THEN it is the count."""
    assert email_record(_email_of_representative_alert({"count": "5"}))["count"] == 5


def test_slack_record_reads_the_rendered_fields() -> None:
    """GIVEN a rendered Slack message WHEN recorded THEN rule, source, user and count come from its fields."""
    record = slack_record(render_slack_message(representative_alert()))
    assert record == {
        "channel": "slack",
        "rule": "drop_table",
        "source": "aurora_mysql",
        "user": "app",
        "count": 2,
        "severity": "critical",
        "text": record["text"],
    }
    assert record["text"].startswith("CRITICAL: DROP TABLE orders by app")


def test_render_slack_is_readable_text() -> None:
    """GIVEN a Block Kit message WHEN rendered THEN header, fields, SQL and the link label, no JSON or URL."""
    text = render_slack(render_slack_message(representative_alert()))
    assert "*DROP TABLE orders by app*" in text
    assert "Rule: drop_table" in text
    assert "  DROP TABLE orders" in text
    assert "View raw events" in text
    assert "https://" not in text
    assert '"blocks"' not in text


def test_render_email_shows_subject_attributes_and_body() -> None:
    """GIVEN an email WHEN rendered THEN subject, attributes and the indented body."""
    text = render_email(Email("[HIGH] x", "line one\n\nline two", {"rule": "r", "severity": "high"}))
    assert text.splitlines()[:2] == ["EMAIL  Subject: [HIGH] x", "       Attributes: rule=r, severity=high"]
    assert "    line one\n\n    line two" in text


def test_summary_counts_alerts_per_rule_and_channel() -> None:
    """GIVEN delivered alerts WHEN summarised THEN one row per rule, email and slack columns, totals."""
    records = [
        {"rule": "brute-force", "channel": "email"},
        {"rule": "brute-force", "channel": "slack"},
        {"rule": "drop-table", "channel": "slack"},
    ]
    summary = render_summary(
        records, SummaryCounts(kms_calls={"handler Decrypt": 1}, state_items={"win": 3}, invocations={"h": 2})
    )
    lines = summary.splitlines()
    assert lines[2].split() == ["brute-force", "1", "1"]
    assert lines[3].split() == ["drop-table", "0", "1"]
    assert lines[4].split() == ["total", "1", "2"]
    assert "handler Decrypt" in summary
