"""SlackNotifier against a real HTTP server on 127.0.0.1: exact payload, escaping, building from secrets."""

from __future__ import annotations

import dataclasses

import pytest
from pytest_httpserver import HTTPServer
from slack_sdk import WebClient
from slack_sdk.webhook import WebhookClient

from detections.finding import Alert
from notifiers.notifier import DeliveryResult, OutgoingAlert
from notifiers.slack import RetryPolicy, SlackNotifier
from tests.functional.slack_server import (  # noqa: F401 - fixtures are used by name
    CHANNEL_ID,
    EXPECTED_PAYLOAD,
    HOOK_PATH,
    T0,
    TOKEN,
    module_server_fixture,
    no_proxy_fixture,
    policy_fixture,
    representative_alert,
    slack_fixture,
    sleeps_fixture,
    web_api,
    webhook,
)


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
