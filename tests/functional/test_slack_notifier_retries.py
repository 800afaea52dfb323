"""SlackNotifier retries against a real HTTP server on 127.0.0.1: Retry-After, 5xx backoff, deadlines."""

from __future__ import annotations

import re
import time

import pytest
from pytest_httpserver import HTTPServer
from slack_sdk.http_retry.builtin_interval_calculators import FixedValueRetryIntervalCalculator

from notifiers.notifier import DeliveryResult
from notifiers.slack import RetryPolicy
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


def test_deadline_already_passed_sends_nothing(slack: HTTPServer, policy: RetryPolicy) -> None:
    """GIVEN a deadline in the past WHEN sent THEN no request and a retryable failure."""
    [result] = webhook(slack, policy).send([representative_alert()], deadline=time.monotonic() - 1)

    assert slack.log == []
    assert result.error is not None
    assert result.error.retryable is True
