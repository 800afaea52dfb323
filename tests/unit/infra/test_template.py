"""The SAM template: lint-clean, and in step with the code it deploys (table, env contract, handlers, IAM)."""

from __future__ import annotations

import importlib
import re
from pathlib import Path
from typing import Any

import pytest
from cfnlint.api import ManualArgs, lint_file
from cfnlint.data import AdditionalSpecs
from cfnlint.helpers import load_resource

import handlers.settings
import notifiers.sns
import stores.dynamodb_state
import stores.dynamodb_suppression
from detections.severity import Severity
from infra.state_table import DUE_INDEX, create_table_kwargs, time_to_live_kwargs
from infra.template_model import (
    TEMPLATE_PATH,
    TemplateError,
    function_properties,
    iam_statements,
    load_template,
    parse_template,
    resource_properties,
    resources_of_type,
)
from parsers.das_envelope import EnvelopeError, encryption_context, resource_id_from_stream_arn

TEMPLATE = load_template()
FUNCTIONS = resources_of_type(TEMPLATE, "AWS::Serverless::Function")
ENV_NAMES = {value for name, value in vars(handlers.settings).items() if name.startswith("ENV_")}
SUBSCRIBER_ENV = {
    handlers.settings.ENV_SUBSCRIPTION_DESTINATION,
    handlers.settings.ENV_SUBSCRIPTION_ROLE,
    handlers.settings.ENV_SUBSCRIPTION_EXCLUDE,
}
PIPELINE_ENV = ENV_NAMES - {
    handlers.settings.ENV_QUARANTINE_QUEUE,
    handlers.settings.ENV_DATA_KEY_TTL,
    handlers.settings.ENV_SUBSCRIPTION_PATTERNS,
    *SUBSCRIBER_ENV,
}
QUEUE_ARN = {"Fn::GetAtt": ["FailedInvocationsQueue", "Arn"]}


def _evaluate(value: Any, parameters: dict[str, str]) -> Any:
    """Resolve the few intrinsics the policies use (Ref to a parameter, Split, Select)."""
    if isinstance(value, dict) and "Ref" in value:
        return parameters[value["Ref"]]
    if isinstance(value, dict) and "Fn::Split" in value:
        separator, text = value["Fn::Split"]
        return _evaluate(text, parameters).split(separator)
    if isinstance(value, dict) and "Fn::Select" in value:
        index, items = value["Fn::Select"]
        return _evaluate(items, parameters)[int(index)]
    return value


def _as_list(value: Any) -> list[Any]:
    """A policy element that may be one item or a list, as a list."""
    return value if isinstance(value, list) else [value]


def test_cfn_lint_reports_no_error_and_no_warning() -> None:
    # GIVEN the template WHEN cfn-lint (offline, its bundled schemas) checks it in three partitions' regions
    matches = lint_file(TEMPLATE_PATH, config=ManualArgs(regions=["us-east-1", "eu-west-1", "us-gov-west-1"]))
    # THEN it finds nothing at all
    assert [f"{m.rule.id} {m.message} (line {m.linenumber})" for m in matches] == []


def test_state_table_is_exactly_the_code_schema() -> None:
    # GIVEN the schema defined once in infra/state_table.py
    expected = dict(create_table_kwargs("x"))
    del expected["TableName"]
    table = TEMPLATE["Resources"]["StateTable"]
    properties = table["Properties"]
    # THEN keys, index and billing are the same, TTL is on the same attribute, and the data is kept safe
    assert {key: properties[key] for key in expected} == expected
    assert properties["TimeToLiveSpecification"] == time_to_live_kwargs("x")["TimeToLiveSpecification"]
    assert "TableName" not in properties  # one table per stack, named by CloudFormation
    assert properties["SSESpecification"] == {"SSEEnabled": True}
    assert properties["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert (table["DeletionPolicy"], table["UpdateReplacePolicy"]) == ("Retain", "Retain")


@pytest.mark.parametrize(
    ("logical_id", "handler", "condition", "extra_env"),
    [
        ("CloudWatchLogsFunction", "handlers.cloudwatch_logs.lambda_handler", None, set()),
        ("DigestFunction", "handlers.digest.lambda_handler", None, set()),
        ("LogsKinesisFunction", "handlers.cloudwatch_logs.kinesis_handler", "HasLogsKinesisStream", set()),
        (
            "ActivityStreamFunction",
            "handlers.activity_stream.lambda_handler",
            "HasActivityStream",
            {handlers.settings.ENV_QUARANTINE_QUEUE, handlers.settings.ENV_DATA_KEY_TTL},
        ),
        ("SubscriberFunction", "handlers.subscriber.lambda_handler", None, SUBSCRIBER_ENV),
    ],
)
def test_each_function_runs_a_real_handler_with_the_settings_contract(
    logical_id: str, handler: str, condition: str | None, extra_env: set[str]
) -> None:
    # GIVEN one function of the README table
    properties = function_properties(TEMPLATE, logical_id)
    module_name, _, attribute = properties["Handler"].rpartition(".")
    # THEN its handler is that entry point and resolves to a callable
    assert properties["Handler"] == handler
    assert callable(getattr(importlib.import_module(module_name), attribute))
    assert FUNCTIONS[logical_id].get("Condition") == condition
    assert [properties[key] for key in ("Runtime", "Architectures", "CodeUri")] == [
        "python3.12",
        ["arm64"],
        "..",
    ]
    # AND its environment is the ALERTS_* contract (handlers/settings.py) plus Powertools settings
    variables = properties["Environment"]["Variables"]
    assert {name for name in variables if not name.startswith("POWERTOOLS_")} == PIPELINE_ENV | extra_env
    assert variables["POWERTOOLS_METRICS_NAMESPACE"] == "AuroraAuditAlerts"
    assert variables["POWERTOOLS_SERVICE_NAME"] == "aurora-audit-alerts"


def test_every_environment_name_in_the_template_is_read_by_the_code() -> None:
    # GIVEN every variable any function (or Globals) sets
    names = {name for f in FUNCTIONS for name in function_properties(TEMPLATE, f)["Environment"]["Variables"]}
    # THEN each is one of the settings' ENV_* names or a Powertools setting
    assert {name for name in names if not name.startswith("POWERTOOLS_")} <= ENV_NAMES
    assert handlers.settings.ENV_QUARANTINE_QUEUE in names


@pytest.mark.parametrize("logical_id", sorted(FUNCTIONS))
def test_each_function_has_its_own_role_and_a_log_group_with_retention(logical_id: str) -> None:
    # GIVEN a function
    properties = function_properties(TEMPLATE, logical_id)
    log_group_id = properties["LoggingConfig"]["LogGroup"]["Ref"]
    log_group = TEMPLATE["Resources"][log_group_id]
    # THEN it logs to its own log group, kept LogRetentionDays, created and dropped with the function
    assert log_group["Type"] == "AWS::Logs::LogGroup"
    assert log_group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    assert log_group.get("Condition") == FUNCTIONS[logical_id].get("Condition")
    # AND it runs with its own explicit role, never SAM policy templates or managed policies
    assert "Policies" not in properties
    role_id = properties["Role"]["Fn::GetAtt"][0]
    assert resource_properties(TEMPLATE, role_id).get("ManagedPolicyArns") is None
    role_statements = [s for owner, s in iam_statements(TEMPLATE) if owner == role_id]
    log_statement = next(s for s in role_statements if s["Sid"] == "WriteOwnLogs")
    assert log_statement["Resource"] == {"Fn::GetAtt": [log_group_id, "Arn"]}


def test_no_statement_grants_every_action_or_every_resource() -> None:
    # GIVEN every IAM statement (both branches of each Fn::If). No AWS exception is needed here: the
    # actions granted all take resource ARNs (kinesis:ListStreams, the one that would need "*", is not
    # needed by an event source mapping and is not granted).
    statements = list(iam_statements(TEMPLATE))
    assert len(statements) >= 15
    for owner, statement in statements:
        # THEN every statement allows named actions on named resources
        assert statement["Effect"] == "Allow", owner
        assert not {"NotAction", "NotResource"} & set(statement), owner
        for element in ("Action", "Resource"):
            for value in _as_list(statement[element]):
                assert not (isinstance(value, str) and "*" in value), (owner, statement["Sid"], value)


def test_every_action_exists_in_iam() -> None:
    # GIVEN cfn-lint's IAM action catalogue (its own action check is skipped for SAM templates)
    catalogue = load_resource(AdditionalSpecs, "Policies.json")
    actions = {a for _, s in iam_statements(TEMPLATE) for a in _as_list(s["Action"])}
    # THEN every granted action is a real one
    unknown = {a for a in actions if a.split(":")[1].lower() not in catalogue[a.split(":")[0]]["Actions"]}
    assert unknown == set()


def _granted(action_prefix: str, policy_owner: str = "PipelinePolicy") -> dict[str, Any]:
    """Action → the resources granted to it, over one policy owner (the shared pipeline policy)."""
    granted: dict[str, list[Any]] = {}
    for owner, statement in iam_statements(TEMPLATE):
        for action in _as_list(statement["Action"]):
            if owner == policy_owner and action.startswith(action_prefix):
                granted.setdefault(action, []).extend(_as_list(statement["Resource"]))
    return granted


def _dynamodb_calls(*modules: Any) -> set[str]:
    """The DynamoDB actions the adapters in `modules` call (update_item → dynamodb:UpdateItem …)."""
    source = "".join(Path(module.__file__).read_text(encoding="utf-8") for module in modules)
    calls = set(re.findall(r"self\._client\.(\w+)\(", source))
    return {"dynamodb:" + "".join(part.title() for part in name.split("_")) for name in calls}


def test_state_table_permissions_are_the_calls_the_store_makes() -> None:
    # GIVEN the DynamoDB operations the stores/ adapters call
    called = _dynamodb_calls(stores.dynamodb_state, stores.dynamodb_suppression)
    granted = _granted("dynamodb:")
    # THEN exactly those are granted to the pipeline, on the table only (its functions query no index)
    table = {"Fn::GetAtt": ["StateTable", "Arn"]}
    assert set(granted) == called
    assert granted == {
        "dynamodb:BatchGetItem": [table],
        "dynamodb:GetItem": [table],
        "dynamodb:PutItem": [table],
        "dynamodb:UpdateItem": [table],
        "dynamodb:Query": [table],
    }


def test_the_digest_may_read_and_rewrite_windows_and_query_the_due_index_only() -> None:
    # GIVEN the digest's own role and the calls of the suppression adapter it runs
    called = _dynamodb_calls(stores.dynamodb_suppression)
    granted = _granted("dynamodb:", "DigestFunctionRole")
    # THEN it gets those calls minus UpdateItem (rule windows are not its business), Query also on by_due
    table = {"Fn::GetAtt": ["StateTable", "Arn"]}
    index = {"Fn::Sub": f"${{StateTable.Arn}}/index/{DUE_INDEX}"}
    assert set(granted) == called
    assert granted == {
        "dynamodb:BatchGetItem": [table],
        "dynamodb:GetItem": [table],
        "dynamodb:PutItem": [table],
        "dynamodb:Query": [table, index],
    }
    # AND it runs every five minutes on an EventBridge schedule
    events = function_properties(TEMPLATE, "DigestFunction")["Events"]
    assert [event["Properties"]["Schedule"] for event in events.values()] == ["rate(5 minutes)"]


def test_alerts_are_published_to_the_topic_only() -> None:
    # GIVEN SnsNotifier, which sends with PublishBatch (authorized by IAM as sns:Publish)
    assert "self._client.publish_batch(" in Path(notifiers.sns.__file__).read_text(encoding="utf-8")
    # THEN the functions may publish to the stack's topic and nowhere else
    assert _granted("sns:") == {"sns:Publish": [{"Ref": "AlertTopic"}]}
    topic = resource_properties(TEMPLATE, "AlertTopic")
    assert topic["KmsMasterKeyId"] == {"Ref": "AlertTopicKey"}
    # AND the topic's key may be used by the functions (pipeline and digest) only through SNS
    through_sns = [s for _, s in iam_statements(TEMPLATE) if s.get("Sid") == "EncryptAlertsThroughSns"]
    assert len(through_sns) == 2
    for statement in through_sns:
        assert statement["Resource"] == {"Fn::GetAtt": ["AlertTopicKey", "Arn"]}
        assert statement["Condition"] == {
            "StringEquals": {"kms:ViaService": {"Fn::Sub": "sns.${AWS::Region}.amazonaws.com"}}
        }


def test_alarms_can_publish_to_the_encrypted_topic() -> None:
    # GIVEN the topic's customer-managed key (CloudWatch cannot use the AWS-managed aws/sns key)
    key = resource_properties(TEMPLATE, "AlertTopicKey")
    by_sid = {statement["Sid"]: statement for statement in key["KeyPolicy"]["Statement"]}
    # THEN alarms of this account may encrypt with it, and it rotates
    alarms = by_sid["AlarmsPublishToTheTopic"]
    assert alarms["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert set(alarms["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}
    assert alarms["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
    assert key["EnableKeyRotation"] is True
    # AND every alarm of the template notifies the alert topic
    alarms_of_template = resources_of_type(TEMPLATE, "AWS::CloudWatch::Alarm")
    assert (
        len(alarms_of_template) == 15
    )  # errors and throttles of 5 functions, 2 iterator ages, 2 queues, audit silence
    assert {str(a["Properties"]["AlarmActions"]) for a in alarms_of_template.values()} == {
        "[{'Ref': 'AlertTopic'}]"
    }


@pytest.mark.parametrize(
    "stream_arn",
    [
        "arn:aws:kinesis:eu-west-1:123456789012:stream/aws-rds-das-cluster-NHVOV4PCLWHGF52NP",
        "arn:aws:kinesis:us-east-1:123456789012:stream/aws-rds-das-db-NHVOV4PCLWHGF52NP",
        "arn:aws-us-gov:kinesis:us-gov-west-1:123456789012:stream/aws-rds-das-cluster-ABC_1.2-x",
    ],
)
def test_kms_decrypt_is_pinned_to_the_streams_encryption_context(stream_arn: str) -> None:
    # GIVEN a deployment for one activity stream
    parameters = {"ActivityStreamArn": stream_arn}
    decrypts = [s for o, s in iam_statements(TEMPLATE) if s["Action"] == "kms:Decrypt"]
    # WHEN the conditions of its kms:Decrypt statements are resolved
    allowed = set()
    for statement in decrypts:
        assert statement["Resource"] == {"Ref": "ActivityStreamKmsKeyArn"}
        ((key, value),) = statement["Condition"]["StringEquals"].items()
        allowed.add((key.removeprefix("kms:EncryptionContext:"), _evaluate(value, parameters)))
    # THEN the context the decryptor sends for this stream's records is one they allow
    ((context_key, resource_id),) = encryption_context(resource_id_from_stream_arn(stream_arn)).items()
    assert (context_key, resource_id) in allowed
    assert len(decrypts) == len(allowed) == 2


@pytest.mark.parametrize(
    ("stream_arn", "accepted"),
    [
        ("", True),
        ("arn:aws:kinesis:eu-west-1:123456789012:stream/aws-rds-das-cluster-ABC", True),
        ("arn:aws:kinesis:eu-west-1:123456789012:stream/aws-rds-das-db-ABC", True),
        ("arn:aws:kinesis:eu-west-1:123456789012:stream/audit-logs", False),
        ("arn:aws:kinesis:eu-west-1:123456789012:stream/aws-rds-das-proxy-ABC", False),
        ("arn:aws:sqs:eu-west-1:123456789012:aws-rds-das-cluster-ABC", False),
    ],
)
def test_activity_stream_parameter_accepts_what_the_decryptor_accepts(
    stream_arn: str, accepted: bool
) -> None:
    # GIVEN the parameter's AllowedPattern WHEN a stream ARN is offered THEN it agrees with the parser
    pattern = TEMPLATE["Parameters"]["ActivityStreamArn"]["AllowedPattern"]
    assert bool(re.fullmatch(pattern, stream_arn)) is accepted
    if stream_arn and accepted:
        assert resource_id_from_stream_arn(stream_arn)
    elif stream_arn:
        with pytest.raises(EnvelopeError):
            resource_id_from_stream_arn(stream_arn)


@pytest.mark.parametrize("logical_id", ["LogsKinesisFunction", "ActivityStreamFunction"])
def test_kinesis_consumers_report_failed_records_and_retry_boundedly(logical_id: str) -> None:
    # GIVEN a Kinesis-triggered function
    (event,) = function_properties(TEMPLATE, logical_id)["Events"].values()
    properties = event["Properties"]
    # THEN failed records are reported, bad batches bisected, retries bounded, exhausted batches recorded
    assert event["Type"] == "Kinesis"
    assert properties["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert properties["BisectBatchOnFunctionError"] is True
    assert 0 < properties["MaximumRetryAttempts"] <= 10
    assert properties["DestinationConfig"] == {"OnFailure": {"Destination": QUEUE_ARN}}


def test_cloudwatch_function_retries_twice_and_only_rds_log_groups_may_invoke_it() -> None:
    # GIVEN the subscription-filter function and its resource policy
    invoke = function_properties(TEMPLATE, "CloudWatchLogsFunction")["EventInvokeConfig"]
    permission = resource_properties(TEMPLATE, "CloudWatchLogsInvokePermission")
    # THEN failed invocations are retried twice then kept, and only this account's /aws/rds/* may invoke
    assert invoke["MaximumRetryAttempts"] == 2
    assert invoke["DestinationConfig"]["OnFailure"] == {"Type": "SQS", "Destination": QUEUE_ARN}
    assert permission == {
        "Action": "lambda:InvokeFunction",
        "FunctionName": {"Fn::GetAtt": ["CloudWatchLogsFunction", "Arn"]},
        "Principal": "logs.amazonaws.com",
        "SourceAccount": {"Ref": "AWS::AccountId"},
        "SourceArn": {
            "Fn::Sub": "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:/aws/rds/*"
        },
    }
    assert TEMPLATE["Outputs"]["SubscriptionFilterDestinationArn"]["Value"] == permission["FunctionName"]


def test_min_severity_parameter_offers_the_code_severities() -> None:
    # GIVEN the parameter THEN its values are Severity's, default low like Settings
    parameter = TEMPLATE["Parameters"]["MinSeverity"]
    assert (parameter["AllowedValues"], parameter["Default"]) == ([s.value for s in Severity], "low")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("v: !Ref Table", {"Ref": "Table"}),
        ("v: !GetAtt Db.Endpoint.Address", {"Fn::GetAtt": ["Db", "Endpoint.Address"]}),
        ("v: !GetAtt [Db, Arn]", {"Fn::GetAtt": ["Db", "Arn"]}),
        ("v: !Sub arn:${AWS::Partition}:x", {"Fn::Sub": "arn:${AWS::Partition}:x"}),
        ("v: !If [C, !Ref A, !Ref AWS::NoValue]", {"Fn::If": ["C", {"Ref": "A"}, {"Ref": "AWS::NoValue"}]}),
        ("v: !Not [!Condition C]", {"Fn::Not": [{"Condition": "C"}]}),
        ("v: !Select [1, !Split [',', 'a,b']]", {"Fn::Select": [1, {"Fn::Split": [",", "a,b"]}]}),
        ("v: !FindInMap {a: 1}", {"Fn::FindInMap": {"a": 1}}),
    ],
)
def test_short_tags_become_long_forms(text: str, expected: dict[str, Any]) -> None:
    # GIVEN a short-form intrinsic WHEN parsed THEN it is the long form CloudFormation documents
    assert parse_template(text) == {"v": expected}


def test_globals_merge_like_sam_and_missing_things_are_named() -> None:
    # GIVEN Globals and a function overriding part of them
    template = parse_template(
        "Globals: {Function: {Timeout: 60, Layers: [a], Environment: {Variables: {A: '1', B: '2'}}}}\n"
        "Resources: {F: {Type: AWS::Serverless::Function,"
        " Properties: {Timeout: 9, Layers: [b], Environment: {Variables: {B: '3'}}}}}\n"
    )
    # THEN maps merge (function wins), lists append, scalars are replaced
    assert function_properties(template, "F") == {
        "Timeout": 9,
        "Layers": ["a", "b"],
        "Environment": {"Variables": {"A": "1", "B": "3"}},
    }
    with pytest.raises(TemplateError, match="'Nope'"):
        resource_properties(template, "Nope")
    with pytest.raises(TemplateError, match="not valid YAML"):
        parse_template("a: [")
