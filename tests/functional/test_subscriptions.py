"""infra.subscriptions on moto: selection (globs, prefixes, tags), paging, plan reasons, throttling."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.config import Config
from moto import mock_aws

from infra.log_selection import LogGroupSelection
from infra.subscriptions import (
    FILTER_NAME,
    ChangeAction,
    SubscriptionChange,
    apply_subscriptions,
    list_log_groups,
    plan_log_group,
    plan_subscriptions,
)
from tests.functional.fake_aws import use_fake_aws_credentials

REGION = "eu-west-1"
KINESIS = "arn:aws:kinesis:eu-west-1:123456789012:stream/audit-logs"
ROLE = "arn:aws:iam::123456789012:role/cwl-to-kinesis"


@pytest.fixture(name="logs")
def logs_fixture(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """An in-process moto CloudWatch Logs client, with a Kinesis stream as the destination."""
    use_fake_aws_credentials(monkeypatch, REGION)
    with mock_aws():
        boto3.client("kinesis", region_name=REGION).create_stream(StreamName="audit-logs", ShardCount=1)
        yield boto3.client("logs", region_name=REGION)


def test_selection_by_globs_prefixes_and_tags(logs: Any) -> None:
    # GIVEN audit groups of several clusters, one tagged team=payments, and unrelated groups
    for name in (
        "/aws/rds/cluster/pay/audit",
        "/aws/rds/cluster/shop/audit",
        "/aws/rds/instance/pg/postgresql",
    ):
        logs.create_log_group(logGroupName=name)
    logs.create_log_group(logGroupName="/aws/rds/cluster/shop/error")
    logs.create_log_group(logGroupName="/aws/rds/cluster/tagged/audit", tags={"team": "payments"})
    # THEN the default selection takes every audit and postgresql group and nothing else
    assert sorted(list_log_groups(logs, LogGroupSelection())) == [
        "/aws/rds/cluster/pay/audit",
        "/aws/rds/cluster/shop/audit",
        "/aws/rds/cluster/tagged/audit",
        "/aws/rds/instance/pg/postgresql",
    ]
    # AND prefixes and tags narrow it
    excluded = LogGroupSelection(
        exclude_prefixes=("/aws/rds/cluster/shop",), include_prefixes=("/aws/rds/cluster/",)
    )
    assert sorted(list_log_groups(logs, excluded)) == [
        "/aws/rds/cluster/pay/audit",
        "/aws/rds/cluster/tagged/audit",
    ]
    tagged = LogGroupSelection(tags={"team": "payments"})
    assert list(list_log_groups(logs, tagged)) == ["/aws/rds/cluster/tagged/audit"]


def test_server_side_prefixes_cover_the_patterns_with_the_fewest_calls() -> None:
    # GIVEN the default globs THEN two DescribeLogGroups prefixes cover them; a leading wildcard lists all
    assert LogGroupSelection().server_prefixes() == ["/aws/rds/cluster/", "/aws/rds/instance/"]
    assert LogGroupSelection(patterns=("*/audit",)).server_prefixes() == [None]
    narrowed = LogGroupSelection(include_prefixes=("/aws/rds/cluster/prod-",))
    assert narrowed.server_prefixes() == ["/aws/rds/cluster/prod-"]


def test_many_groups_are_paginated(logs: Any) -> None:
    # GIVEN more audit groups than one DescribeLogGroups page (50) holds
    names = sorted(f"/aws/rds/cluster/c{i:03d}/audit" for i in range(120))
    for name in names:
        logs.create_log_group(logGroupName=name)
    # WHEN planned THEN every one of them is in the plan
    plan = plan_subscriptions(logs, KINESIS, role_arn=ROLE)
    assert [c.log_group for c in plan] == names
    assert {c.action for c in plan} == {ChangeAction.ATTACH}


def test_a_foreign_filter_to_the_same_destination_is_not_doubled(logs: Any) -> None:
    # GIVEN a hand-made filter (the old README's instructions) already sending the group to the destination
    logs.create_log_group(logGroupName="/aws/rds/cluster/a/audit")
    logs.put_subscription_filter(
        logGroupName="/aws/rds/cluster/a/audit", filterName="by-hand", filterPattern="",
        destinationArn=KINESIS, roleArn=ROLE,
    )  # fmt: skip
    # WHEN planned THEN it is skipped with the reason (attaching ours would deliver every event twice)
    (change,) = plan_subscriptions(logs, KINESIS, role_arn=ROLE)
    assert change.action is ChangeAction.SKIP
    assert change.reason == "filter 'by-hand' (not ours) already sends this group to the destination"


def test_a_changed_pattern_or_role_is_updated_and_a_single_group_is_planned_by_name(logs: Any) -> None:
    # GIVEN our filter with an old pattern
    logs.create_log_group(logGroupName="/aws/rds/cluster/a/audit")
    logs.put_subscription_filter(
        logGroupName="/aws/rds/cluster/a/audit", filterName=FILTER_NAME, filterPattern='"QUERY"',
        destinationArn=KINESIS, roleArn=ROLE,
    )  # fmt: skip
    # WHEN the one group is planned by name THEN it is an update of the pattern
    change = plan_log_group(logs, "/aws/rds/cluster/a/audit", KINESIS, role_arn=ROLE)
    assert (change.action, change.reason) == (ChangeAction.UPDATE, "pattern changed")
    (result,) = apply_subscriptions(logs, [change])
    assert result.ok
    assert (
        plan_log_group(logs, "/aws/rds/cluster/a/audit", KINESIS, role_arn=ROLE).action is ChangeAction.SKIP
    )
    # AND a group outside the patterns is skipped without a call
    outside = plan_log_group(logs, "/aws/lambda/x", KINESIS)
    assert (outside.action, outside.reason) == (ChangeAction.SKIP, "not selected by the name patterns")


def test_a_refused_change_fails_that_group_only(logs: Any) -> None:
    # GIVEN a plan whose first group has vanished since planning
    logs.create_log_group(logGroupName="/aws/rds/cluster/b/audit")
    plan = [
        SubscriptionChange("/aws/rds/cluster/gone/audit", ChangeAction.ATTACH, "x", KINESIS, "", ROLE),
        SubscriptionChange("/aws/rds/cluster/b/audit", ChangeAction.ATTACH, "x", KINESIS, "", ROLE),
    ]
    # WHEN applied THEN the first fails with AWS's reason, the second is attached
    gone, attached = apply_subscriptions(logs, plan)
    assert not gone.ok
    assert gone.as_record()["reason"].startswith("failed: ResourceNotFoundException")
    assert attached.ok


def test_throttling_is_retried_with_backoff() -> None:
    # GIVEN a logs client whose first two DescribeSubscriptionFilters calls are throttled, then answered
    client = boto3.client(
        "logs", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x",
        config=Config(retries={"mode": "standard", "max_attempts": 5}),
    )  # fmt: skip
    sent: list[int] = []

    def answer(request: Any, **_kwargs: Any) -> AWSResponse:
        """Throttle twice, then answer with no filters."""
        sent.append(len(sent))
        headers = {"Content-Type": "application/x-amz-json-1.1"}
        if len(sent) <= 2:
            throttled = b'{"__type":"ThrottlingException","message":"Rate exceeded"}'
            return AWSResponse(request.url, 400, headers, _Raw(throttled))
        return AWSResponse(request.url, 200, headers, _Raw(b'{"subscriptionFilters": []}'))

    client.meta.events.register("before-send.cloudwatch-logs.DescribeSubscriptionFilters", answer)
    # WHEN one group is planned
    change = plan_log_group(client, "/aws/rds/cluster/a/audit", KINESIS)
    # THEN the two throttled calls were retried and the plan came through
    assert len(sent) == 3
    assert (change.action, change.reason) == (ChangeAction.ATTACH, "no filter of ours yet")


class _Raw:
    """A urllib3-like raw body for AWSResponse."""

    def __init__(self, body: bytes) -> None:
        """Keep the body."""
        self._body = body

    def stream(self, **_kwargs: Any) -> Iterator[bytes]:
        """Yield the body once."""
        yield self._body
