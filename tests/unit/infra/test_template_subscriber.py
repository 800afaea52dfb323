"""The template's subscriber function and alarms, held equal to the code they deploy."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

import infra.subscriptions
from infra.template_model import function_properties, iam_statements, load_template, resources_of_type
from tests.functional.eventbridge_events import cloudtrail_event

TEMPLATE = load_template()
ALARMS = resources_of_type(TEMPLATE, "AWS::CloudWatch::Alarm")
RDS_GROUPS = {"Fn::Sub": "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:/aws/rds/*"}


def _matches(pattern: Any, value: Any) -> bool:
    """EventBridge matching for the forms the rule uses: nested objects, value lists, prefix."""
    if isinstance(pattern, dict):
        return isinstance(value, dict) and all(_matches(p, value.get(k)) for k, p in pattern.items())
    return any(
        (isinstance(option, dict) and isinstance(value, str) and value.startswith(option["prefix"]))
        or option == value
        for option in pattern
    )


def test_the_new_group_rule_matches_rds_creating_an_audit_group_only() -> None:
    # GIVEN the rule's event pattern
    events = function_properties(TEMPLATE, "SubscriberFunction")["Events"]
    pattern = events["NewLogGroup"]["Properties"]["Pattern"]
    # THEN it matches the CloudTrail event the handler reads, and not other groups or calls
    assert _matches(pattern, cloudtrail_event("/aws/rds/cluster/orders/audit"))
    assert not _matches(pattern, cloudtrail_event("/aws/lambda/x"))
    assert not _matches(
        pattern, cloudtrail_event("/aws/rds/cluster/orders/audit", event_name="DeleteLogGroup")
    )
    assert events["Schedule"]["Properties"]["Schedule"] == {"Ref": "SubscriberSchedule"}


def test_the_subscriber_may_make_exactly_the_calls_infra_subscriptions_makes() -> None:
    # GIVEN the CloudWatch Logs operations infra/subscriptions.py calls (tag reads are the CLI's --tag only)
    source = Path(infra.subscriptions.__file__).read_text(encoding="utf-8")
    calls = set(re.findall(r"logs_client\.(\w+)\(", source)) | set(
        re.findall(r'get_paginator\("(\w+)"\)', source)
    )
    calls -= {"get_paginator", "list_tags_for_resource"}
    called = {"logs:" + "".join(part.title() for part in name.split("_")) for name in calls}
    statements = [s for owner, s in iam_statements(TEMPLATE) if owner == "SubscriberFunctionRole"]
    granted = {
        a: s["Resource"]
        for s in statements
        for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    }
    # THEN exactly those are granted, on /aws/rds/* groups (DescribeLogGroups on the account's groups)
    assert {
        a for a in granted if a.startswith("logs:") and a not in ("logs:CreateLogStream", "logs:PutLogEvents")
    } == called
    assert granted["logs:PutSubscriptionFilter"] == granted["logs:DeleteSubscriptionFilter"] == RDS_GROUPS
    # AND the one invoke permission covers the same groups
    permission = TEMPLATE["Resources"]["CloudWatchLogsInvokePermission"]["Properties"]
    assert permission["SourceArn"] == RDS_GROUPS
    # AND iam:PassRole exists only when filters go to Kinesis, for CloudWatch Logs only
    (pass_role,) = [s for s in statements if s["Action"] == "iam:PassRole"]
    assert pass_role["Resource"] == {"Ref": "SubscriptionRoleArn"}
    assert pass_role["Condition"] == {"StringEquals": {"iam:PassedToService": "logs.amazonaws.com"}}
    raw = TEMPLATE["Resources"]["SubscriberFunctionRole"]["Properties"]["Policies"][0]["PolicyDocument"]
    assert any(
        isinstance(s, dict) and s.get("Fn::If", [None])[0] == "SubscribesKinesis" for s in raw["Statement"]
    )


def test_the_subscriber_sends_to_the_function_or_to_the_stream_with_its_role() -> None:
    # GIVEN the subscriber's environment THEN the destination is the Kinesis stream only with a role
    variables = function_properties(TEMPLATE, "SubscriberFunction")["Environment"]["Variables"]
    assert variables["ALERTS_SUBSCRIPTION_DESTINATION_ARN"] == {
        "Fn::If": [
            "SubscribesKinesis",
            {"Ref": "LogsKinesisStreamArn"},
            {"Fn::GetAtt": ["CloudWatchLogsFunction", "Arn"]},
        ]
    }
    assert variables["ALERTS_SUBSCRIPTION_ROLE_ARN"] == {
        "Fn::If": ["SubscribesKinesis", {"Ref": "SubscriptionRoleArn"}, ""]
    }
    assert function_properties(TEMPLATE, "SubscriberFunction")["ReservedConcurrentExecutions"] == 1


@pytest.mark.parametrize("function", sorted(resources_of_type(TEMPLATE, "AWS::Serverless::Function")))
def test_every_function_has_error_and_throttle_alarms_under_its_condition(function: str) -> None:
    # GIVEN a function THEN an Errors and a Throttles alarm watch it, existing exactly when it does
    watching = {
        alarm["Properties"]["MetricName"]: alarm
        for alarm in ALARMS.values()
        if alarm["Properties"]["Namespace"] == "AWS/Lambda"
        and alarm["Properties"]["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": function}}]
    }
    assert {"Errors", "Throttles"} <= set(watching)
    condition = TEMPLATE["Resources"][function].get("Condition")
    assert {alarm.get("Condition") for alarm in watching.values()} == {condition}
    kinesis = any(
        e["Type"] == "Kinesis" for e in function_properties(TEMPLATE, function).get("Events", {}).values()
    )
    assert ("IteratorAge" in watching) is kinesis


def test_queue_depth_and_audit_silence_alarms() -> None:
    # GIVEN the SQS alarms THEN both queues are watched, the quarantine one only when it exists
    queues = {
        alarm["Properties"]["Dimensions"][0]["Value"]["Fn::GetAtt"][0]: alarm.get("Condition")
        for alarm in ALARMS.values()
        if alarm["Properties"]["Namespace"] == "AWS/SQS"
    }
    assert queues == {"FailedInvocationsQueue": None, "QuarantineQueue": "HasActivityStream"}
    # AND the silence alarm is optional, counts the pipeline's own EventsParsed metric, and no data is silence
    silence = ALARMS["AuditSilenceAlarm"]
    assert silence["Condition"] == "HasAuditSilenceAlarm"
    properties = silence["Properties"]
    assert (properties["Namespace"], properties["MetricName"]) == ("AuroraAuditAlerts", "EventsParsed")
    assert properties["EvaluationPeriods"] == {"Ref": "AuditSilenceHours"}
    assert properties["TreatMissingData"] == "breaching"
    assert (
        function_properties(TEMPLATE, "CloudWatchLogsFunction")["Environment"]["Variables"][
            "POWERTOOLS_SERVICE_NAME"
        ]
        == properties["Dimensions"][0]["Value"]
    )
