"""The demo's pieces against moto: the scenario parses as real logs do, payloads and events have AWS's
shapes, the activity-stream producer's records decrypt with the pipeline's own decryptor, and the
environment the handlers ran in is put back."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from moto import mock_aws

from handlers.demo_das import put_activity_record
from handlers.demo_delivery import ShardReader, handler_environment, subscription_payloads
from handlers.demo_resources import DemoClients, create_resources
from handlers.demo_scenario import (
    DAS_STREAM,
    PG_CLUSTER_RESOURCE_ID,
    REGION,
    SCENARIO_PASSWORDS,
    activity_stream_record,
    scenario_steps,
)
from handlers.log_batches import parse_log_batch
from parsers.activity_stream import parse_activity_stream_record
from parsers.cloudwatch_logs import DATA_MESSAGE, decode_cloudwatch_payload
from parsers.das_decrypt import ActivityStreamDecryptor, DataKeyCache, DecryptError
from parsers.event import Action, AuditEvent, ParseFailure, Source
from parsers.kinesis_records import record_data

START = datetime(2026, 11, 23, 11, 0, 0, tzinfo=UTC)
ACCOUNT = "123456789012"


@pytest.fixture(name="clients")
def clients_fixture(monkeypatch: pytest.MonkeyPatch) -> Iterator[DemoClients]:
    """Clients of a moto account, the pipeline's resources created as the demo creates them."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "t",
        "AWS_SECRET_ACCESS_KEY": "t",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        session = boto3.Session(region_name=REGION)
        clients = DemoClients(
            sns=session.client("sns"),
            sqs=session.client("sqs"),
            secrets=session.client("secretsmanager"),
            dynamodb=session.client("dynamodb"),
            kms=session.client("kms"),
            logs=session.client("logs"),
            kinesis=session.client("kinesis"),
        )
        yield clients


def _delivered_events(
    clients: DemoClients,
) -> tuple[list[dict[str, Any]], list[AuditEvent], list[ParseFailure]]:
    """Write every log step as the databases would, then read it back as subscription payloads and parse."""
    seen: set[str] = set()
    payloads: list[dict[str, Any]] = []
    for step in scenario_steps(START):
        if not step.lines:
            continue
        clients.logs.put_log_events(
            logGroupName=step.log_group,
            logStreamName=step.log_stream,
            logEvents=[
                {"timestamp": int(line.time.timestamp() * 1000), "message": line.message}
                for line in step.lines
            ],
        )
        payloads += subscription_payloads(clients.logs, step.log_group, seen, owner=ACCOUNT, filter_name="f")
    results = [
        result
        for payload in payloads
        for result in parse_log_batch(decode_cloudwatch_payload(payload["awslogs"]["data"]))
    ]
    events = [result for result in results if isinstance(result, AuditEvent)]
    failures = [result for result in results if isinstance(result, ParseFailure)]
    return payloads, events, failures


def test_resources_are_created_with_subscription_filters_on_rds_named_log_groups(
    clients: DemoClients,
) -> None:
    """GIVEN an empty account WHEN the demo creates its resources THEN the groups carry our filter."""
    resources = create_resources(clients, "http://127.0.0.1:9/hook", REGION, ACCOUNT)
    for group in ("/aws/rds/cluster/demo-aurora-mysql/audit", "/aws/rds/cluster/demo-aurora-pg/postgresql"):
        filters = clients.logs.describe_subscription_filters(logGroupName=group)["subscriptionFilters"]
        assert [f["filterName"] for f in filters] == ["aurora-audit-alerts"]
        assert filters[0]["destinationArn"] == resources.subscription_destination_arn
    subscriptions = clients.sns.list_subscriptions_by_topic(TopicArn=resources.topic_arn)["Subscriptions"]
    attributes = clients.sns.get_subscription_attributes(SubscriptionArn=subscriptions[0]["SubscriptionArn"])
    assert attributes["Attributes"].get("RawMessageDelivery", "false") == "false"
    table = clients.dynamodb.describe_table(TableName=resources.state_table)["Table"]
    assert {key["AttributeName"] for key in table["KeySchema"]} == {"pk", "sk"}
    assert resources.das_stream_arn.endswith(f":stream/{DAS_STREAM}")


def test_scenario_logs_parse_as_the_dialects_of_their_log_groups(clients: DemoClients) -> None:
    """GIVEN the scenario written to CloudWatch Logs WHEN delivered as payloads THEN every line parses."""
    create_resources(clients, "http://127.0.0.1:9/hook", REGION, ACCOUNT)
    payloads, events, failures = _delivered_events(clients)
    assert failures == []
    # THEN one payload per write, in the subscription shape
    assert len(payloads) == 4
    batch = decode_cloudwatch_payload(payloads[0]["awslogs"]["data"])
    assert batch.message_type == DATA_MESSAGE
    assert batch.owner == ACCOUNT
    assert batch.subscription_filters == ("f",)
    actions = Counter((event.source, event.action) for event in events)
    assert actions[(Source.AURORA_MYSQL, Action.FAILED_CONNECT)] == 8
    assert actions[(Source.AURORA_MYSQL, Action.CONNECT)] == 1
    assert actions[(Source.POSTGRES, Action.FAILED_CONNECT)] == 6
    assert actions[(Source.POSTGRES, Action.CONNECT)] >= 1
    statements = " | ".join(event.statement or "" for event in events)
    for expected in (
        "DROP TABLE orders",
        "GRANT ALL PRIVILEGES",
        "server_audit_logging=OFF",
        "DROP TABLE invoices",
    ):
        assert expected in statements


def test_payloads_are_not_delivered_twice(clients: DemoClients) -> None:
    """GIVEN events already delivered WHEN the group is read again THEN no payload repeats them."""
    create_resources(clients, "http://127.0.0.1:9/hook", REGION, ACCOUNT)
    seen: set[str] = set()
    step = scenario_steps(START)[0]
    clients.logs.put_log_events(
        logGroupName=step.log_group,
        logStreamName=step.log_stream,
        logEvents=[
            {"timestamp": int(line.time.timestamp() * 1000), "message": line.message} for line in step.lines
        ],
    )
    first = subscription_payloads(clients.logs, step.log_group, seen, owner=ACCOUNT, filter_name="f")
    again = subscription_payloads(clients.logs, step.log_group, seen, owner=ACCOUNT, filter_name="f")
    assert len(first) == 1
    assert again == []


def test_the_scenario_really_carries_the_passwords_the_output_must_hide(clients: DemoClients) -> None:
    """GIVEN the raw logs WHEN searched THEN each scenario password is there (so hiding it is a real test)."""
    raw = " ".join(line.message for step in scenario_steps(START) for line in step.lines)
    raw += str(activity_stream_record(START))
    assert all(password in raw for password in SCENARIO_PASSWORDS)


def test_activity_records_are_encrypted_as_rds_does_and_decrypt_with_the_pipeline(
    clients: DemoClients,
) -> None:
    """GIVEN the producer's record WHEN read as a Lambda Kinesis event THEN the decryptor opens it."""
    resources = create_resources(clients, "http://127.0.0.1:9/hook", REGION, ACCOUNT)
    record = activity_stream_record(START)
    put_activity_record(
        clients.kinesis,
        stream_name=resources.das_stream,
        record=record,
        kms=clients.kms,
        key_id=resources.kms_key_id,
        resource_id=PG_CLUSTER_RESOURCE_ID,
    )
    reader = ShardReader(clients.kinesis, resources.das_stream, resources.das_stream_arn, REGION, ACCOUNT)
    event = reader.kinesis_event()
    assert len(event["Records"]) == 1
    lambda_record = event["Records"][0]
    assert lambda_record["eventSource"] == "aws:kinesis"
    assert lambda_record["eventSourceARN"] == resources.das_stream_arn
    # WHEN decrypted by the pipeline's own code under the cluster's encryption context
    decryptor = ActivityStreamDecryptor(DataKeyCache(clients.kms))
    decrypted = decryptor.decrypt_record(record_data(lambda_record), PG_CLUSTER_RESOURCE_ID)
    assert decrypted == record
    events = [r for r in parse_activity_stream_record(decrypted) if isinstance(r, AuditEvent)]
    assert any(event.statement and "DROP TABLE payroll_archive" in event.statement for event in events)
    # THEN reading again gives only what is new
    assert reader.kinesis_event() == {"Records": []}


def test_the_wrong_encryption_context_cannot_open_the_record(clients: DemoClients) -> None:
    """GIVEN a record encrypted for one cluster WHEN decrypted as another THEN KMS refuses it."""
    resources = create_resources(clients, "http://127.0.0.1:9/hook", REGION, ACCOUNT)
    put_activity_record(
        clients.kinesis,
        stream_name=resources.das_stream,
        record=activity_stream_record(START),
        kms=clients.kms,
        key_id=resources.kms_key_id,
        resource_id=PG_CLUSTER_RESOURCE_ID,
    )
    reader = ShardReader(clients.kinesis, resources.das_stream, resources.das_stream_arn, REGION, ACCOUNT)

    data = record_data(reader.kinesis_event()["Records"][0])
    with pytest.raises(DecryptError):
        ActivityStreamDecryptor(DataKeyCache(clients.kms)).decrypt_record(data, "cluster-SOMEONEELSE0000000")


def test_handler_environment_is_restored(monkeypatch: pytest.MonkeyPatch) -> None:
    """GIVEN a user's environment WHEN the handlers' environment is set and left THEN it is as before."""
    monkeypatch.setenv("AWS_PROFILE", "prod")
    monkeypatch.setenv("ALERTS_STATE_TABLE", "users-own-table")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    before = dict(os.environ)
    with handler_environment({"AWS_ENDPOINT_URL": "http://127.0.0.1:1", "ALERTS_STATE_TABLE": "demo"}):
        assert os.environ["AWS_ENDPOINT_URL"] == "http://127.0.0.1:1"
        assert os.environ["ALERTS_STATE_TABLE"] == "demo"
        assert "AWS_PROFILE" not in os.environ
    assert dict(os.environ) == before


def test_handler_environment_sets_exactly_its_own_aws_and_alerts_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """GIVEN a user's own endpoint and pipeline settings WHEN the demo's environment is set THEN gone."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_SNS", "http://elsewhere.invalid")
    monkeypatch.setenv("ALERTS_MIN_SEVERITY", "critical")
    monkeypatch.setenv("HOME_GROWN", "kept")
    with handler_environment({"ALERTS_STATE_TABLE": "demo"}):
        assert {n for n in os.environ if n.startswith(("AWS_", "ALERTS_"))} == {"ALERTS_STATE_TABLE"}
        assert os.environ["HOME_GROWN"] == "kept"
    assert os.environ["ALERTS_MIN_SEVERITY"] == "critical"


def test_handler_environment_clears_proxies_while_it_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """GIVEN a proxy in the user's shell WHEN the demo talks to its loopback emulator THEN no proxy is set."""
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.invalid:3128")
    monkeypatch.setenv("http_proxy", "http://proxy.invalid:3128")
    with handler_environment({}):
        assert not {"HTTPS_PROXY", "http_proxy"} & set(os.environ)
    assert os.environ["HTTPS_PROXY"] == "http://proxy.invalid:3128"
