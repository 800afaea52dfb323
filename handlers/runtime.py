"""The runtime of a deployed function: settings and clients built once per container, lazily."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from detections.catalogue import builtin_rules
from detections.engine import DEFAULT_INTERNAL_USERS, DetectionEngine, EngineSettings
from detections.rule import Rule
from detections.rule_needs import prefilter_for
from detections.state import InMemoryStateStore, StateStore
from detections.suppression import (
    DeliveryLedger,
    InMemoryDeliveryLedger,
    InMemorySuppressionStore,
    SuppressionWindows,
)
from handlers.settings import Settings, SettingsError
from infra.log_selection import DEFAULT_LOG_GROUP_PATTERNS, LogGroupSelection
from notifiers.delivery import Delivery
from notifiers.notifier import Notifier
from parsers.prefilter import Prefilter

# Cold start: PyYAML and Powertools parameters (a rules file), slack-sdk (Slack), the SNS renderer
# (email) and the DynamoDB adapters (a state table) are imported where the setting that needs them is read.
if TYPE_CHECKING:
    import boto3
    import yaml
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_kms import KMSClient
    from mypy_boto3_logs import CloudWatchLogsClient
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_ssm import SSMClient

    from detections.user_rules import RuleFile
    from handlers.quarantine import SqsQuarantine
    from notifiers.slack import RetryPolicy
    from parsers.das_decrypt import ActivityStreamDecryptor

logger = logging.getLogger(__name__)

# Short timeouts and standard retries: a Lambda must keep time to report what it could not do.
CLIENT_OPTIONS: dict[str, Any] = {
    "retries": {"mode": "standard", "max_attempts": 3},
    "connect_timeout": 3,
    "read_timeout": 10,
}
SECRET_MAX_AGE_SECONDS = 300
DEFAULT_SUPPRESSION_MINUTES = 5.0


class Runtime:
    """Settings plus everything built from them; one per container, reused by warm invocations."""

    def __init__(
        self,
        settings: Settings,
        session: boto3.Session | None = None,
        *,
        slack_policy: RetryPolicy | None = None,
    ) -> None:
        """Keep the settings; clients are created on first use (inside a moto mock in tests).

        `slack_policy` replaces Slack's default retry policy (tests inject a sleep that does not sleep).
        """
        self.settings = settings
        self._session = session
        self._slack_policy = slack_policy

    @cached_property
    def session(self) -> boto3.Session:
        """The boto3 session clients come from (never with botocore's response bodies logged)."""
        # At DEBUG botocore.parsers logs response bodies, and KMS Decrypt's holds the plaintext data key.
        body_logger = logging.getLogger("botocore.parsers")
        if body_logger.getEffectiveLevel() < logging.INFO:
            body_logger.setLevel(logging.INFO)
        if self._session is not None:
            return self._session
        import boto3  # noqa: PLC0415 - deferred: a function with no state table or channel never needs it

        return boto3.Session()

    def _client(self, service: str) -> Any:
        """A client for `service` with the Lambda-friendly config."""
        from botocore.config import Config  # noqa: PLC0415 - loaded with boto3, on the first client

        config = Config(**CLIENT_OPTIONS)
        return self.session.client(service, config=config)  # type: ignore[call-overload]

    @cached_property
    def sns(self) -> SNSClient:
        """The SNS client."""
        client: SNSClient = self._client("sns")
        return client

    @cached_property
    def dynamodb(self) -> DynamoDBClient:
        """The DynamoDB client."""
        client: DynamoDBClient = self._client("dynamodb")
        return client

    @cached_property
    def kms(self) -> KMSClient:
        """The KMS client."""
        client: KMSClient = self._client("kms")
        return client

    @cached_property
    def sqs(self) -> SQSClient:
        """The SQS client."""
        client: SQSClient = self._client("sqs")
        return client

    @cached_property
    def secrets(self) -> SecretsManagerClient:
        """The Secrets Manager client."""
        client: SecretsManagerClient = self._client("secretsmanager")
        return client

    @cached_property
    def ssm(self) -> SSMClient:
        """The SSM client."""
        client: SSMClient = self._client("ssm")
        return client

    @cached_property
    def logs(self) -> CloudWatchLogsClient:
        """The CloudWatch Logs client (adaptive retries: the subscriber walks many log groups)."""
        from infra.subscriptions import LOGS_CLIENT_CONFIG  # noqa: PLC0415 - botocore only for the subscriber

        client: CloudWatchLogsClient = self.session.client("logs", config=LOGS_CLIENT_CONFIG)
        return client

    @cached_property
    def subscription_selection(self) -> LogGroupSelection:
        """The log groups the subscriber attaches our filter to."""
        return LogGroupSelection(
            patterns=self.settings.subscription_patterns or DEFAULT_LOG_GROUP_PATTERNS,
            exclude_prefixes=self.settings.subscription_exclude_prefixes,
        )

    @cached_property
    def state_store(self) -> StateStore:
        """DynamoDB state when a table is configured, else per-container memory (warned once)."""
        if self.settings.state_table:
            from stores.dynamodb_state import DynamoDbStateStore  # noqa: PLC0415 - deferred import

            return DynamoDbStateStore(self.settings.state_table, self.dynamodb)
        logger.warning(
            "ALERTS_STATE_TABLE is not set: windows and suppression live only as long as this container"
        )
        return InMemoryStateStore()

    @cached_property
    def suppression(self) -> SuppressionWindows:
        """Where suppression windows (and the digests of their folds) are kept."""
        if self.settings.state_table:
            from stores.dynamodb_suppression import DynamoDbSuppressionStore  # noqa: PLC0415 - deferred import

            return DynamoDbSuppressionStore(self.settings.state_table, self.dynamodb)
        return InMemorySuppressionStore()

    @cached_property
    def ledger(self) -> DeliveryLedger:
        """Where delivered alerts are remembered."""
        if self.settings.state_table:
            from stores.dynamodb_suppression import DynamoDbDeliveryLedger  # noqa: PLC0415 - deferred import

            return DynamoDbDeliveryLedger(self.settings.state_table, self.dynamodb)
        return InMemoryDeliveryLedger()

    @cached_property
    def rule_file(self) -> RuleFile | None:
        """The user rules named by ALERTS_RULES: a file bundled with the function, or an SSM parameter."""
        name = self.settings.rules
        if name is None:
            return None
        # Imported here: jsonschema and the rule schema cost cold start to functions without user rules.
        import yaml  # noqa: PLC0415
        from aws_lambda_powertools.utilities import parameters  # noqa: PLC0415

        from detections.user_rules import load_rules_file, parse_rules_document  # noqa: PLC0415

        root = Path(self.settings.task_root or ".")
        for candidate in (Path(name), root / name):
            if candidate.is_file():
                return load_rules_file(candidate)
        provider = parameters.SSMProvider(boto3_client=self.ssm)
        try:
            text = provider.get(name, max_age=SECRET_MAX_AGE_SECONDS)
        except parameters.exceptions.GetParameterError as exc:
            raise SettingsError(
                f"ALERTS_RULES={name!r} is neither a bundled file nor a readable SSM parameter"
            ) from exc
        try:
            document = yaml.safe_load(str(text))
        except yaml.YAMLError as exc:
            raise SettingsError(
                f"ALERTS_RULES={name!r}: the SSM parameter is not valid YAML{_yaml_problem(exc)}"
            ) from exc
        return parse_rules_document(document, f"ssm:{name}")

    @cached_property
    def rules(self) -> tuple[Rule, ...]:
        """The built-in rules, tuned and extended by the user rules."""
        return self.rule_file.apply(builtin_rules()) if self.rule_file else builtin_rules()

    @cached_property
    def _prefilter(self) -> Prefilter | None:
        """The pre-filter of the rules, whose remembered answers every batch of the container shares."""
        return prefilter_for(rule.needs for rule in self.rules)

    def prefilter(self) -> Prefilter | None:
        """A pre-filter for one batch (its own drop count); None when a rule needs every record."""
        shared = self._prefilter
        return None if shared is None else shared.for_batch()

    def engine(self) -> DetectionEngine:
        """A fresh engine (its own counters) over the shared rules and state."""
        internal = DEFAULT_INTERNAL_USERS
        if self.rule_file is not None and self.rule_file.internal_users is not None:
            internal = self.rule_file.internal_users
        settings = EngineSettings(internal_users=internal, min_severity=self.settings.min_severity)
        return DetectionEngine(self.rules, self.state_store, settings)

    @cached_property
    def notifiers(self) -> Mapping[str, Notifier]:
        """The configured channels: email through SNS, Slack through the secret's webhook or token."""
        configured: dict[str, Notifier] = {}
        if self.settings.sns_topic_arn:
            from notifiers.sns import SnsNotifier  # noqa: PLC0415 - deferred import

            configured["email"] = SnsNotifier(self.settings.sns_topic_arn, self.sns)
        if self.settings.slack_secret_arn:
            configured["slack"] = self._slack_notifier(self.settings.slack_secret_arn)
        return configured

    def _slack_notifier(self, secret_arn: str) -> Notifier:
        """Slack from the secret, read when alerts go out (Powertools caches it 5 minutes)."""
        from aws_lambda_powertools.utilities import parameters  # noqa: PLC0415 - deferred import

        from notifiers.slack_secret import SecretSlackNotifier  # noqa: PLC0415 - slack-sdk only with Slack

        provider = parameters.SecretsProvider(boto3_client=self.secrets)
        return SecretSlackNotifier(secret_arn, provider, policy=self._slack_policy)

    @cached_property
    def delivery(self) -> Delivery:
        """Delivery through the configured channels and the shared suppression state."""
        minutes = self.settings.suppression_minutes
        if minutes is None and self.rule_file is not None:
            minutes = self.rule_file.suppression_minutes
        window = timedelta(minutes=minutes if minutes is not None else DEFAULT_SUPPRESSION_MINUTES)
        return Delivery(
            self.notifiers, self.suppression, self.ledger, window=window, region=self.settings.region
        )

    @cached_property
    def decryptor(self) -> ActivityStreamDecryptor:
        """Activity-stream decryption with a per-container data-key cache (KMS once per data key)."""
        # Imported here: the Encryption SDK and cryptography cost cold start to the CloudWatch functions.
        from parsers.das_decrypt import ActivityStreamDecryptor, DataKeyCache  # noqa: PLC0415

        cache = DataKeyCache(self.kms, ttl_seconds=self.settings.data_key_ttl_seconds)
        return ActivityStreamDecryptor(cache)

    @cached_property
    def quarantine(self) -> SqsQuarantine | None:
        """The quarantine queue for poison records, when configured."""
        from handlers.quarantine import SqsQuarantine  # noqa: PLC0415 - only the Activity Stream function needs it

        url = self.settings.quarantine_queue_url
        return SqsQuarantine(url, self.sqs) if url else None

    @staticmethod
    def now() -> datetime:
        """The wall clock, for delivery records only (rules read event time)."""
        return datetime.now(UTC)


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """': <problem> (line L, column C)' for a YAML syntax error, on one line; '' when PyYAML says nothing."""
    import yaml  # noqa: PLC0415 - already imported by whoever raised exc

    if not isinstance(exc, yaml.MarkedYAMLError) or not exc.problem:
        return ""
    mark = exc.problem_mark
    where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
    return f": {' '.join(exc.problem.split())}{where}"


_RUNTIME: Runtime | None = None


def get_runtime() -> Runtime:
    """The container's runtime, built from the environment on first use."""
    global _RUNTIME  # noqa: PLW0603 - one runtime per container is the point
    if _RUNTIME is None:
        _RUNTIME = Runtime(Settings.from_env(os.environ))
    return _RUNTIME


def reset_runtime() -> None:
    """Forget the container's runtime (tests change the environment between invocations)."""
    global _RUNTIME  # noqa: PLW0603
    _RUNTIME = None
