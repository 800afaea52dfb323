"""SecretSlackNotifier: the Slack secret read at send time, rotation picked up, failures classified."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
from aws_lambda_powertools.utilities import parameters
from botocore.exceptions import ClientError

from detections.finding import Alert, Finding
from detections.severity import Severity
from notifiers.notifier import DeliveryResult, Notifier, OutgoingAlert
from notifiers.slack_secret import SecretSlackNotifier
from parsers.event import Action, AuditEvent, Source

EVENT = AuditEvent(Source.MYSQL_AUDIT, datetime(2024, 5, 1, tzinfo=UTC), Action.FAILED_CONNECT, user="app")
ALERT = OutgoingAlert(
    "a1", Alert.opened_by(Finding("failed-login", "t", Severity.MEDIUM, ("slack",), "k", EVENT))
)


class ScriptedProvider(parameters.SecretsProvider):
    """A secrets provider answering from a script: a value, or an AWS error to raise."""

    def __init__(self) -> None:
        """Start with no answers."""
        super().__init__(boto3_client=object())  # type: ignore[arg-type]  # never called: _get is overridden
        self.answers: list[str | Exception] = []

    def _get(self, name: str, **sdk_options: Any) -> str:
        """The next scripted answer."""
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


class RecordingNotifier:
    """A Slack stand-in that records which secret built it and what it sent."""

    channel = "slack"

    def __init__(self, secret: dict[str, str]) -> None:
        """Remember the secret."""
        self.secret = secret
        self.sent: list[str] = []

    def send(self, alerts: Sequence[OutgoingAlert], *, deadline: float | None = None) -> list[DeliveryResult]:
        """Record and succeed."""
        self.sent.extend(a.alert_id for a in alerts)
        return [DeliveryResult(a.alert_id, self.channel) for a in alerts]


def _notifier(provider: ScriptedProvider, built: list[RecordingNotifier]) -> SecretSlackNotifier:
    """A SecretSlackNotifier whose Slack clients are RecordingNotifiers."""

    def factory(secret: dict[str, str]) -> Notifier:
        if "webhook_url" not in secret:
            raise ValueError("the Slack secret has neither 'webhook_url' nor 'token' and 'channel'")
        built.append(RecordingNotifier(secret))
        return built[-1]

    return SecretSlackNotifier("arn:secret", provider, factory=factory)


def _client_error(code: str, status: int) -> ClientError:
    """An AWS error as botocore raises it."""
    return ClientError(
        {"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": status}}, "GetSecretValue"
    )


def test_a_rotated_secret_is_picked_up_after_the_cache_expires() -> None:
    # GIVEN a secret that changes between two sends, read with the cache forced out
    provider, built = ScriptedProvider(), []
    provider.answers = ['{"webhook_url": "https://one"}', '{"webhook_url": "https://two"}']
    notifier = _notifier(provider, built)
    notifier.send([ALERT])
    provider.clear_cache()
    # WHEN sending again
    notifier.send([ALERT])
    # THEN the second send used a client built from the new value
    assert [b.secret["webhook_url"] for b in built] == ["https://one", "https://two"]


@pytest.mark.parametrize(
    ("answer", "reason", "retryable"),
    [
        (_client_error("ThrottlingException", 400), "could not be read (ThrottlingException)", True),
        (_client_error("InternalServiceError", 500), "could not be read (InternalServiceError)", True),
        (
            _client_error("ResourceNotFoundException", 400),
            "could not be read (ResourceNotFoundException)",
            False,
        ),
        (_client_error("AccessDeniedException", 400), "could not be read (AccessDeniedException)", False),
        ("not json", "the Slack secret is not JSON", False),
        ('["a list"]', "the Slack secret must be a JSON object", False),
        ('{"token": "xoxb-secret-value"}', "neither 'webhook_url' nor 'token' and 'channel'", False),
    ],
)
def test_an_unusable_secret_fails_each_alert_with_the_right_retryability(
    answer: str | Exception, reason: str, retryable: bool
) -> None:
    # GIVEN a secret that cannot be read or used
    provider = ScriptedProvider()
    provider.answers = [answer]
    # WHEN sending
    (result,) = _notifier(provider, []).send([ALERT])
    # THEN the alert fails, retryable only for what may pass, and no secret value is in the reason
    assert result.error is not None
    assert reason in str(result.error)
    assert result.error.retryable is retryable
    assert "xoxb-secret-value" not in str(result.error)
