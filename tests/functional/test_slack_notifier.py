"""SlackNotifier against a real HTTP server on 127.0.0.1 acting as an incoming webhook and as the Web API."""

from __future__ import annotations

import dataclasses
import logging
import re
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_interval_calculators import FixedValueRetryIntervalCalculator
from slack_sdk.webhook import WebhookClient
from werkzeug import Request, Response

from detections.finding import Alert, Finding
from detections.severity import Severity
from notifiers.notifier import DeliveryResult, OutgoingAlert
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


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """slack-sdk routes through HTTP(S)_PROXY and ignores NO_PROXY: keep the local server reachable."""
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def module_server() -> Iterator[HTTPServer]:
    """One plain HTTP server on 127.0.0.1 for the module."""
    server = HTTPServer(host="127.0.0.1", port=0)
    server.start()
    yield server
    server.clear()
    server.stop()


@pytest.fixture
def slack(module_server: HTTPServer) -> Iterator[HTTPServer]:
    """The server with no handlers and an empty request log."""
    module_server.clear()
    yield module_server
    module_server.clear()


@pytest.fixture
def sleeps() -> list[float]:
    """Every wait the notifier asked for (nothing really sleeps)."""
    return []


@pytest.fixture
def policy(sleeps: list[float]) -> RetryPolicy:
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
    assert TOKEN not in message


def test_webhook_receives_the_exact_block_kit_payload(slack: HTTPServer, policy: RetryPolicy) -> None:
    """GIVEN a webhook WHEN one alert is sent THEN Slack gets exactly the expected JSON; delivered."""
    slack.expect_request(HOOK_PATH, method="POST").respond_with_data("ok")

    results = webhook(slack, policy).send([representative_alert()])

    assert results == [DeliveryResult("alert-0001", "slack")]
    assert len(slack.log) == 1
    request = slack.log[0][0]
    assert request.headers["Content-Type"] == "application/json;charset=utf-8"
    assert request.get_json() == EXPECTED_PAYLOAD


def test_web_api_receives_the_payload_with_bearer_token_and_channel(
    slack: HTTPServer, policy: RetryPolicy
) -> None:
    """GIVEN a bot token WHEN one alert is sent THEN chat.postMessage gets the token, channel and payload."""
    slack.expect_request("/api/chat.postMessage", method="POST").respond_with_json(
        {"ok": True, "channel": CHANNEL_ID, "ts": "1714557600.000100"}
    )

    results = web_api(slack, policy).send([representative_alert()])

    assert results == [DeliveryResult("alert-0001", "slack")]
    request = slack.log[0][0]
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.get_json() == {"channel": CHANNEL_ID, **EXPECTED_PAYLOAD}


def test_hostile_data_arrives_escaped(slack: HTTPServer, policy: RetryPolicy) -> None:
    """GIVEN a user name that would notify everyone WHEN sent THEN Slack receives it only escaped."""
    slack.expect_request(HOOK_PATH, method="POST").respond_with_data("ok")
    first = representative_alert().alert.first
    event = dataclasses.replace(
        first.event, user="<!channel> <http://evil|click>", statement="SELECT '```' || '&amp;' -- <@U123>"
    )
    finding = dataclasses.replace(first, event=event)
    hostile = OutgoingAlert("alert-0002", Alert(finding, 1, T0, T0))

    webhook(slack, policy).send([hostile])

    body = slack.log[0][0].get_data(as_text=True)
    assert "<!channel>" not in body
    assert "<http://evil" not in body
    assert "<@U123>" not in body
    payload = slack.log[0][0].get_json()
    assert payload["blocks"][1]["fields"][3]["text"] == "User: &lt;!channel&gt; &lt;http://evil|click&gt;"
    assert payload["blocks"][2]["text"]["text"] == "```\nSELECT 'ˋˋˋ' || '&amp;amp;' -- &lt;@U123&gt;\n```"


def test_webhook_429_honours_retry_after_then_delivers(
    slack: HTTPServer, policy: RetryPolicy, sleeps: list[float]
) -> None:
    """GIVEN a 429 with Retry-After: 1 WHEN sent THEN the notifier waits 1 s and the retry delivers."""
    slack.expect_ordered_request(HOOK_PATH).respond_with_data("rate_limited", 429, {"Retry-After": "1"})
    slack.expect_ordered_request(HOOK_PATH).respond_with_data("ok")

    results = webhook(slack, policy).send([representative_alert()], deadline=time.monotonic() + 30)

    assert results == [DeliveryResult("alert-0001", "slack")]
    assert sleeps == [1.0]
    assert len(slack.log) == 2


@pytest.mark.parametrize(
    ("retry_after", "wait"),
    [("1.5", 1.5), ("0", 0.0), ("Wed, 21 Oct 2015 07:28:00 GMT", 1.0), ("nan", 1.0), ("-3", 0.0)],
)
def test_retry_after_values_are_read_tolerantly(
    slack: HTTPServer, policy: RetryPolicy, sleeps: list[float], retry_after: str, wait: float
) -> None:
    """GIVEN odd Retry-After values WHEN rate limited THEN seconds as given, 1 s when unreadable."""
    slack.expect_ordered_request(HOOK_PATH).respond_with_data(
        "rate_limited", 429, {"Retry-After": retry_after}
    )
    slack.expect_ordered_request(HOOK_PATH).respond_with_data("ok")

    results = webhook(slack, policy).send([representative_alert()])

    assert results == [DeliveryResult("alert-0001", "slack")]
    assert sleeps == ([wait] if wait else [])


def test_retry_after_beyond_the_deadline_fails_retryable_without_waiting(
    slack: HTTPServer, policy: RetryPolicy, sleeps: list[float]
) -> None:
    """GIVEN Retry-After: 30 and 2 s left WHEN sent THEN no wait, one request, a retryable failure."""
    slack.expect_request(HOOK_PATH).respond_with_data("rate_limited", 429, {"Retry-After": "30"})
    started = time.monotonic()

    [result] = webhook(slack, policy).send([representative_alert()], deadline=started + 2)

    assert time.monotonic() - started < 1.5
    assert sleeps == []
    assert len(slack.log) == 1
    assert result.error is not None
    assert result.error.retryable is True
    assert re.fullmatch(
        r"Slack webhook answered HTTP 429 rate_limited after 1 attempt; "
        r"not retried: Retry-After asks to wait 30\.0s but only [12]\.\ds remain before the deadline",
        str(result.error),
    )
    assert_no_secret(str(result.error), slack)


def test_retry_after_beyond_the_cap_fails_retryable_even_without_deadline(
    slack: HTTPServer, policy: RetryPolicy, sleeps: list[float]
) -> None:
    """GIVEN Retry-After: 120 and no deadline WHEN sent THEN the 30 s cap refuses the wait; retryable."""
    slack.expect_request(HOOK_PATH).respond_with_data("rate_limited", 429, {"retry-after": "120"})

    [result] = webhook(slack, policy).send([representative_alert()])

    assert sleeps == []
    assert result.error is not None
    assert result.error.retryable is True
    assert str(result.error) == (
        "Slack webhook answered HTTP 429 rate_limited after 1 attempt; "
        "not retried: Retry-After asks to wait 120.0s, over the 30s cap"
    )


def test_web_api_429_honours_retry_after_then_delivers(
    slack: HTTPServer, policy: RetryPolicy, sleeps: list[float]
) -> None:
    """GIVEN chat.postMessage answering 429 once WHEN sent THEN it waits Retry-After and delivers."""
    slack.expect_ordered_request("/api/chat.postMessage").respond_with_json(
        {"ok": False, "error": "ratelimited"}, 429, {"Retry-After": "2"}
    )
    slack.expect_ordered_request("/api/chat.postMessage").respond_with_json({"ok": True})

    results = web_api(slack, policy).send([representative_alert()])

    assert results == [DeliveryResult("alert-0001", "slack")]
    assert sleeps == [2.0]


def test_500_then_success_is_retried_with_backoff(
    slack: HTTPServer, policy: RetryPolicy, sleeps: list[float]
) -> None:
    """GIVEN one 500 WHEN sent THEN one backoff wait and the retry delivers."""
    slack.expect_ordered_request(HOOK_PATH).respond_with_data("internal_error", 500)
    slack.expect_ordered_request(HOOK_PATH).respond_with_data("ok")

    results = webhook(slack, policy).send([representative_alert()])

    assert results == [DeliveryResult("alert-0001", "slack")]
    assert sleeps == [BACKOFF]


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_errors_forever_end_retryable_after_three_attempts(
    slack: HTTPServer, policy: RetryPolicy, sleeps: list[float], status: int
) -> None:
    """GIVEN a 5xx on every attempt WHEN sent THEN three attempts, two waits, a retryable failure."""
    slack.expect_request(HOOK_PATH).respond_with_data("upstream trouble", status)

    [result] = webhook(slack, policy).send([representative_alert()])

    assert len(slack.log) == 3
    assert sleeps == [BACKOFF, BACKOFF]
    assert result.error is not None
    assert result.error.retryable is True
    assert str(result.error) == f"Slack webhook answered HTTP {status} upstream trouble after 3 attempts"


def test_web_api_500_forever_is_retryable(slack: HTTPServer, policy: RetryPolicy) -> None:
    """GIVEN chat.postMessage failing with 500 WHEN sent THEN a retryable failure that omits the token."""
    slack.expect_request("/api/chat.postMessage").respond_with_data("oops", 500)

    [result] = web_api(slack, policy).send([representative_alert()])

    assert len(slack.log) == 3
    assert result.error is not None
    assert result.error.retryable is True
    assert str(result.error).startswith("Slack chat.postMessage answered HTTP 500 ")
    assert_no_secret(str(result.error), slack)


def test_backoff_that_does_not_fit_the_deadline_is_not_waited(slack: HTTPServer, sleeps: list[float]) -> None:
    """GIVEN a 503 and a 5 s backoff with 1 s left WHEN sent THEN one attempt and a retryable failure."""
    slow_backoff = RetryPolicy(
        interval_calculator=FixedValueRetryIntervalCalculator(5.0), sleep=sleeps.append
    )
    slack.expect_request(HOOK_PATH).respond_with_data("service_unavailable", 503)

    [result] = webhook(slack, slow_backoff).send([representative_alert()], deadline=time.monotonic() + 1)

    assert len(slack.log) == 1
    assert sleeps == []
    assert result.error is not None
    assert result.error.retryable is True
    assert "not retried: backoff asks to wait 5.0s but only" in str(result.error)


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (404, "no_service"),
        (403, "invalid_token"),
        (404, "channel_not_found"),
        (400, "invalid_payload"),
        (410, "channel_is_archived"),
    ],
)
def test_rejected_webhook_is_not_retryable_and_hides_the_url(
    slack: HTTPServer, policy: RetryPolicy, sleeps: list[float], status: int, body: str
) -> None:
    """GIVEN a 4xx (dead or bad hook) WHEN sent THEN one attempt; the error names status and error only."""
    slack.expect_request(HOOK_PATH).respond_with_data(body, status)

    [result] = webhook(slack, policy).send([representative_alert()])

    assert len(slack.log) == 1
    assert sleeps == []
    assert result.error is not None
    assert result.error.retryable is False
    assert str(result.error) == f"Slack webhook answered HTTP {status} {body} after 1 attempt"
    assert_no_secret(str(result.error), slack)


@pytest.mark.parametrize(
    ("error", "retryable"),
    [("channel_not_found", False), ("not_in_channel", False), ("invalid_auth", False), ("fatal_error", True)],
)
def test_web_api_errors_are_classified_by_slack_error(
    slack: HTTPServer, policy: RetryPolicy, error: str, retryable: bool
) -> None:
    """GIVEN chat.postMessage answering ok=false WHEN sent THEN retryable only for transient errors."""
    slack.expect_request("/api/chat.postMessage").respond_with_json({"ok": False, "error": error})

    [result] = web_api(slack, policy).send([representative_alert()])

    assert result.error is not None
    assert result.error.retryable is retryable
    assert str(result.error) == f"Slack chat.postMessage answered HTTP 200 {error} after 1 attempt"
    assert_no_secret(str(result.error), slack)


def test_one_failed_alert_does_not_stop_the_next(slack: HTTPServer, policy: RetryPolicy) -> None:
    """GIVEN two alerts, the first rejected WHEN sent THEN one result each, the second delivered."""
    slack.expect_ordered_request(HOOK_PATH).respond_with_data("invalid_payload", 400)
    slack.expect_ordered_request(HOOK_PATH).respond_with_data("ok")

    results = webhook(slack, policy).send([representative_alert("first"), representative_alert("second")])

    assert [(result.alert_id, result.delivered) for result in results] == [("first", False), ("second", True)]


def test_deadline_already_passed_sends_nothing(slack: HTTPServer, policy: RetryPolicy) -> None:
    """GIVEN a deadline in the past WHEN sent THEN no request and a retryable failure."""
    [result] = webhook(slack, policy).send([representative_alert()], deadline=time.monotonic() - 1)

    assert slack.log == []
    assert result.error is not None
    assert result.error.retryable is True


def closed_port_url() -> str:
    """A webhook URL on a local port nobody listens on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}{HOOK_PATH}"


def test_connection_refused_is_retried_then_retryable(
    policy: RetryPolicy, sleeps: list[float], caplog: pytest.LogCaptureFixture
) -> None:
    """GIVEN a closed port WHEN sent THEN three attempts, a retryable failure, the URL in no error or log."""
    url = closed_port_url()
    caplog.set_level(logging.DEBUG)

    [result] = SlackNotifier.from_webhook_url(url, timeout=1, policy=policy).send([representative_alert()])

    assert sleeps == [BACKOFF, BACKOFF]
    assert result.error is not None
    assert result.error.retryable is True
    assert str(result.error).startswith(
        "Slack unreachable (URLError: [Errno 111] Connection refused) after 3 attempts"
    )
    assert url not in str(result.error)
    assert "s3cr3t" not in caplog.text


@pytest.fixture
def slow_server() -> Iterator[tuple[HTTPServer, threading.Event]]:
    """A threaded server whose handler stalls until released (at most 3 s), so requests time out."""
    release = threading.Event()

    def stall(_request: Request) -> Response:
        release.wait(3)
        return Response("ok")

    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.expect_request(HOOK_PATH).respond_with_handler(stall)
    server.start()
    yield server, release
    release.set()
    server.clear()
    server.stop()


def test_timeouts_are_retried_then_retryable(
    slow_server: tuple[HTTPServer, threading.Event], policy: RetryPolicy, sleeps: list[float]
) -> None:
    """GIVEN a server slower than the 0.2 s client timeout WHEN sent THEN three attempts, retryable."""
    server, _release = slow_server
    started = time.monotonic()

    [result] = webhook(server, policy, timeout=0.2).send([representative_alert()])

    assert time.monotonic() - started < 2
    assert sleeps == [BACKOFF, BACKOFF]
    assert result.error is not None
    assert result.error.retryable is True
    assert str(result.error).endswith(") after 3 attempts")
    assert "timed out" in str(result.error)
    assert_no_secret(str(result.error), server)


def test_attempt_timeout_is_cut_to_the_deadline(
    slow_server: tuple[HTTPServer, threading.Event], policy: RetryPolicy, sleeps: list[float]
) -> None:
    """GIVEN a 10 s client timeout but 0.6 s left WHEN the server stalls THEN it gives up by the deadline."""
    server, _release = slow_server
    started = time.monotonic()

    [result] = webhook(server, policy, timeout=10).send([representative_alert()], deadline=started + 0.6)

    assert time.monotonic() - started < 1.5
    assert sleeps == []
    assert result.error is not None
    assert result.error.retryable is True


@pytest.mark.parametrize(
    ("secret", "client_type"),
    [
        ({"webhook_url": "https://hooks.slack.com/services/T/B/X"}, WebhookClient),
        ({"token": "xoxb-1", "channel": "C1"}, WebClient),
        ({"webhook_url": "https://hooks.slack.com/services/T/B/X", "token": "xoxb-1"}, WebhookClient),
    ],
)
def test_from_secret_builds_the_matching_client(secret: dict[str, str], client_type: type) -> None:
    """GIVEN a webhook or token secret WHEN built THEN the notifier uses the matching slack-sdk client."""
    notifier = SlackNotifier.from_secret(secret)

    assert notifier.channel == "slack"
    assert type(notifier._client) is client_type


@pytest.mark.parametrize(
    ("secret", "message"),
    [
        ({}, "the Slack secret is missing 'webhook_url' (or 'token' and 'channel')"),
        ({"token": "xoxb-s3cr3t"}, "the Slack secret has 'token' but is missing 'channel'"),
        ({"channel": "C1"}, "the Slack secret has 'channel' but is missing 'token'"),
        ({"webhook_url": "hooks.slack.com/s3cr3t"}, "the Slack webhook URL must be an http(s) URL"),
        (
            {"url": "https://hooks.slack.com/s3cr3t"},
            "the Slack secret is missing 'webhook_url' (or 'token' and 'channel')",
        ),
    ],
)
def test_from_secret_names_the_missing_key_without_echoing_the_secret(
    secret: dict[str, str], message: str
) -> None:
    """GIVEN an incomplete secret WHEN built THEN a ValueError names the key and never the value."""
    with pytest.raises(ValueError, match="Slack") as raised:
        SlackNotifier.from_secret(secret)

    assert str(raised.value) == message
    assert "s3cr3t" not in str(raised.value)


def test_web_client_without_channel_is_refused() -> None:
    """GIVEN a bot-token client and no channel id WHEN built THEN a ValueError."""
    with pytest.raises(ValueError, match="channel"):
        SlackNotifier(WebClient(token="xoxb-1"))
