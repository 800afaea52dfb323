"""The world the Activity Stream function runs in, rebuilt for functional tests of its Lambda handler.

A moto account (a KMS key for the activity stream, the SNS topic read back through a subscribed SQS
queue, the Slack secret in Secrets Manager, the DynamoDB state table, the quarantine queue), a real
HTTP server on 127.0.0.1 as Slack's webhook, the deploy contract's environment variables, a fake
LambdaContext, and a KMS client wrapper that counts Decrypt calls and fails chosen data keys.
Genuine DAS records come from tests/das_fixtures.py.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from aws_encryption_sdk.identifiers import Algorithm
from moto import mock_aws
from pytest_httpserver import HTTPServer
from slack_sdk.http_retry.builtin_interval_calculators import FixedValueRetryIntervalCalculator

from handlers import runtime as runtime_module
from handlers.activity_stream import lambda_handler
from handlers.invocation import logger as powertools_logger
from handlers.runtime import Runtime, reset_runtime
from handlers.settings import Settings
from infra.state_table import create_table_kwargs
from notifiers.slack import RetryPolicy
from tests import das_fixtures as das

REGION = das.REGION  # the region of das_fixtures' stream ARNs
TABLE = "audit-alerts-state"
HOOK_PATH = "/services/T0DAS/B0DAS/dasS3cr3tH00k"
QUARANTINE_QUEUE = "audit-alerts-quarantine"


@dataclass
class FakeLambdaContext:
    """The LambdaContext attributes Powertools and the handler read, with a fixed remaining time."""

    function_name: str = "aurora-audit-alerts-das"
    function_version: str = "$LATEST"
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:{das.ACCOUNT}:function:aurora-audit-alerts-das"
    memory_limit_in_mb: int = 256
    aws_request_id: str = "0d6a1b2e-3d4a-4b5c-8d9e-0a1b2c3d4e5f"
    log_group_name: str = "/aws/lambda/aurora-audit-alerts-das"
    log_stream_name: str = "2024/05/01/[$LATEST]0123456789abcdef"
    remaining_millis: int = 60_000

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left in the invocation (fixed: tests never depend on the clock)."""
        return self.remaining_millis


class KeyFaultKms(das.CountingKms):
    """CountingKms that also fails every Decrypt of chosen data keys (by ciphertext) until cleared."""

    def __init__(self, client: Any) -> None:
        """Wrap `client` with no fault."""
        super().__init__(client)
        self.failing_keys: dict[bytes, Exception] = {}

    def decrypt(self, **kwargs: Any) -> Any:
        """Count; raise the fault of this data key if any, else behave as CountingKms."""
        fault = self.failing_keys.get(bytes(kwargs["CiphertextBlob"]))
        if fault is not None:
            self.decrypt_calls += 1
            raise fault
        return super().decrypt(**kwargs)


def fail_operation(client: Any, operation: str, error: Exception) -> Callable[[], None]:
    """Make every `operation` call of a real boto3 client raise `error` until the returned undo is called."""
    event = f"before-call.{client.meta.service_model.service_id.hyphenize()}.{operation}"
    unique_id = f"das-fault-{operation}-{id(error)}"

    def fail(**_: Any) -> None:
        """Raise before anything is sent, as the service's error answer would."""
        raise error

    client.meta.events.register(event, fail, unique_id=unique_id)
    return lambda: client.meta.events.unregister(event, unique_id=unique_id)


@dataclass(frozen=True, slots=True)
class Quarantined:
    """One record as the quarantine queue holds it, its parts reassembled."""

    reason: str
    data: bytes
    stream_arn: str
    sequence_number: str
    sub_sequence_number: int | None
    partition_key: str
    parts: int


@dataclass(frozen=True, slots=True)
class Email:
    """One message SNS delivered to the e-mail topic, as the subscribed queue received it."""

    subject: str
    body: str


@dataclass
class DasWorld:
    """The moto account, the local Slack server and the environment of one test."""

    monkeypatch: pytest.MonkeyPatch
    kms: Any
    sqs: Any
    key_id: str
    email_queue_url: str
    quarantine_queue_url: str
    slack: HTTPServer
    slack_sleeps: list[float] = field(default_factory=list)
    _data_keys: dict[tuple[str, str], das.DasDataKey] = field(default_factory=dict)
    _emails: list[Email] = field(default_factory=list)
    _quarantine_messages: list[dict[str, Any]] = field(default_factory=list)

    # ------------------------------------------------------------------ records
    def data_key(self, resource_id: str, name: str = "a") -> das.DasDataKey:
        """A data key RDS generated for `resource_id` (`name` tells several keys of one resource apart)."""
        if (resource_id, name) not in self._data_keys:
            self._data_keys[(resource_id, name)] = das.generate_das_data_key(
                self.kms, self.key_id, resource_id
            )
        return self._data_keys[(resource_id, name)]

    def record_data(
        self,
        record: Mapping[str, Any],
        resource_id: str,
        *,
        key: str = "a",
        version: str = "1.1",
        algorithm: Algorithm = das.UNSIGNED_SUITE,
    ) -> bytes:
        """Kinesis data of one decrypted record, encrypted as RDS does under the named data key."""
        return das.das_record_data(
            record, self.data_key(resource_id, key), version=version, algorithm=algorithm
        )

    # ------------------------------------------------------------------ the function
    def install_runtime(self) -> tuple[Runtime, KeyFaultKms]:
        """Build the container's runtime now: Slack retries that never sleep, its KMS client counted."""
        policy = RetryPolicy(
            max_attempts=3,
            interval_calculator=FixedValueRetryIntervalCalculator(0.25),
            sleep=self.slack_sleeps.append,
        )
        runtime = Runtime(Settings.from_env(os.environ), slack_policy=policy)
        counting = KeyFaultKms(runtime.kms)
        runtime.kms = counting  # type: ignore[assignment]  # before the decryptor is built from it
        self.monkeypatch.setattr(runtime_module, "_RUNTIME", runtime)
        return runtime, counting

    @staticmethod
    def invoke(records: Sequence[dict[str, Any]]) -> list[str]:
        """Call the handler with a Kinesis event of `records`; the batchItemFailures sequence numbers."""
        response = lambda_handler(das.kinesis_event(records), FakeLambdaContext())
        return [str(item["itemIdentifier"]) for item in response["batchItemFailures"]]

    def set_env(self, name: str, value: str) -> None:
        """Set an environment variable and forget the runtime built from the old value."""
        self.monkeypatch.setenv(name, value)
        reset_runtime()

    # ------------------------------------------------------------------ what came out
    def emails(self) -> list[Email]:
        """Every e-mail published so far (the tap queue is drained into a list kept across calls)."""
        for message in self._drain(self.email_queue_url):
            envelope = json.loads(message)
            self._emails.append(Email(envelope.get("Subject", ""), envelope["Message"]))
        return list(self._emails)

    def slack_messages(self) -> list[dict[str, Any]]:
        """The JSON payloads Slack answered 2xx to, in order (what reached the channel)."""
        return [
            json.loads(request.get_data(as_text=True))
            for request, response in self.slack.log
            if 200 <= response.status_code < 300
        ]

    def quarantined(self) -> list[Quarantined]:
        """Every record in the quarantine queue so far, multi-part messages reassembled, in send order."""
        self._quarantine_messages.extend(json.loads(body) for body in self._drain(self.quarantine_queue_url))
        grouped: dict[tuple[str, int | None, str], list[dict[str, Any]]] = {}
        for part in self._quarantine_messages:
            grouped.setdefault(
                (part["sequence_number"], part["sub_sequence_number"], part["reason"]), []
            ).append(part)
        records = []
        for parts in grouped.values():
            parts.sort(key=lambda part: int(part["part"]))
            assert [part["part"] for part in parts] == list(range(1, parts[0]["parts"] + 1)), "parts missing"
            first = parts[0]
            records.append(
                Quarantined(
                    reason=first["reason"],
                    data=base64.b64decode("".join(part["data"] for part in parts)),
                    stream_arn=first["stream_arn"],
                    sequence_number=first["sequence_number"],
                    sub_sequence_number=first["sub_sequence_number"],
                    partition_key=first["partition_key"],
                    parts=len(parts),
                )
            )
        return records

    def _drain(self, queue_url: str) -> list[str]:
        """Receive and delete every message of a queue; their bodies in order."""
        bodies: list[str] = []
        while True:
            reply = self.sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)
            messages = reply.get("Messages", [])
            if not messages:
                return bodies
            for message in messages:
                bodies.append(message["Body"])
                self.sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


@dataclass(frozen=True, slots=True)
class Summaries:
    """The 'invocation summary' lines the handler logs, one per completed invocation."""

    stream: io.StringIO

    def all(self) -> list[dict[str, Any]]:
        """Every summary so far, parsed."""
        lines = [json.loads(line) for line in self.stream.getvalue().splitlines() if line.strip()]
        return [line["summary"] for line in lines if line.get("message") == "invocation summary"]

    def last(self) -> dict[str, Any]:
        """The summary of the latest invocation."""
        return self.all()[-1]


@pytest.fixture(name="summaries")
def summaries_fixture() -> Iterator[Summaries]:
    """Capture the Powertools logger's JSON lines for the test."""
    handler = powertools_logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    stream = io.StringIO()
    previous = handler.setStream(stream)
    try:
        yield Summaries(stream)
    finally:
        handler.setStream(previous)


@pytest.fixture(name="das_slack_server", scope="module")
def das_slack_server_fixture() -> Iterator[HTTPServer]:
    """One plain HTTP server on 127.0.0.1 for the module, playing Slack's incoming webhook."""
    server = HTTPServer(host="127.0.0.1", port=0)
    server.start()
    yield server
    server.clear()
    server.stop()


@pytest.fixture(name="das_world")
def das_world_fixture(monkeypatch: pytest.MonkeyPatch, das_slack_server: HTTPServer) -> Iterator[DasWorld]:
    """A moto account wired like a deployment of the Activity Stream function, variables set, no runtime."""
    for name, value in {
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "ALERTS_RULES", "ALERTS_SUPPRESSION_MINUTES", "ALERTS_MIN_SEVERITY"):
        monkeypatch.delenv(name, raising=False)
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
        monkeypatch.delenv(name, raising=False)  # slack-sdk ignores NO_PROXY
    das_slack_server.clear()
    das_slack_server.expect_request(HOOK_PATH, method="POST").respond_with_data("ok")
    reset_runtime()
    with mock_aws():
        kms = boto3.client("kms", region_name=REGION)
        sns = boto3.client("sns", region_name=REGION)
        sqs = boto3.client("sqs", region_name=REGION)
        topic_arn = sns.create_topic(Name="audit-alerts")["TopicArn"]
        email_queue_url = sqs.create_queue(QueueName="email-tap")["QueueUrl"]
        email_queue_arn = sqs.get_queue_attributes(QueueUrl=email_queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=email_queue_arn)
        quarantine_queue_url = sqs.create_queue(QueueName=QUARANTINE_QUEUE)["QueueUrl"]
        secret_arn = boto3.client("secretsmanager", region_name=REGION).create_secret(
            Name="audit-alerts/slack",
            SecretString=json.dumps({"webhook_url": das_slack_server.url_for(HOOK_PATH)}),
        )["ARN"]
        boto3.client("dynamodb", region_name=REGION).create_table(**create_table_kwargs(TABLE))
        monkeypatch.setenv("ALERTS_SNS_TOPIC_ARN", topic_arn)
        monkeypatch.setenv("ALERTS_SLACK_SECRET_ARN", secret_arn)
        monkeypatch.setenv("ALERTS_STATE_TABLE", TABLE)
        monkeypatch.setenv("ALERTS_QUARANTINE_QUEUE_URL", quarantine_queue_url)
        yield DasWorld(
            monkeypatch=monkeypatch,
            kms=kms,
            sqs=sqs,
            key_id=das.create_das_kms_key(kms),
            email_queue_url=email_queue_url,
            quarantine_queue_url=quarantine_queue_url,
            slack=das_slack_server,
        )
    reset_runtime()
    das_slack_server.clear()
