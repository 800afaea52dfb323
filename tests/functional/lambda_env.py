"""The world a deployed function runs in, rebuilt for functional tests of the Lambda handlers.

A moto account (SNS topic read back through a subscribed SQS queue, the Slack secret in Secrets
Manager, the DynamoDB state table), a real HTTP server on 127.0.0.1 as Slack, the deploy contract's
environment variables, what the function logged, and faults injected into its AWS clients. The
inputs themselves are built by tests.functional.lambda_events.

Test modules import the fixtures (`world`, `logs`, `slack`, `slack_server`) by their function names
(`world_fixture` …), so that test arguments never shadow an imported name.
"""

from __future__ import annotations

import io
import json
import logging
import os
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from pytest_httpserver import HTTPServer
from slack_sdk.http_retry.builtin_interval_calculators import FixedValueRetryIntervalCalculator

from handlers import runtime as runtime_module
from handlers.invocation import logger as powertools_logger
from handlers.runtime import Runtime, reset_runtime
from handlers.settings import Settings
from infra.state_table import create_table_kwargs, time_to_live_kwargs
from notifiers.slack import RetryPolicy
from tests.functional.lambda_events import REGION

TABLE = "audit-alerts-state"
HOOK_PATH = "/services/T0LAMBDA/B0LAMBDA/lambdaWebh00kT0ken"
SLACK_BACKOFF = 0.25


# ------------------------------------------------------------------------------------- the account
@dataclass(frozen=True, slots=True)
class Email:
    """One message SNS delivered to the e-mail topic, as the subscribed queue received it."""

    subject: str
    body: str
    attributes: dict[str, str]


@dataclass
class AwsWorld:
    """The moto account, the local Slack server and the environment of one test."""

    monkeypatch: pytest.MonkeyPatch
    sqs: Any
    dynamodb: Any
    queue_url: str
    secret_arn: str
    slack: HTTPServer
    slack_sleeps: list[float] = field(default_factory=list)
    _emails: list[Email] = field(default_factory=list)

    def emails(self) -> list[Email]:
        """Every e-mail published so far (the queue is drained into a list kept across calls)."""
        while True:
            reply = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10)
            messages = reply.get("Messages", [])
            if not messages:
                return list(self._emails)
            for message in messages:
                envelope = json.loads(message["Body"])
                attributes = {
                    name: value["Value"] for name, value in envelope.get("MessageAttributes", {}).items()
                }
                self._emails.append(Email(envelope.get("Subject", ""), envelope["Message"], attributes))
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])

    def slack_bodies(self) -> list[str]:
        """The raw bodies of every request Slack received (retries included), in order."""
        return [request.get_data(as_text=True) for request, _response in self.slack.log]

    def slack_messages(self) -> list[dict[str, Any]]:
        """The JSON payloads Slack answered 2xx to, in order (what reached the channel)."""
        return [
            json.loads(request.get_data(as_text=True))
            for request, response in self.slack.log
            if 200 <= response.status_code < 300
        ]

    def install_runtime(self) -> Runtime:
        """Build the container's runtime from the environment now, with Slack retries that never sleep."""
        policy = RetryPolicy(
            max_attempts=3,
            interval_calculator=FixedValueRetryIntervalCalculator(SLACK_BACKOFF),
            sleep=self.slack_sleeps.append,
        )
        runtime = Runtime(Settings.from_env(os.environ), slack_policy=policy)
        self.monkeypatch.setattr(runtime_module, "_RUNTIME", runtime)
        return runtime

    def unset(self, *names: str) -> None:
        """Remove environment variables and forget the runtime built from them."""
        for name in names:
            self.monkeypatch.delenv(name, raising=False)
        reset_runtime()

    def set_env(self, name: str, value: str) -> None:
        """Set an environment variable and forget the runtime built from the old value."""
        self.monkeypatch.setenv(name, value)
        reset_runtime()

    def point_slack_at(self, url: str) -> None:
        """Rewrite the Slack secret to hold `url` (the runtime reads it on its next build)."""
        boto3.client("secretsmanager", region_name=REGION).put_secret_value(
            SecretId=self.secret_arn, SecretString=json.dumps({"webhook_url": url})
        )
        reset_runtime()

    def table_items(self, prefix: str) -> list[dict[str, Any]]:
        """The state table's items whose partition key starts with `prefix`."""
        items: list[dict[str, Any]] = self.dynamodb.scan(TableName=TABLE)["Items"]
        return [item for item in items if item["pk"]["S"].startswith(prefix)]


def closed_port_url() -> str:
    """A webhook URL on a local port nobody listens on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}{HOOK_PATH}"


@pytest.fixture(scope="module", name="slack_server")
def slack_server_fixture() -> Iterator[HTTPServer]:
    """One plain HTTP server on 127.0.0.1 for the module, playing Slack's incoming webhook."""
    server = HTTPServer(host="127.0.0.1", port=0)
    server.start()
    yield server
    server.clear()
    server.stop()


@pytest.fixture(name="slack")
def slack_fixture(slack_server: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[HTTPServer]:
    """The Slack server answering `ok` to the webhook path, with an empty request log."""
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
        monkeypatch.delenv(name, raising=False)  # slack-sdk ignores NO_PROXY
    slack_server.clear()
    slack_server.expect_request(HOOK_PATH, method="POST").respond_with_data("ok")
    yield slack_server
    slack_server.clear()


@pytest.fixture(name="world")
def world_fixture(monkeypatch: pytest.MonkeyPatch, slack: HTTPServer) -> Iterator[AwsWorld]:
    """A moto account wired like a deployment, the variables set, and no runtime built yet."""
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.setenv(name, REGION)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")  # never a real account's
    for name in ("AWS_PROFILE", "ALERTS_RULES", "ALERTS_SUPPRESSION_MINUTES", "ALERTS_MIN_SEVERITY"):
        monkeypatch.delenv(name, raising=False)
    reset_runtime()
    with mock_aws():
        sns = boto3.client("sns", region_name=REGION)
        sqs = boto3.client("sqs", region_name=REGION)
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        topic_arn = sns.create_topic(Name="audit-alerts")["TopicArn"]
        queue_url = sqs.create_queue(QueueName="email-tap")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
        secret_arn = boto3.client("secretsmanager", region_name=REGION).create_secret(
            Name="audit-alerts/slack",
            SecretString=json.dumps({"webhook_url": slack.url_for(HOOK_PATH)}),
        )["ARN"]
        dynamodb.create_table(**create_table_kwargs(TABLE))
        dynamodb.update_time_to_live(**time_to_live_kwargs(TABLE))
        monkeypatch.setenv("ALERTS_SNS_TOPIC_ARN", topic_arn)
        monkeypatch.setenv("ALERTS_SLACK_SECRET_ARN", secret_arn)
        monkeypatch.setenv("ALERTS_STATE_TABLE", TABLE)
        yield AwsWorld(monkeypatch, sqs, dynamodb, queue_url, secret_arn, slack)
    reset_runtime()


# -------------------------------------------------------------------------------------------- logs
FUNCTION_LOGGERS = frozenset({"handlers", "notifiers", "detections", "parsers", powertools_logger.name})


@dataclass
class CapturedLogs:
    """What the function wrote: Powertools' JSON log lines, stdlib log records, and stdout/stderr (EMF)."""

    stream: io.StringIO
    caplog: pytest.LogCaptureFixture
    capsys: pytest.CaptureFixture[str]
    _printed: list[str] = field(default_factory=list)

    def powertools(self) -> list[dict[str, Any]]:
        """The Powertools log lines, parsed."""
        return [json.loads(line) for line in self.stream.getvalue().splitlines() if line.strip()]

    def text(self) -> str:
        """Everything written so far, as one text."""
        captured = self.capsys.readouterr()
        self._printed += [captured.out, captured.err]
        return "\n".join([self.stream.getvalue(), self.caplog.text, *self._printed])

    def messages(self, level: int = logging.DEBUG) -> list[str]:
        """What the function's own loggers said at `level` or above (Powertools' records included)."""
        return [
            record.getMessage()
            for record in self.caplog.records
            if record.levelno >= level and record.name.split(".")[0] in FUNCTION_LOGGERS
        ]

    def summaries(self) -> list[dict[str, Any]]:
        """The 'invocation summary' counts, one per completed invocation."""
        return [line["summary"] for line in self.powertools() if line.get("message") == "invocation summary"]


@pytest.fixture(name="logs")
def logs_fixture(
    caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> Iterator[CapturedLogs]:
    """Capture the Powertools logger's stream, the project's stdlib loggers at DEBUG, and stdout."""
    handler = powertools_logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    stream = io.StringIO()
    previous = handler.setStream(stream)
    caplog.set_level(logging.INFO)
    for name in ("handlers", "notifiers", "detections", "parsers"):
        caplog.set_level(logging.DEBUG, logger=name)
    try:
        yield CapturedLogs(stream, caplog, capsys)
    finally:
        handler.setStream(previous)


# ------------------------------------------------------------------------------------------ faults
ErrorFactory = Callable[[str], Exception]


def client_error(code: str, status: int = 400) -> ErrorFactory:
    """A factory of botocore ClientErrors with `code`, as the service would answer `operation`."""

    def make(operation: str) -> Exception:
        """The error for one call."""
        error = {"Code": code, "Message": f"{code} (injected)"}
        return ClientError({"Error": error, "ResponseMetadata": {"HTTPStatusCode": status}}, operation)

    return make


@dataclass
class Fault:
    """An event hook failing chosen calls of one client until removed; counts what it failed."""

    client: Any
    event: str
    error: ErrorFactory
    when: Callable[[dict[str, Any]], bool] = lambda _params: True
    failed: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        """Register the hook on the client."""
        self.client.meta.events.register(self.event, self._maybe_fail, unique_id=f"fault-{id(self)}")

    def _maybe_fail(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        """Raise for a chosen call (before anything is sent), as the service's answer would."""
        if self.when(params):
            self.failed.append(params)
            raise self.error(model.name)

    def remove(self) -> None:
        """Let every call through again."""
        self.client.meta.events.unregister(self.event, unique_id=f"fault-{id(self)}")


def fail_calls(
    client: Any,
    operation: str,
    error: ErrorFactory,
    when: Callable[[dict[str, Any]], bool] = lambda _params: True,
) -> Fault:
    """Make `client`'s `operation` calls (for which `when(params)` holds) raise `error`."""
    service = client.meta.service_model.service_id.hyphenize()
    return Fault(client, f"before-parameter-build.{service}.{operation}", error, when)


def publishes_subject_with(text: str) -> Callable[[dict[str, Any]], bool]:
    """A PublishBatch condition: some entry's subject contains `text`."""
    return lambda params: any(text in entry["Subject"] for entry in params["PublishBatchRequestEntries"])
