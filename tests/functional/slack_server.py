"""A local HTTP server playing Slack (incoming webhook and Web API), the alert it expects, and fixtures."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from slack_sdk.http_retry.builtin_interval_calculators import FixedValueRetryIntervalCalculator

from detections.finding import Alert, Finding
from detections.severity import Severity
from notifiers.notifier import OutgoingAlert
from notifiers.slack import RetryPolicy, SlackNotifier
from parsers.event import Action, Source
from tests.factories import make_event

HOOK_PATH = "/services/T0000/B0000/s3cr3tW3bh00kP4th"
TOKEN = "xoxb-1111-2222-s3cr3tT0k3n"
CHANNEL_ID = "C0123ABCD"
BACKOFF = 0.25
T0 = datetime(2024, 5, 1, 10, 0, 0, tzinfo=UTC)

# The exact message for `representative_alert()`: what Slack receives, byte for byte (as JSON).
EXPECTED_PAYLOAD: dict[str, Any] = {
    "text": (
        "CRITICAL: DROP TABLE orders by app\n"
        "User: app · Client: 10.0.0.5 · Cluster/instance: prod-cluster · "
        "When: 2024-05-01 10:00:00 – 10:02:30 UTC · Count: 2 (3 more since 09:50:00 UTC)"
    ),
    "blocks": [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": "DROP TABLE orders by app", "emoji": False},
        },
        {
            "type": "section",
            "fields": [
                {"type": "plain_text", "text": "Severity: CRITICAL", "emoji": False},
                {"type": "plain_text", "text": "Rule: drop_table", "emoji": False},
                {"type": "plain_text", "text": "Cluster/instance: prod-cluster", "emoji": False},
                {"type": "plain_text", "text": "User: app", "emoji": False},
                {"type": "plain_text", "text": "Client host: 10.0.0.5", "emoji": False},
                {"type": "plain_text", "text": "Database: shop", "emoji": False},
                {"type": "plain_text", "text": "When (UTC): 2024-05-01 10:00:00 – 10:02:30", "emoji": False},
                {"type": "plain_text", "text": "Count: 2 (3 more since 09:50:00 UTC)", "emoji": False},
                {"type": "plain_text", "text": "Attempt failed: no", "emoji": False},
            ],
        },
        {"type": "section", "text": {"type": "mrkdwn", "text": "```\nDROP TABLE orders\n```"}},
        {
            "type": "context",
            "elements": [
                {"type": "plain_text", "text": "Source: aurora_mysql (aurora-mysql)", "emoji": False},
                {
                    "type": "plain_text",
                    "text": "Location: /aws/rds/cluster/prod-cluster/audit:i-1",
                    "emoji": False,
                },
                {"type": "plain_text", "text": "Alert ID: alert-0001", "emoji": False},
                {
                    "type": "mrkdwn",
                    "text": (
                        "<https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1"
                        "#logsV2:logs-insights$3FqueryDetail$3D~(end~'2024-05-01T10*3a03*3a30.000Z"
                        "~start~'2024-05-01T09*3a49*3a00.000Z~timeType~'ABSOLUTE~tz~'UTC"
                        "~editorString~'fields*20*40timestamp*2c*20*40logStream*2c*20*40message*0a"
                        "*7c*20filter*20*28*40message*20like*20*22app*22*20or*20*40message*20like"
                        "*20*2210.0.0.5*22*29*20and*20*40message*20like*20*22DROP*22*20and*20*40message"
                        "*20like*20*22TABLE*22*20and*20*40message*20like*20*22orders*22*0a*7c*20sort"
                        "*20*40timestamp*20asc*0a*7c*20limit*20200~isLiveTail~false"
                        "~source~(~'*2faws*2frds*2fcluster*2fprod-cluster*2faudit))|View raw events>"
                    ),
                },
            ],
        },
    ],
    "unfurl_links": False,
    "unfurl_media": False,
}


def representative_alert(alert_id: str = "alert-0001") -> OutgoingAlert:
    """A DROP TABLE seen twice on an Aurora MySQL cluster, three more folded before it."""
    event = make_event(
        source=Source.AURORA_MYSQL,
        engine="aurora-mysql",
        cluster="prod-cluster",
        action=Action.QUERY_DDL,
        database="shop",
        statement="DROP TABLE orders",
        log_group="/aws/rds/cluster/prod-cluster/audit",
        location="/aws/rds/cluster/prod-cluster/audit:i-1",
    )
    finding = Finding(
        rule_id="drop_table",
        title="DROP TABLE orders by app",
        severity=Severity.CRITICAL,
        channels=("slack",),
        dedup_key="prod-cluster|orders",
        event=event,
    )
    alert = Alert(first=finding, count=2, first_seen=T0, last_seen=T0 + timedelta(seconds=150))
    return OutgoingAlert(
        alert_id=alert_id,
        alert=alert,
        suppressed_before=3,
        suppressed_since=T0 - timedelta(minutes=10),
        region="eu-west-1",
    )


@pytest.fixture(name="_no_proxy", autouse=True)
def no_proxy_fixture(monkeypatch: pytest.MonkeyPatch) -> None:
    """slack-sdk routes through HTTP(S)_PROXY and ignores NO_PROXY: keep the local server reachable."""
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(name="module_server", scope="module")
def module_server_fixture() -> Iterator[HTTPServer]:
    """One plain HTTP server on 127.0.0.1 for the module."""
    server = HTTPServer(host="127.0.0.1", port=0)
    server.start()
    yield server
    server.clear()
    server.stop()


@pytest.fixture(name="slack")
def slack_fixture(module_server: HTTPServer) -> Iterator[HTTPServer]:
    """The server with no handlers and an empty request log."""
    module_server.clear()
    yield module_server
    module_server.clear()


@pytest.fixture(name="sleeps")
def sleeps_fixture() -> list[float]:
    """Every wait the notifier asked for (nothing really sleeps)."""
    return []


@pytest.fixture(name="policy")
def policy_fixture(sleeps: list[float]) -> RetryPolicy:
    """Three attempts, a fixed 0.25 s backoff, waits recorded instead of slept."""
    return RetryPolicy(
        max_attempts=3, interval_calculator=FixedValueRetryIntervalCalculator(BACKOFF), sleep=sleeps.append
    )


def webhook(server: HTTPServer, policy: RetryPolicy, *, timeout: float = 2.0) -> SlackNotifier:
    """A webhook notifier pointed at the local server."""
    return SlackNotifier.from_webhook_url(server.url_for(HOOK_PATH), timeout=timeout, policy=policy)


def web_api(server: HTTPServer, policy: RetryPolicy) -> SlackNotifier:
    """A bot-token notifier whose Web API base URL is the local server."""
    return SlackNotifier.from_token(
        TOKEN, CHANNEL_ID, timeout=2.0, policy=policy, base_url=server.url_for("/api/")
    )


def assert_no_secret(message: str, server: HTTPServer) -> None:
    """Neither the webhook URL, its secret path nor the token appears."""
    assert server.url_for(HOOK_PATH) not in message
    assert "s3cr3t" not in message
