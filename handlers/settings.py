"""Runtime settings: the only reader of the deploy contract's environment variable names."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from detections.severity import Severity

ENV_SNS_TOPIC = "ALERTS_SNS_TOPIC_ARN"
ENV_SLACK_SECRET = "ALERTS_SLACK_SECRET_ARN"  # noqa: S105 - the name of a variable, not a secret
ENV_STATE_TABLE = "ALERTS_STATE_TABLE"
ENV_RULES = "ALERTS_RULES"
ENV_SUPPRESSION = "ALERTS_SUPPRESSION_MINUTES"
ENV_MIN_SEVERITY = "ALERTS_MIN_SEVERITY"
ENV_QUARANTINE_QUEUE = "ALERTS_QUARANTINE_QUEUE_URL"
ENV_DATA_KEY_TTL = "ALERTS_DATA_KEY_CACHE_SECONDS"
# The subscriber function (handlers/subscriber.py): where subscription filters send, and which groups.
ENV_SUBSCRIPTION_DESTINATION = "ALERTS_SUBSCRIPTION_DESTINATION_ARN"
ENV_SUBSCRIPTION_ROLE = "ALERTS_SUBSCRIPTION_ROLE_ARN"
ENV_SUBSCRIPTION_PATTERNS = "ALERTS_SUBSCRIPTION_LOG_GROUP_PATTERNS"
ENV_SUBSCRIPTION_EXCLUDE = "ALERTS_SUBSCRIPTION_EXCLUDE_PREFIXES"


class SettingsError(ValueError):
    """An environment variable holds a value we cannot use; the message names it and says why."""


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything configurable about a deployed function, read once per container."""

    sns_topic_arn: str | None = None
    slack_secret_arn: str | None = None
    state_table: str | None = None
    rules: str | None = None  # a bundled file path or an SSM parameter name
    suppression_minutes: float | None = None  # None: the rules file's setting, else 5
    min_severity: Severity = Severity.LOW
    quarantine_queue_url: str | None = None
    data_key_ttl_seconds: float = 300.0
    subscription_destination_arn: str | None = None  # a Lambda function or Kinesis stream
    subscription_role_arn: str | None = None  # CloudWatch Logs' role into a Kinesis destination
    subscription_patterns: tuple[str, ...] = ()  # log-group globs; () = the defaults (infra.log_selection)
    subscription_exclude_prefixes: tuple[str, ...] = ()
    region: str = ""
    task_root: str = ""  # LAMBDA_TASK_ROOT: where files bundled with the function live

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        """Read and validate the settings; raise SettingsError naming the first bad variable."""
        return cls(
            sns_topic_arn=_optional(env, ENV_SNS_TOPIC, must_start="arn:"),
            slack_secret_arn=_optional(env, ENV_SLACK_SECRET),
            state_table=_optional(env, ENV_STATE_TABLE),
            rules=_optional(env, ENV_RULES),
            suppression_minutes=_positive(env, ENV_SUPPRESSION, None),
            min_severity=_severity(env),
            quarantine_queue_url=_optional(env, ENV_QUARANTINE_QUEUE, must_start="http"),
            data_key_ttl_seconds=_positive(env, ENV_DATA_KEY_TTL, 300.0) or 300.0,
            subscription_destination_arn=_optional(env, ENV_SUBSCRIPTION_DESTINATION, must_start="arn:"),
            subscription_role_arn=_optional(env, ENV_SUBSCRIPTION_ROLE, must_start="arn:"),
            subscription_patterns=_comma_list(env, ENV_SUBSCRIPTION_PATTERNS, must_start="/"),
            subscription_exclude_prefixes=_comma_list(env, ENV_SUBSCRIPTION_EXCLUDE, must_start="/"),
            region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "",
            task_root=env.get("LAMBDA_TASK_ROOT", ""),
        )


def _optional(env: Mapping[str, str], name: str, *, must_start: str = "") -> str | None:
    """A stripped value, None when unset or blank; checked for an expected prefix."""
    value = env.get(name, "").strip()
    if not value:
        return None
    if must_start and not value.startswith(must_start):
        raise SettingsError(f"{name}={value!r} must start with {must_start!r}")
    return value


def _comma_list(env: Mapping[str, str], name: str, *, must_start: str) -> tuple[str, ...]:
    """A comma-separated list of stripped items (blanks dropped), each checked for a prefix."""
    items = tuple(item.strip() for item in env.get(name, "").split(",") if item.strip())
    for item in items:
        if not item.startswith(must_start):
            raise SettingsError(f"{name}: {item!r} must start with {must_start!r}")
    return items


def _positive(env: Mapping[str, str], name: str, default: float | None) -> float | None:
    """A positive finite number, or the default when unset."""
    text = env.get(name, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        raise SettingsError(f"{name}={text!r} is not a number") from None
    if not math.isfinite(value) or value <= 0:
        raise SettingsError(f"{name}={text!r} must be a number greater than 0")
    return value


def _severity(env: Mapping[str, str]) -> Severity:
    """The minimum severity, by name."""
    text = env.get(ENV_MIN_SEVERITY, "").strip().lower()
    if not text:
        return Severity.LOW
    try:
        return Severity(text)
    except ValueError:
        names = ", ".join(s.value for s in Severity)
        raise SettingsError(f"{ENV_MIN_SEVERITY}={text!r} is not one of {names}") from None
