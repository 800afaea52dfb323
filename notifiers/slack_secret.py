"""Slack configured by a Secrets Manager secret, read (through Powertools' cache) when alerts go out."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Sequence

from aws_lambda_powertools.utilities import parameters
from botocore.exceptions import BotoCoreError, ClientError, ConnectionError, HTTPClientError

from notifiers.notifier import DeliveryError, DeliveryResult, Notifier, OutgoingAlert
from notifiers.slack import RetryPolicy, SlackNotifier

logger = logging.getLogger(__name__)

SECRET_MAX_AGE_SECONDS = 300
# Secrets Manager answers that may pass on their own; anything else is configuration to fix.
_RETRYABLE_CODES = frozenset(
    {"ThrottlingException", "InternalServiceError", "ServiceUnavailable", "RequestTimeout"}
)

NotifierFactory = Callable[[dict[str, str]], Notifier]


class SecretSlackNotifier:
    """The Slack channel whose webhook or token lives in a secret; a rotated secret is picked up."""

    channel = "slack"

    def __init__(
        self,
        secret_arn: str,
        provider: parameters.SecretsProvider,
        *,
        policy: RetryPolicy | None = None,
        factory: NotifierFactory | None = None,
    ) -> None:
        """Read `secret_arn` through `provider` (cached SECRET_MAX_AGE_SECONDS) whenever alerts are sent."""
        self._secret_arn = secret_arn
        self._provider = provider
        self._factory = factory or (lambda secret: SlackNotifier.from_secret(secret, policy=policy))
        self._built: tuple[str, Notifier] | None = None  # (digest of the secret, its notifier)
        self._reported: str = ""

    def send(self, alerts: Sequence[OutgoingAlert], *, deadline: float | None = None) -> list[DeliveryResult]:
        """Send through the secret's current Slack client; an unusable secret fails every alert."""
        try:
            notifier = self._current()
        except DeliveryError as error:
            if str(error) != self._reported:  # once per distinct problem, not once per alert
                self._reported = str(error)
                logger.error("Slack is configured but unusable: %s (%s)", error, self._secret_arn)
            return [DeliveryResult(a.alert_id, self.channel, error) for a in alerts]
        self._reported = ""
        return notifier.send(alerts, deadline=deadline)

    def _current(self) -> Notifier:
        """The notifier for the secret's present value, rebuilt only when the value changes."""
        try:
            value = self._provider.get(self._secret_arn, max_age=SECRET_MAX_AGE_SECONDS)
        except parameters.exceptions.GetParameterError as exc:
            raise DeliveryError(_read_failure(exc), retryable=_is_retryable(exc)) from exc
        text = value.decode("utf-8", errors="replace") if isinstance(value, bytes) else str(value or "")
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
        if self._built is not None and self._built[0] == digest:
            return self._built[1]
        try:
            secret = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DeliveryError("the Slack secret is not JSON", retryable=False) from exc
        if not isinstance(secret, dict):
            raise DeliveryError("the Slack secret must be a JSON object", retryable=False)
        try:
            notifier = self._factory({str(k): str(v) for k, v in secret.items()})
        except ValueError as exc:  # from_secret names the missing keys, never the values
            raise DeliveryError(str(exc), retryable=False) from exc
        self._built = (digest, notifier)
        return notifier


def _cause(exc: BaseException) -> BaseException | None:
    """The AWS error Powertools wrapped (it raises without `from`, so it is the context)."""
    return exc.__cause__ or exc.__context__


def _is_retryable(exc: parameters.exceptions.GetParameterError) -> bool:
    """Whether reading the secret may work on a later try (throttling, 5xx, network)."""
    cause = _cause(exc)
    if isinstance(cause, ClientError):
        error = cause.response.get("Error", {})
        status = int(cause.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        return error.get("Code", "") in _RETRYABLE_CODES or status >= 500 or status == 429
    return isinstance(cause, ConnectionError | HTTPClientError) or (
        isinstance(cause, BotoCoreError) and "timeout" in type(cause).__name__.lower()
    )


def _read_failure(exc: parameters.exceptions.GetParameterError) -> str:
    """Why the secret could not be read, by error code only (never the value)."""
    cause = _cause(exc)
    if isinstance(cause, ClientError):
        return f"the Slack secret could not be read ({cause.response.get('Error', {}).get('Code', 'error')})"
    return f"the Slack secret could not be read ({type(cause).__name__ if cause else 'error'})"
