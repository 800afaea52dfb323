"""Deliver alerts to Slack (incoming webhook or chat.postMessage) within a deadline; secrets never in errors.

Retries use slack-sdk's own retry handlers to decide *whether* to retry (429, server errors, connection
errors); this module decides *how long*: every wait (Retry-After or backoff) must fit before the
caller's deadline, waits go through an injectable sleep, and each attempt's timeout is cut to the time
left. When a retry does not fit, the last outcome becomes a retryable DeliveryError.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from http.client import HTTPException, RemoteDisconnected
from typing import Any
from urllib.error import URLError
from urllib.parse import urlsplit

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_interval_calculators import BackoffRetryIntervalCalculator
from slack_sdk.http_retry.handler import RetryHandler
from slack_sdk.http_retry.interval_calculator import RetryIntervalCalculator
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.webhook import WebhookClient, WebhookResponse

from notifiers.mrkdwn import single_line
from notifiers.notifier import DeliveryError, DeliveryResult, OutgoingAlert
from notifiers.slack_render import render_slack_message

DEFAULT_TIMEOUT = 10.0  # seconds per HTTP attempt (cut further to the deadline)
MIN_ATTEMPT_SECONDS = 0.5  # a retry is only worth it if this much time is left after its wait
RETRYABLE_STATUSES = frozenset({408, 429})  # plus every 5xx
# Web API `error` values that mean "try again later" (Slack's documented transient errors).
RETRYABLE_API_ERRORS = frozenset(
    {"ratelimited", "request_timeout", "service_unavailable", "fatal_error", "internal_error"}
)
_ERROR_TEXT_LIMIT = 100
_REDACTED = "[redacted]"

SlackClient = WebhookClient | WebClient


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How hard to try one message: attempts, waits between them, and the clock/sleep they run on."""

    max_attempts: int = 3
    max_wait: float = 30.0  # longest single wait (Retry-After or backoff), deadline or not
    # slack-sdk's default: 0.5 s × 2^retry plus up to 1 s of random jitter.
    interval_calculator: RetryIntervalCalculator = field(default_factory=BackoffRetryIntervalCalculator)
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic  # the clock `deadline` is measured on


class _RetryBudget:
    """The time one message may still use: waits must fit before the deadline, attempts are cut to it."""

    def __init__(self, client: SlackClient, policy: RetryPolicy, attempt_timeout: float) -> None:
        self._client = client
        self._policy = policy
        self._attempt_timeout = attempt_timeout
        self.deadline: float | None = None
        self.attempts = 0
        self.refusal = ""  # why the last retry was not made, for the error message
        self._planned_wait = 0.0

    def start(self, deadline: float | None) -> None:
        """Begin a new message: first attempt, no refusal, timeout fitted to the deadline."""
        self.deadline, self.attempts, self.refusal = deadline, 1, ""
        self._fit_attempt_timeout()

    def remaining(self) -> float | None:
        """Seconds left before the deadline (None when there is none)."""
        return None if self.deadline is None else self.deadline - self._policy.clock()

    def allows(self, wait: float, reason: str) -> bool:
        """Whether a retry after `wait` seconds fits; remembers the wait, or why it was refused."""
        remaining = self.remaining()
        if wait > self._policy.max_wait:
            self.refusal = f"{reason} asks to wait {wait:.1f}s, over the {self._policy.max_wait:.0f}s cap"
            return False
        if remaining is not None and wait + MIN_ATTEMPT_SECONDS > remaining:
            left = max(remaining, 0.0)
            self.refusal = (
                f"{reason} asks to wait {wait:.1f}s but only {left:.1f}s remain before the deadline"
            )
            return False
        self._planned_wait = wait
        return True

    def wait(self) -> None:
        """Sleep the planned wait, then start the next attempt with a timeout that fits."""
        if self._planned_wait > 0:
            self._policy.sleep(self._planned_wait)
        self.attempts += 1
        self._fit_attempt_timeout()

    def _fit_attempt_timeout(self) -> None:
        """Cut the client's per-request timeout to the time left."""
        remaining = self.remaining()
        seconds = self._attempt_timeout if remaining is None else min(self._attempt_timeout, remaining)
        # urllib accepts float seconds; slack-sdk annotates the attribute as int.
        self._client.timeout = max(seconds, 0.001)  # type: ignore[assignment]


class _BudgetedRetry(RetryHandler):
    """A slack-sdk handler decides whether to retry; the budget decides whether the wait fits and sleeps."""

    def __init__(
        self,
        decides: RetryHandler,
        budget: _RetryBudget,
        wait_for: Callable[[RetryState, HttpResponse | None], float],
        reason: str,
    ) -> None:
        super().__init__(
            max_retry_count=decides.max_retry_count, interval_calculator=decides.interval_calculator
        )
        self._decides = decides
        self._budget = budget
        self._wait_for = wait_for
        self._reason = reason

    def can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        """Retry when the built-in handler would and its wait fits the budget."""
        if not self._decides.can_retry(state=state, request=request, response=response, error=error):
            return False
        return self._budget.allows(self._wait_for(state, response), self._reason)

    def prepare_for_next_attempt(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        """Wait through the budget (injectable sleep) instead of slack-sdk's time.sleep."""
        state.next_attempt_requested = True
        self._budget.wait()
        state.increment_current_attempt()


class _AnyServerErrorRetryHandler(ServerErrorRetryHandler):
    """slack-sdk's server-error handler widened from 500/503 to every 5xx (502/504 come from proxies)."""

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        """Whether the response is a 5xx."""
        return response is not None and 500 <= response.status_code < 600


def _retry_after(state: RetryState, response: HttpResponse | None) -> float:
    """Seconds Slack asked to wait (Retry-After, read case-insensitively); 1 s when absent or unreadable."""
    headers = response.headers if response is not None else {}
    for name, values in headers.items():
        if name.lower() == "retry-after":
            value = values[0] if isinstance(values, list) and values else values
            try:
                seconds = float(str(value).strip())
            except ValueError:  # an HTTP-date: Slack sends seconds, so fall back to the default
                break
            return max(seconds, 0.0) if math.isfinite(seconds) else 1.0
    return 1.0


def _retry_handlers(budget: _RetryBudget, policy: RetryPolicy) -> list[RetryHandler]:
    """Rate limits, server errors and connection errors/timeouts, all bounded by the budget."""
    retries = policy.max_attempts - 1
    calculator = policy.interval_calculator

    def backoff(state: RetryState, _response: HttpResponse | None) -> float:
        """The policy's backoff for this retry (0-based attempt count)."""
        return calculator.calculate_sleep_duration(state.current_attempt)

    connection_errors: list[type[Exception]] = [URLError, ConnectionError, RemoteDisconnected, TimeoutError]
    return [
        _BudgetedRetry(
            RateLimitErrorRetryHandler(max_retry_count=retries), budget, _retry_after, "Retry-After"
        ),
        _BudgetedRetry(_AnyServerErrorRetryHandler(max_retry_count=retries), budget, backoff, "backoff"),
        _BudgetedRetry(
            ConnectionErrorRetryHandler(max_retry_count=retries, error_types=connection_errors),
            budget,
            backoff,
            "backoff",
        ),
    ]


def _quiet_logger() -> logging.Logger:
    """slack-sdk logs request URLs (a webhook URL is a secret) at INFO; failures surface as results."""
    logger = logging.getLogger(f"{__name__}.sdk")
    logger.setLevel(logging.CRITICAL)
    return logger


class SlackNotifier:
    """The "slack" channel: one Block Kit message per alert, by incoming webhook or chat.postMessage.

    The notifier owns the retry policy: the client's retry handlers are replaced by deadline-aware ones.
    Build clients with the from_* constructors: they also silence slack-sdk's URL-logging logger.
    """

    channel: str = "slack"

    def __init__(
        self,
        client: SlackClient,
        *,
        channel_id: str = "",
        timeout: float | None = None,
        policy: RetryPolicy | None = None,
    ) -> None:
        if isinstance(client, WebClient) and not channel_id:
            raise ValueError("a Slack bot-token client needs the id of the channel to post to")
        self._policy = policy or RetryPolicy()
        if self._policy.max_attempts < 1:
            raise ValueError("RetryPolicy.max_attempts must be at least 1")
        self._client = client
        self._channel_id = channel_id
        self._secrets = _secrets_of(client)
        attempt_timeout = float(client.timeout) if timeout is None else timeout
        self._budget = _RetryBudget(client, self._policy, attempt_timeout)
        client.retry_handlers = _retry_handlers(self._budget, self._policy)

    @classmethod
    def from_webhook_url(
        cls, url: str, *, timeout: float = DEFAULT_TIMEOUT, policy: RetryPolicy | None = None
    ) -> SlackNotifier:
        """A notifier posting to an incoming webhook (the URL is a secret and never appears in errors)."""
        if not isinstance(url, str) or not url.lower().startswith(("https://", "http://")):
            raise ValueError("the Slack webhook URL must be an http(s) URL")
        client = WebhookClient(url, timeout=math.ceil(timeout), logger=_quiet_logger(), retry_handlers=[])
        return cls(client, timeout=timeout, policy=policy)

    @classmethod
    def from_token(
        cls,
        token: str,
        channel: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        policy: RetryPolicy | None = None,
        base_url: str = WebClient.BASE_URL,
    ) -> SlackNotifier:
        """A notifier calling chat.postMessage with a bot token into `channel` (a channel id)."""
        if not isinstance(token, str) or not token.strip():
            raise ValueError("the Slack bot token is empty")
        if not isinstance(channel, str) or not channel.strip():
            raise ValueError("the Slack channel id is empty")
        client = WebClient(
            token=token,
            base_url=base_url,
            timeout=math.ceil(timeout),
            logger=_quiet_logger(),
            retry_handlers=[],
        )
        return cls(client, channel_id=channel.strip(), timeout=timeout, policy=policy)

    @classmethod
    def from_secret(
        cls, secret: Mapping[str, str], *, timeout: float = DEFAULT_TIMEOUT, policy: RetryPolicy | None = None
    ) -> SlackNotifier:
        """From a secret holding {"webhook_url": …} or {"token": …, "channel": …}; errors name keys only."""
        webhook_url, token, channel = (
            _secret_value(secret, key) for key in ("webhook_url", "token", "channel")
        )
        if webhook_url:
            return cls.from_webhook_url(webhook_url, timeout=timeout, policy=policy)
        if token and channel:
            return cls.from_token(token, channel, timeout=timeout, policy=policy)
        if token:
            raise ValueError("the Slack secret has 'token' but is missing 'channel'")
        if channel:
            raise ValueError("the Slack secret has 'channel' but is missing 'token'")
        raise ValueError("the Slack secret is missing 'webhook_url' (or 'token' and 'channel')")

    def send(self, alerts: Sequence[OutgoingAlert], *, deadline: float | None = None) -> list[DeliveryResult]:
        """Deliver each alert; one alert's failure is its DeliveryResult, never an exception."""
        return [
            DeliveryResult(outgoing.alert_id, self.channel, self._attempt(outgoing, deadline))
            for outgoing in alerts
        ]

    def _attempt(self, outgoing: OutgoingAlert, deadline: float | None) -> DeliveryError | None:
        """None when delivered, else the DeliveryError (one alert's failure never stops the others)."""
        try:
            self._deliver(render_slack_message(outgoing), deadline)
        except DeliveryError as exc:
            return exc
        except Exception as exc:  # noqa: BLE001 — per-alert isolation boundary
            detail = self._scrub(f"{type(exc).__name__}: {exc}")[:_ERROR_TEXT_LIMIT]
            return DeliveryError(f"Slack delivery failed unexpectedly ({detail})", retryable=False)
        return None

    def _deliver(self, payload: dict[str, Any], deadline: float | None) -> None:
        """Send one payload with the budgeted retries, mapping every failure to a DeliveryError."""
        self._budget.start(deadline)
        remaining = self._budget.remaining()
        if remaining is not None and remaining <= 0:
            raise DeliveryError("Slack: the deadline passed before the message could be sent", retryable=True)
        try:
            if isinstance(self._client, WebClient):
                self._client.chat_postMessage(channel=self._channel_id, **payload)
            else:
                self._check_webhook_response(self._client.send_dict(payload))
        except SlackApiError as exc:
            raise self._api_error(exc) from exc
        except (OSError, HTTPException) as exc:  # URLError, refused/reset connections and timeouts
            message = f"Slack unreachable ({_describe(exc)}) {self._tried()}"
            raise DeliveryError(self._scrub(message), retryable=True) from exc
        except SlackClientError as exc:  # SlackRequestError: a malformed URL or proxy setting
            raise DeliveryError(
                f"Slack client refused the request ({type(exc).__name__})", retryable=False
            ) from exc

    def _check_webhook_response(self, response: WebhookResponse) -> None:
        """Raise for any non-2xx webhook answer: 408/429/5xx retryable, other 4xx (bad hook) not."""
        status = response.status_code
        if 200 <= status < 300:
            return
        error = _error_text(response.body)
        retryable = status in RETRYABLE_STATUSES or status >= 500
        message = f"Slack webhook answered HTTP {status} {error} {self._tried()}"
        raise DeliveryError(self._scrub(message), retryable=retryable)

    def _api_error(self, exc: SlackApiError) -> DeliveryError:
        """A DeliveryError for a Web API failure: 408/429/5xx and transient `error` values retryable."""
        response = exc.response
        status = int(response.status_code)
        data = response.data
        error = _error_text(str(data.get("error", ""))) if isinstance(data, dict) else ""
        retryable = status in RETRYABLE_STATUSES or status >= 500 or error in RETRYABLE_API_ERRORS
        message = f"Slack chat.postMessage answered HTTP {status} {error} {self._tried()}"
        return DeliveryError(self._scrub(message), retryable=retryable)

    def _tried(self) -> str:
        """'after 1 attempt', 'after 3 attempts', plus '; not retried: …' when the budget refused one."""
        count, refusal = self._budget.attempts, self._budget.refusal
        plural = "" if count == 1 else "s"
        return f"after {count} attempt{plural}" + (f"; not retried: {refusal}" if refusal else "")

    def _scrub(self, text: str) -> str:
        """The text with the webhook URL (and its path) or the token replaced, as defence in depth."""
        for secret in self._secrets:
            text = text.replace(secret, _REDACTED)
        return text


def _secrets_of(client: SlackClient) -> list[str]:
    """The secret strings a client holds, longest first: webhook URL and its path, or the token."""
    if isinstance(client, WebClient):
        candidates = [client.token or ""]
    else:
        candidates = [client.url, urlsplit(client.url).path]
    return sorted({secret for secret in candidates if len(secret) > 1}, key=len, reverse=True)


def _secret_value(secret: Mapping[str, str], key: str) -> str:
    """The key's value stripped, '' when absent; a non-string value is an error naming only the key."""
    value = secret.get(key, "")
    if not isinstance(value, str):
        raise ValueError(f"the Slack secret's {key!r} must be a string")
    return value.strip()


def _error_text(body: str) -> str:
    """Slack's error string (e.g. no_service, channel_not_found) on one line, cut short."""
    return single_line(body).strip()[:_ERROR_TEXT_LIMIT]


def _describe(exc: BaseException) -> str:
    """'URLError: [Errno 111] Connection refused', 'TimeoutError: timed out' …"""
    reason = exc.reason if isinstance(exc, URLError) else exc
    return f"{type(exc).__name__}: {reason}"
