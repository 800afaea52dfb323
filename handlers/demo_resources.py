"""The demo's AWS account: the pipeline's resources, created in the emulator with the project's own code.

SNS topic with an SQS "mailbox" subscribed (raw delivery off, so each message keeps its subject and
attributes, as an email would), the Slack secret, the state table (schema from infra/state_table.py),
a KMS key for the activity stream, log groups named as RDS names them, the activity stream
`aws-rds-das-<resource id>`, and the subscription filters — attached by the same code as
`audit-alerts attach` (infra/subscriptions.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

from handlers.demo_scenario import DAS_STREAM, MYSQL_INSTANCE, MYSQL_LOG_GROUP, PG_INSTANCE, PG_LOG_GROUP
from infra.state_table import PARTITION_KEY, create_table_kwargs, time_to_live_kwargs
from infra.subscriptions import FILTER_NAME, apply_subscriptions, plan_log_group

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_kinesis import KinesisClient
    from mypy_boto3_kms import KMSClient
    from mypy_boto3_logs import CloudWatchLogsClient
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sqs import SQSClient


class DemoSetupError(RuntimeError):
    """The emulated account could not be set up as the demo needs (the message says what failed)."""


TOPIC_NAME = "aurora-audit-alerts"
MAILBOX_QUEUE = "demo-mailbox"
SLACK_SECRET_NAME = "aurora-audit-alerts/slack"  # noqa: S105 - a secret's name
STATE_TABLE = "aurora-audit-alerts-state"
SUBSCRIPTION_FILTER_NAME = FILTER_NAME
# Where the subscription filters deliver. A deployment points them at the function; moto can only
# "deliver" to a Lambda by running it in Docker, so the demo's filters point at a Kinesis stream
# (the central CWL → Kinesis pattern) and the demo itself plays the filter → Lambda hop.
SUBSCRIPTION_STREAM = "aurora-audit-alerts-logs"
LOG_STREAMS = {MYSQL_LOG_GROUP: MYSQL_INSTANCE, PG_LOG_GROUP: PG_INSTANCE}


@dataclass(frozen=True, slots=True)
class DemoClients:
    """The boto3 clients the demo plays the databases and the operator with (not the handlers' own)."""

    sns: SNSClient
    sqs: SQSClient
    secrets: SecretsManagerClient
    dynamodb: DynamoDBClient
    kms: KMSClient
    logs: CloudWatchLogsClient
    kinesis: KinesisClient


@dataclass(frozen=True, slots=True)
class DemoResources:
    """What was created: the names and ARNs the handlers are configured with and the demo reads."""

    topic_arn: str
    mailbox_url: str
    slack_secret_arn: str
    state_table: str
    kms_key_id: str
    das_stream: str
    das_stream_arn: str
    subscription_destination_arn: str


def create_resources(
    clients: DemoClients, slack_webhook_url: str, region: str, account: str
) -> DemoResources:
    """Create every resource of the pipeline in the emulator; the names to wire the handlers with."""
    topic_arn = clients.sns.create_topic(Name=TOPIC_NAME)["TopicArn"]
    mailbox_url = clients.sqs.create_queue(QueueName=MAILBOX_QUEUE)["QueueUrl"]
    mailbox_arn = clients.sqs.get_queue_attributes(QueueUrl=mailbox_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    clients.sns.subscribe(
        TopicArn=topic_arn,
        Protocol="sqs",
        Endpoint=mailbox_arn,
        Attributes={"RawMessageDelivery": "false"},
        ReturnSubscriptionArn=True,
    )
    secret_arn = clients.secrets.create_secret(
        Name=SLACK_SECRET_NAME, SecretString=json.dumps({"webhook_url": slack_webhook_url})
    )["ARN"]
    create_state_table(clients.dynamodb, STATE_TABLE)
    key_id = clients.kms.create_key(
        Description="Database Activity Stream key (demo-aurora-pg)", KeyUsage="ENCRYPT_DECRYPT"
    )["KeyMetadata"]["KeyId"]
    clients.kinesis.create_stream(StreamName=DAS_STREAM, ShardCount=1)
    clients.kinesis.create_stream(StreamName=SUBSCRIPTION_STREAM, ShardCount=1)
    das_arn = clients.kinesis.describe_stream_summary(StreamName=DAS_STREAM)["StreamDescriptionSummary"][
        "StreamARN"
    ]
    destination = clients.kinesis.describe_stream_summary(StreamName=SUBSCRIPTION_STREAM)[
        "StreamDescriptionSummary"
    ]["StreamARN"]
    for group, stream in LOG_STREAMS.items():
        clients.logs.create_log_group(logGroupName=group)
        clients.logs.create_log_stream(logGroupName=group, logStreamName=stream)
        _subscribe(clients.logs, group, destination, role_arn=f"arn:aws:iam::{account}:role/CWLtoKinesisRole")
    return DemoResources(
        topic_arn=topic_arn,
        mailbox_url=mailbox_url,
        slack_secret_arn=secret_arn,
        state_table=STATE_TABLE,
        kms_key_id=key_id,
        das_stream=DAS_STREAM,
        das_stream_arn=das_arn,
        subscription_destination_arn=destination,
    )


def create_state_table(dynamodb: DynamoDBClient, name: str) -> None:
    """The state table exactly as infra/state_table.py defines it (keys, index, billing, then TTL)."""
    dynamodb.create_table(**create_table_kwargs(name))
    dynamodb.update_time_to_live(**time_to_live_kwargs(name))


def state_items_by_kind(dynamodb: DynamoDBClient, name: str) -> dict[str, int]:
    """The state table's items counted by kind: the partition key's prefix before '#' (win, sup, dlv…)."""
    kinds: dict[str, int] = {}
    for page in dynamodb.get_paginator("scan").paginate(TableName=name, ProjectionExpression=PARTITION_KEY):
        for item in page.get("Items", []):
            key = str(item.get(PARTITION_KEY, {}).get("S", ""))
            kind = key.split("#", 1)[0] if "#" in key else "(other)"
            kinds[kind] = kinds.get(kind, 0) + 1
    return kinds


def _subscribe(
    logs: CloudWatchLogsClient, log_group: str, destination_arn: str, *, role_arn: str = ""
) -> None:
    """Attach the project's subscription filter to one audit log group with the real attach code."""
    change = plan_log_group(logs, log_group, destination_arn, role_arn=role_arn or None)
    (result,) = apply_subscriptions(logs, [change])
    if not result.ok:
        raise DemoSetupError(f"could not attach {log_group}: {result.error}")
