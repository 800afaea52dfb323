"""Slack Block Kit rendering: the exact message, hostile data that cannot notify/link/format, and limits."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detections.finding import Alert, Finding
from detections.severity import Severity
from notifiers.mrkdwn import BACKTICK_LOOKALIKE, ELLIPSIS, ZERO_WIDTH_JOINER, slack_length
from notifiers.notifier import OutgoingAlert
from notifiers.slack_render import (
    FIELD_LIMIT,
    HEADER_LIMIT,
    SECTION_TEXT_LIMIT,
    TEXT_LIMIT,
    render_blocks,
    render_fallback_text,
    render_slack_message,
)
from parsers.event import Action, Source
from tests.factories import T0, failed_login, make_event

ZWJ = ZERO_WIDTH_JOINER


def outgoing_of(
    *,
    title: str = "Failed login for app from 10.0.0.5 on prod (1045)",
    count: int = 1,
    span: timedelta = timedelta(0),
    suppressed_before: int = 0,
    region: str = "",
    **event_fields: Any,
) -> OutgoingAlert:
    """An OutgoingAlert whose first event is a failed login (or the given action) by `app` on prod."""
    event = make_event(**event_fields) if "action" in event_fields else failed_login(**event_fields)
    finding = Finding("failed_login", title, Severity.MEDIUM, ("slack",), "prod|app|10.0.0.5", event)
    alert = Alert(finding, count, event.time, event.time + span)
    since = T0 - timedelta(minutes=3) if suppressed_before else None
    return OutgoingAlert("alert-7", alert, suppressed_before, since, region)


def test_failed_login_renders_exactly() -> None:
    """GIVEN one failed login without statement or link WHEN rendered THEN exactly this message."""
    message = render_slack_message(outgoing_of(location="audit.log:3"))

    assert message == {
        "text": (
            "MEDIUM: Failed login for app from 10.0.0.5 on prod (1045)\n"
            "User: app · Client: 10.0.0.5 · Cluster/instance: prod · When: 2024-05-01 10:00:00 UTC · Count: 1"
        ),
        "blocks": [
            {
                "type": "header",
                "text": {
                    "type": "plain_text",
                    "text": "Failed login for app from 10.0.0.5 on prod (1045)",
                    "emoji": False,
                },
            },
            {
                "type": "section",
                "fields": [
                    {"type": "plain_text", "text": "Severity: MEDIUM", "emoji": False},
                    {"type": "plain_text", "text": "Rule: failed_login", "emoji": False},
                    {"type": "plain_text", "text": "Cluster/instance: prod", "emoji": False},
                    {"type": "plain_text", "text": "User: app", "emoji": False},
                    {"type": "plain_text", "text": "Client host: 10.0.0.5", "emoji": False},
                    {"type": "plain_text", "text": "Database: —", "emoji": False},
                    {"type": "plain_text", "text": "When (UTC): 2024-05-01 10:00:00", "emoji": False},
                    {"type": "plain_text", "text": "Count: 1", "emoji": False},
                    {"type": "plain_text", "text": "Attempt failed: yes", "emoji": False},
                ],
            },
            {
                "type": "context",
                "elements": [
                    {"type": "plain_text", "text": "Source: mysql_audit", "emoji": False},
                    {"type": "plain_text", "text": "Location: audit.log:3", "emoji": False},
                    {"type": "plain_text", "text": "Alert ID: alert-7", "emoji": False},
                ],
            },
        ],
        "unfurl_links": False,
        "unfurl_media": False,
    }


@pytest.mark.parametrize(
    ("suppressed_before", "span", "count_text", "when_text"),
    [
        (0, timedelta(0), "Count: 1", "When (UTC): 2024-05-01 10:00:00"),
        (
            12,
            timedelta(minutes=4),
            "Count: 1 (12 more since 09:57:00 UTC)",
            "When (UTC): 2024-05-01 10:00:00 – 10:04:00",
        ),
        (0, timedelta(days=1), "Count: 1", "When (UTC): 2024-05-01 10:00:00 – 2024-05-02 10:00:00"),
    ],
)
def test_count_and_when_fields(
    suppressed_before: int, span: timedelta, count_text: str, when_text: str
) -> None:
    """GIVEN folded matches and a span WHEN rendered THEN 'N more since HH:MM:SS UTC' and the UTC range."""
    fields = render_blocks(outgoing_of(suppressed_before=suppressed_before, span=span))[1]["fields"]

    assert fields[7]["text"] == count_text
    assert fields[6]["text"] == when_text


def test_suppressed_without_a_start_time_says_before_these() -> None:
    """GIVEN folded matches but no 'since' WHEN rendered THEN the count still says how many."""
    outgoing = outgoing_of()
    outgoing = OutgoingAlert(outgoing.alert_id, outgoing.alert, suppressed_before=4)

    assert render_blocks(outgoing)[1]["fields"][7]["text"] == "Count: 1 (4 more before these)"


HOSTILE_USERS = [
    ("<!channel>", "User: &lt;!channel&gt;"),
    ("<!here>", "User: &lt;!here&gt;"),
    ("<!everyone>", "User: &lt;!everyone&gt;"),
    ("<@U123>", "User: &lt;@U123&gt;"),
    ("<#C024BE7LR|general>", "User: &lt;#C024BE7LR|general&gt;"),
    ("<http://evil|click>", "User: &lt;http://evil|click&gt;"),
    ("a&amp;b", "User: a&amp;amp;b"),
    ("*bold* _it_ ~s~", "User: *bold* _it_ ~s~"),  # plain_text: markers stay literal, unformatted
    ("bob\nSeverity: LOW", "User: bob Severity: LOW"),  # cannot fake a line
]


@pytest.mark.parametrize(("user", "field_text"), HOSTILE_USERS)
def test_hostile_user_names_are_inert_in_fields(user: str, field_text: str) -> None:
    """GIVEN a user name with Slack control syntax WHEN rendered THEN the field shows it escaped, as text."""
    blocks = render_blocks(outgoing_of(user=user))

    assert blocks[1]["fields"][3] == {"type": "plain_text", "text": field_text, "emoji": False}


@pytest.mark.parametrize(("user", "_field_text"), HOSTILE_USERS)
def test_no_raw_control_syntax_anywhere_in_the_message(user: str, _field_text: str) -> None:
    """GIVEN a hostile user, title and statement WHEN rendered THEN no '<' survives outside our own link."""
    message = render_slack_message(
        outgoing_of(
            user=user,
            title=f"Failed login for {user}",
            action=Action.QUERY,
            statement=f"SELECT '{user}'",
            location=user,
        )
    )

    assert "<" not in json.dumps(message, ensure_ascii=False)
    assert ">" not in json.dumps(message, ensure_ascii=False)


def test_fallback_text_neutralizes_markers_with_zero_width_joiners() -> None:
    """GIVEN *bold* in the user WHEN the mrkdwn notification text is rendered THEN markers are broken."""
    text = render_fallback_text(outgoing_of(user="*bold*_it_"))

    assert f"User: {ZWJ}*bold{ZWJ}*{ZWJ}_it{ZWJ}_ ·" in text


def test_header_holds_the_title_as_plain_text() -> None:
    """GIVEN a title with markers and mentions WHEN rendered THEN the header is plain_text, escaped."""
    header = render_blocks(outgoing_of(title="*DROP* <!here> & co"))[0]

    assert header == {
        "type": "header",
        "text": {"type": "plain_text", "text": "*DROP* &lt;!here&gt; &amp; co", "emoji": False},
    }


def test_backticks_in_sql_cannot_close_the_code_block() -> None:
    """GIVEN SQL with ``` WHEN rendered THEN exactly one pair of fences and look-alike backticks inside."""
    blocks = render_blocks(
        outgoing_of(action=Action.QUERY_DDL, statement="DROP TABLE `t`; -- ```\n<!channel> *x*")
    )

    tick = BACKTICK_LOOKALIKE
    assert blocks[2] == {
        "type": "section",
        "text": {
            "type": "mrkdwn",
            "text": f"```\nDROP TABLE {tick}t{tick}; -- {tick * 3}\n&lt;!channel&gt; *x*\n```",
        },
    }


@pytest.mark.parametrize(
    "statement",
    ["S" * 5000, "&" * 5000, "SELECT 'é'" * 500, "😀" * 5000, "a" * 2991 + "<" * 10],
)
def test_long_statements_fit_the_section_and_cut_cleanly(statement: str) -> None:
    """GIVEN a 5,000-character statement WHEN rendered THEN a code block ≤ 3000 with fences, cut cleanly."""
    text = render_blocks(outgoing_of(action=Action.QUERY, statement=statement))[2]["text"]["text"]

    assert slack_length(text) <= SECTION_TEXT_LIMIT
    assert text.endswith(f"{ELLIPSIS}\n```")
    body = text[len("```\n") : -len(f"{ELLIPSIS}\n```")]
    assert not body.endswith(("&", "&a", "&am", "&amp", "&l", "&lt", "&g", "&gt"))


def test_long_values_are_cut_to_block_kit_limits() -> None:
    """GIVEN a 150+ char title and 10,000-char values WHEN rendered THEN header ≤ 150 and fields ≤ 500."""
    message = render_slack_message(outgoing_of(title="T" * 400, user="<" * 10_000, client_host="h" * 10_000))

    header = message["blocks"][0]["text"]["text"]
    assert header == "T" * (HEADER_LIMIT - 1) + ELLIPSIS
    user_field = message["blocks"][1]["fields"][3]["text"]
    assert user_field == "User: " + "&lt;" * ((FIELD_LIMIT - 7) // 4) + ELLIPSIS
    assert len(message["text"]) < 1000


def test_context_notes_a_statement_cut_by_the_source() -> None:
    """GIVEN a statement the database truncated WHEN rendered THEN the context says so."""
    blocks = render_blocks(
        outgoing_of(
            action=Action.QUERY, statement="SELECT 1", statement_truncated=True, source=Source.POSTGRES
        )
    )

    assert [element["text"] for element in blocks[-1]["elements"]] == [
        "Source: postgres",
        "Alert ID: alert-7",
        "Statement cut by the database before logging",
    ]


@pytest.mark.parametrize(
    ("region", "log_group", "linked"),
    [
        ("eu-west-1", "/aws/rds/cluster/prod/audit", True),
        ("", "/aws/rds/cluster/prod/audit", False),
        ("eu-west-1", "", False),
    ],
)
def test_raw_events_link_only_when_region_and_log_group_are_known(
    region: str, log_group: str, linked: bool
) -> None:
    """GIVEN region/log group presence WHEN rendered THEN a 'View raw events' mrkdwn link, or none."""
    elements = render_blocks(outgoing_of(region=region, log_group=log_group))[-1]["elements"]

    links = [element for element in elements if element["type"] == "mrkdwn"]
    assert len(links) == int(linked)
    if linked:
        text = links[0]["text"]
        assert text.startswith("<https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#")
        assert text.endswith("|View raw events>")
        assert text.count("|") == 1


@settings(max_examples=150, deadline=None)
@given(
    title=st.text(max_size=400),
    user=st.text(max_size=3000),
    statement=st.text(min_size=1, max_size=6000),
    location=st.text(max_size=600),
)
def test_every_block_kit_limit_holds_for_any_data(
    title: str, user: str, statement: str, location: str
) -> None:
    """GIVEN arbitrary data WHEN rendered THEN every Block Kit and `text` limit holds, nothing unescaped."""
    message = render_slack_message(
        outgoing_of(title=title, user=user, action=Action.QUERY, statement=statement, location=location)
    )

    header, section, sql, context = message["blocks"]
    assert 0 < slack_length(header["text"]["text"]) <= HEADER_LIMIT
    assert len(section["fields"]) <= 10
    assert all(0 < slack_length(field["text"]) <= min(FIELD_LIMIT, 2000) for field in section["fields"])
    assert slack_length(sql["text"]["text"]) <= SECTION_TEXT_LIMIT
    assert len(context["elements"]) <= 10
    assert 0 < slack_length(message["text"]) <= TEXT_LIMIT
    assert "<" not in json.dumps(message)
