"""The subscriber function on moto: CloudTrail CreateLogGroup events, scheduled runs, its settings."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from handlers import subscriber
from handlers.runtime import reset_runtime
from handlers.settings import Settings, SettingsError
from infra.log_selection import MYSQL_FILTER_PATTERN
from infra.subscriptions import FILTER_NAME
from tests.functional.eventbridge_events import SCHEDULED, cloudtrail_event
from tests.functional.fake_aws import use_fake_aws_credentials
from tests.functional.lambda_events import REGION, FakeLambdaContext

STREAM = "arn:aws:kinesis:eu-west-1:123456789012:stream/audit-logs"
ROLE = "arn:aws:iam::123456789012:role/cwl-to-kinesis"


@pytest.fixture(name="logs")
def logs_fixture(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """moto with a Kinesis destination, the subscriber's settings in the environment, a fresh runtime."""
    use_fake_aws_credentials(monkeypatch, REGION)
    monkeypatch.setenv("ALERTS_SUBSCRIPTION_DESTINATION_ARN", STREAM)
    monkeypatch.setenv("ALERTS_SUBSCRIPTION_ROLE_ARN", ROLE)
    monkeypatch.setenv("ALERTS_SUBSCRIPTION_EXCLUDE_PREFIXES", "/aws/rds/cluster/scratch")
    reset_runtime()
    with mock_aws():
        boto3.client("kinesis", region_name=REGION).create_stream(StreamName="audit-logs", ShardCount=1)
        yield boto3.client("logs", region_name=REGION)
    reset_runtime()


def _ours(logs: Any, group: str) -> list[dict[str, Any]]:
    """Our filters on a group."""
    found = logs.describe_subscription_filters(logGroupName=group)["subscriptionFilters"]
    return [f for f in found if f["filterName"] == FILTER_NAME]


def test_a_new_audit_group_is_attached_from_its_cloudtrail_event(logs: Any) -> None:
    # GIVEN RDS just created an audit log group (and another group exists, untouched)
    logs.create_log_group(logGroupName="/aws/rds/cluster/orders/audit")
    logs.create_log_group(logGroupName="/aws/rds/cluster/other/audit")
    # WHEN the CreateLogGroup event arrives
    summary = subscriber.lambda_handler(
        cloudtrail_event("/aws/rds/cluster/orders/audit"), FakeLambdaContext()
    )
    # THEN that one group gets our filter, towards the stream with the role, with the MySQL pattern
    assert summary == {"log_groups": 1, "attach": 1, "failed": 0, "left_for_next_run": 0}
    (ours,) = _ours(logs, "/aws/rds/cluster/orders/audit")
    assert (ours["destinationArn"], ours["roleArn"], ours["filterPattern"]) == (
        STREAM,
        ROLE,
        MYSQL_FILTER_PATTERN,
    )
    assert _ours(logs, "/aws/rds/cluster/other/audit") == []


@pytest.mark.parametrize(
    "event",
    [
        cloudtrail_event("/aws/lambda/some-function"),  # not an audit group
        cloudtrail_event("/aws/rds/cluster/scratch/audit"),  # excluded by prefix
        cloudtrail_event("/aws/rds/cluster/orders/audit", error="ResourceAlreadyExistsException"),
        cloudtrail_event("/aws/rds/cluster/orders/audit", event_name="DeleteLogGroup"),
    ],
)
def test_other_cloudtrail_events_attach_nothing(logs: Any, event: dict[str, Any]) -> None:
    # GIVEN the groups exist
    for name in (
        "/aws/lambda/some-function",
        "/aws/rds/cluster/scratch/audit",
        "/aws/rds/cluster/orders/audit",
    ):
        logs.create_log_group(logGroupName=name)
    # WHEN such an event arrives THEN no filter is put anywhere
    summary = subscriber.lambda_handler(event, FakeLambdaContext())
    assert summary.get("attach", 0) == 0
    assert all(
        _ours(logs, name) == [] for name in ("/aws/lambda/some-function", "/aws/rds/cluster/orders/audit")
    )


def test_the_scheduled_run_attaches_every_existing_group_then_changes_nothing(logs: Any) -> None:
    # GIVEN groups that existed before the stack
    groups = ["/aws/rds/cluster/a/audit", "/aws/rds/instance/b/audit", "/aws/rds/cluster/c/postgresql"]
    for name in [*groups, "/aws/rds/cluster/scratch/audit"]:
        logs.create_log_group(logGroupName=name)
    # WHEN the schedule fires twice
    first = subscriber.lambda_handler(SCHEDULED, FakeLambdaContext())
    second = subscriber.lambda_handler(SCHEDULED, FakeLambdaContext())
    # THEN the first run attaches each selected group, the second changes nothing
    assert first == {"log_groups": 3, "attach": 3, "failed": 0, "left_for_next_run": 0}
    assert second == {"log_groups": 3, "skip": 3, "failed": 0, "left_for_next_run": 0}
    assert all(len(_ours(logs, name)) == 1 for name in groups)
    assert _ours(logs, "/aws/rds/cluster/scratch/audit") == []


def test_a_run_out_of_time_leaves_the_rest_to_the_next_run(logs: Any) -> None:
    # GIVEN three groups and an invocation with no time left beyond the safety margin
    groups = ["/aws/rds/cluster/a/audit", "/aws/rds/cluster/b/audit", "/aws/rds/cluster/c/audit"]
    for name in groups:
        logs.create_log_group(logGroupName=name)
    # WHEN the schedule fires THEN nothing is started, and the summary says how many groups wait
    summary = subscriber.lambda_handler(SCHEDULED, FakeLambdaContext(remaining_millis=1000))
    assert summary == {"log_groups": 0, "failed": 0, "left_for_next_run": 3}
    # AND the next run, with time, attaches them
    summary = subscriber.lambda_handler(SCHEDULED, FakeLambdaContext())
    assert (summary["attach"], summary["left_for_next_run"]) == (3, 0)
    assert all(len(_ours(logs, name)) == 1 for name in groups)


def test_a_failed_group_raises_after_the_others_are_done(logs: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a destination stream that does not exist (CloudWatch Logs refuses the filter)
    monkeypatch.setenv("ALERTS_SUBSCRIPTION_DESTINATION_ARN", STREAM + "-gone")
    reset_runtime()
    logs.create_log_group(logGroupName="/aws/rds/cluster/a/audit")
    # WHEN the schedule fires THEN the function fails (Errors alarm, retry), naming the group
    with pytest.raises(subscriber.SubscriptionError, match="/aws/rds/cluster/a/audit"):
        subscriber.lambda_handler(SCHEDULED, FakeLambdaContext())


@pytest.mark.filterwarnings("ignore:No application metrics to publish")  # it stops before counting
def test_without_a_destination_the_function_says_which_variable(
    logs: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN no destination configured WHEN invoked THEN the error names the variable
    monkeypatch.delenv("ALERTS_SUBSCRIPTION_DESTINATION_ARN")
    reset_runtime()
    with pytest.raises(SettingsError, match="ALERTS_SUBSCRIPTION_DESTINATION_ARN is not set"):
        subscriber.lambda_handler(SCHEDULED, FakeLambdaContext())


def test_subscription_settings_are_read_and_checked() -> None:
    # GIVEN the subscriber's variables THEN they are read as ARNs and lists of log-group globs / prefixes
    settings = Settings.from_env(
        {
            "ALERTS_SUBSCRIPTION_DESTINATION_ARN": STREAM,
            "ALERTS_SUBSCRIPTION_ROLE_ARN": ROLE,
            "ALERTS_SUBSCRIPTION_LOG_GROUP_PATTERNS": "/aws/rds/cluster/*/audit, /aws/rds/instance/*/audit",
            "ALERTS_SUBSCRIPTION_EXCLUDE_PREFIXES": "/aws/rds/cluster/test-,",
        }
    )
    assert settings.subscription_patterns == ("/aws/rds/cluster/*/audit", "/aws/rds/instance/*/audit")
    assert settings.subscription_exclude_prefixes == ("/aws/rds/cluster/test-",)
    assert (settings.subscription_destination_arn, settings.subscription_role_arn) == (STREAM, ROLE)
    # AND a value that cannot be right is refused with its name
    with pytest.raises(
        SettingsError, match="ALERTS_SUBSCRIPTION_LOG_GROUP_PATTERNS: 'aws/rds' must start with '/'"
    ):
        Settings.from_env({"ALERTS_SUBSCRIPTION_LOG_GROUP_PATTERNS": "aws/rds"})
    with pytest.raises(SettingsError, match="ALERTS_SUBSCRIPTION_DESTINATION_ARN"):
        Settings.from_env({"ALERTS_SUBSCRIPTION_DESTINATION_ARN": "audit-logs"})
