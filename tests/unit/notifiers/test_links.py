"""CloudWatch Logs Insights deep links and the default query that finds an alert's raw lines."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import unquote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detections.finding import Alert, Finding
from detections.severity import Severity
from notifiers.links import default_query, logs_insights_url
from parsers.event import Action
from tests.factories import T0, failed_login, make_event

START = datetime(2024, 5, 1, 10, 0, 0, 123456, tzinfo=UTC)
END = datetime(2024, 5, 1, 10, 5, 0, tzinfo=UTC)


def decode_state_string(encoded: str) -> str:
    """Undo the console's string encoding ('*xx' percent escapes) for assertions."""
    return unquote(encoded.replace("*", "%"))


def state_value(url: str, key: str) -> str:
    """The raw encoded string value of `key` inside the queryDetail fragment."""
    match = re.search(rf"[~(]{key}~'([^~)]*)", url)
    assert match is not None, key
    return match.group(1)


def test_url_is_pinned_for_a_known_input() -> None:
    """GIVEN region, group, span and query WHEN linked THEN the console URL the console itself would write."""
    url = logs_insights_url(
        "us-east-1",
        "/aws/rds/instance/db~1/audit",
        START,
        END,
        'fields @message\n| filter @message like "it\'s"',
    )

    assert url == (
        "https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1"
        "#logsV2:logs-insights$3FqueryDetail$3D~(end~'2024-05-01T10*3a06*3a00.000Z"
        "~start~'2024-05-01T09*3a59*3a00.123Z~timeType~'ABSOLUTE~tz~'UTC"
        "~editorString~'fields*20*40message*0a*7c*20filter*20*40message*20like*20*22it*27s*22"
        "~isLiveTail~false~source~(~'*2faws*2frds*2finstance*2fdb*7e1*2faudit))"
    )


def test_values_round_trip_and_the_url_is_safe_inside_a_slack_link() -> None:
    """GIVEN hostile query text WHEN linked THEN it decodes back exactly and has no & < > | or spaces."""
    query = 'filter @message like "<!channel>|x~(y)*\'&"\nand ünïcode 😀'

    url = logs_insights_url("eu-west-1", "/aws/rds/cluster/c/audit", START, END, query)

    assert decode_state_string(state_value(url, "editorString")) == query
    assert decode_state_string(state_value(url, "source~\\(")) == "/aws/rds/cluster/c/audit"
    assert re.search(r"[&<>|\s]", url) is None


@pytest.mark.parametrize(
    ("region", "origin"),
    [
        ("eu-central-1", "https://eu-central-1.console.aws.amazon.com"),
        ("cn-north-1", "https://console.amazonaws.cn"),
        ("us-gov-west-1", "https://console.amazonaws-us-gov.com"),
    ],
)
def test_console_origin_follows_the_partition(region: str, origin: str) -> None:
    """GIVEN a region WHEN linked THEN the partition's console host and the region parameter."""
    url = logs_insights_url(region, "/g", START, END, "fields @message")

    assert url.startswith(f"{origin}/cloudwatch/home?region={region}#logsV2:logs-insights")


def test_times_are_utc_padded_by_a_minute_and_naive_means_utc() -> None:
    """GIVEN a +02:00 start and a naive end WHEN linked THEN both are UTC, a minute wider each side."""
    start = datetime(2024, 5, 1, 12, 0, tzinfo=timezone(timedelta(hours=2)))
    end = datetime(2024, 5, 1, 10, 0)

    url = logs_insights_url("eu-west-1", "/g", start, end, "q")

    assert decode_state_string(state_value(url, "start")) == "2024-05-01T09:59:00.000Z"
    assert decode_state_string(state_value(url, "end")) == "2024-05-01T10:01:00.000Z"


def alert_of(count: int = 1, **event_fields: Any) -> Alert:
    """An alert of `count` matches whose first event has the given fields (a query by default)."""
    event = make_event(**event_fields) if "action" in event_fields else failed_login(**event_fields)
    finding = Finding("rule", "title", Severity.HIGH, ("slack",), "key", event)
    return Alert(finding, count, T0, T0 + timedelta(minutes=1))


FIELDS = "fields @timestamp, @logStream, @message"
TAIL = "| sort @timestamp asc\n| limit 200"


@pytest.mark.parametrize(
    ("alert", "query"),
    [
        pytest.param(
            alert_of(1, user="app", client_host="10.0.0.5"),
            f'{FIELDS}\n| filter @message like "app" and @message like "10.0.0.5"\n{TAIL}',
            id="one failed login: user and host",
        ),
        pytest.param(
            alert_of(25, user="app", client_host="10.0.0.5"),
            f'{FIELDS}\n| filter (@message like "app" or @message like "10.0.0.5")\n{TAIL}',
            id="burst: user or host (spray spans users)",
        ),
        pytest.param(
            alert_of(1, user="", client_host="10.0.0.5"),
            f'{FIELDS}\n| filter @message like "10.0.0.5"\n{TAIL}',
            id="no user",
        ),
        pytest.param(
            alert_of(
                1, action=Action.QUERY_DDL, statement="/* x */ DROP TABLE IF EXISTS 'orders'", client_host=""
            ),
            f'{FIELDS}\n| filter @message like "app" and @message like "DROP" and @message like "TABLE"'
            f' and @message like "IF"\n{TAIL}',
            id="statement: first three bare words, comments and literals skipped",
        ),
        pytest.param(
            alert_of(1, user='ev"il\\name', client_host=""),
            f'{FIELDS}\n| filter @message like "name"\n{TAIL}',
            id="quote and backslash: longest run that needs no escaping",
        ),
        pytest.param(
            alert_of(1, user="a", client_host="\n"),
            f"{FIELDS}\n{TAIL}",
            id="nothing specific enough: no filter",
        ),
        pytest.param(
            alert_of(1, user="x" * 300, client_host=""),
            f'{FIELDS}\n| filter @message like "{"x" * 100}"\n{TAIL}',
            id="long value capped at 100 characters",
        ),
    ],
)
def test_default_query(alert: Alert, query: str) -> None:
    """GIVEN an alert WHEN its default query is built THEN it filters on the values listed, safely quoted."""
    assert default_query(alert) == query


@settings(max_examples=200, deadline=None)
@given(user=st.text(), host=st.text(), statement=st.text())
def test_default_query_literals_never_contain_quotes_backslashes_or_controls(
    user: str, host: str, statement: str
) -> None:
    """GIVEN any user/host/statement WHEN queried THEN every string literal is a plain "…" run."""
    query = default_query(
        alert_of(1, action=Action.QUERY, user=user, client_host=host, statement=statement or None)
    )

    for line in query.split("\n"):
        assert "\x00" not in line
        literals = re.findall(r'like ("[^"]*")', line)
        assert all("\\" not in literal for literal in literals)
        assert line.count('"') == 2 * len(literals)
