"""SlackNotifier failures against a local HTTP server: rejected requests, refused connections, timeouts."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from notifiers.slack import RetryPolicy, SlackNotifier
from tests.functional.slack_server import (  # noqa: F401 - fixtures are used by name
    BACKOFF,
    HOOK_PATH,
    assert_no_secret,
    module_server_fixture,
    no_proxy_fixture,
    policy_fixture,
    representative_alert,
    slack_fixture,
    sleeps_fixture,
    web_api,
    webhook,
)


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
