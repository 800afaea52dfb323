"""Settings.from_env: the deploy contract's variables, validated with messages naming them."""

from __future__ import annotations

import pytest

from detections.severity import Severity
from handlers.settings import Settings, SettingsError


def test_defaults_when_nothing_is_set() -> None:
    # GIVEN an empty environment
    # WHEN reading settings
    settings = Settings.from_env({})
    # THEN every channel is off, state is in memory, thresholds are the documented defaults
    assert settings == Settings(region="", min_severity=Severity.LOW, suppression_minutes=None)
    assert settings.data_key_ttl_seconds == 300.0


def test_every_variable_is_read() -> None:
    # GIVEN the full contract
    env = {
        "ALERTS_SNS_TOPIC_ARN": "arn:aws:sns:eu-west-1:123456789012:alerts",
        "ALERTS_SLACK_SECRET_ARN": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:slack",
        "ALERTS_STATE_TABLE": "audit-alerts-state",
        "ALERTS_RULES": "/audit-alerts/rules",
        "ALERTS_SUPPRESSION_MINUTES": "10",
        "ALERTS_MIN_SEVERITY": "HIGH",
        "ALERTS_QUARANTINE_QUEUE_URL": "https://sqs.eu-west-1.amazonaws.com/123456789012/quarantine",
        "AWS_REGION": "eu-west-1",
    }
    # WHEN reading settings
    settings = Settings.from_env(env)
    # THEN each lands in its field, normalized
    assert (settings.state_table, settings.rules, settings.suppression_minutes) == (
        "audit-alerts-state",
        "/audit-alerts/rules",
        10.0,
    )
    assert (settings.min_severity, settings.region) == (Severity.HIGH, "eu-west-1")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"ALERTS_MIN_SEVERITY": "urgent"},
            "ALERTS_MIN_SEVERITY='urgent' is not one of info, low, medium, high, critical",
        ),
        ({"ALERTS_SUPPRESSION_MINUTES": "five"}, "ALERTS_SUPPRESSION_MINUTES='five' is not a number"),
        (
            {"ALERTS_SUPPRESSION_MINUTES": "-1"},
            "ALERTS_SUPPRESSION_MINUTES='-1' must be a number greater than 0",
        ),
        (
            {"ALERTS_SUPPRESSION_MINUTES": "nan"},
            "ALERTS_SUPPRESSION_MINUTES='nan' must be a number greater than 0",
        ),
        ({"ALERTS_SNS_TOPIC_ARN": "alerts"}, "ALERTS_SNS_TOPIC_ARN='alerts' must start with 'arn:'"),
        (
            {"ALERTS_QUARANTINE_QUEUE_URL": "quarantine"},
            "ALERTS_QUARANTINE_QUEUE_URL='quarantine' must start with 'http'",
        ),
    ],
)
def test_an_invalid_value_is_named_in_one_line(env: dict[str, str], message: str) -> None:
    # GIVEN a bad value WHEN reading settings THEN the error names the variable and the problem
    with pytest.raises(SettingsError) as raised:
        Settings.from_env(env)
    assert str(raised.value) == message


def test_blank_values_mean_unset() -> None:
    # GIVEN variables set to whitespace (a common template default)
    # WHEN reading settings
    settings = Settings.from_env({"ALERTS_SNS_TOPIC_ARN": " ", "ALERTS_STATE_TABLE": ""})
    # THEN they are off, not errors
    assert (settings.sns_topic_arn, settings.state_table) == (None, None)
