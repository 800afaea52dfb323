"""The hops moto does not run, played by the demo: subscription filter → Lambda, Kinesis → Lambda.

CloudWatch Logs events are read back with `filter_log_events` and handed to the real
`handlers.cloudwatch_logs.lambda_handler` as the subscription payload AWS sends (gzip + base64
`{"awslogs":{"data":…}}`, DATA_MESSAGE, one payload per log stream). Activity-stream records are
read with `get_records` and handed to the real `handlers.activity_stream.lambda_handler` as the
Kinesis event an event source mapping sends. The handlers run with the deploy contract's
environment variables pointed at the emulator; the process environment is restored afterwards.
"""

from __future__ import annotations

import base64
import gzip
import io
import json
import logging
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from handlers.runtime import Runtime, get_runtime, reset_runtime

if TYPE_CHECKING:
    from mypy_boto3_kinesis import KinesisClient
    from mypy_boto3_logs import CloudWatchLogsClient

DUMMY_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "demo", "AWS_SECRET_ACCESS_KEY": "demo"}  # moto accepts any
# Cleared while the demo runs: a user's proxies, and every AWS_* / ALERTS_* setting (profiles, session
# tokens, per-service endpoints, their own pipeline's configuration) the demo does not set itself.
_PROXIES = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy")
_CLEARED_PREFIXES = ("AWS_", "ALERTS_")
LAMBDA_MEMORY_MB = 256


@contextmanager
def handler_environment(variables: Mapping[str, str]) -> Iterator[None]:
    """Set exactly `variables` among AWS_* / ALERTS_* (no proxies) while the block runs; restore after."""
    cleared = [name for name in os.environ if name.startswith(_CLEARED_PREFIXES) or name in _PROXIES]
    saved = {name: os.environ.get(name) for name in {*cleared, *variables}}
    try:
        for name in cleared:
            del os.environ[name]
        os.environ.update(variables)
        reset_runtime()
        yield
    finally:
        reset_runtime()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@dataclass
class DemoLambdaContext:
    """The LambdaContext attributes the handlers and Powertools read, for one emulated function."""

    function_name: str
    region: str
    account: str
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = LAMBDA_MEMORY_MB
    aws_request_id: str = "demo-request"
    remaining_millis: int = 60_000

    @property
    def invoked_function_arn(self) -> str:
        """The function's ARN."""
        return f"arn:aws:lambda:{self.region}:{self.account}:function:{self.function_name}"

    @property
    def log_group_name(self) -> str:
        """The function's own log group."""
        return f"/aws/lambda/{self.function_name}"

    @property
    def log_stream_name(self) -> str:
        """A log stream name of the function."""
        return "demo/[$LATEST]0000"

    def get_remaining_time_in_millis(self) -> int:
        """Time left in the invocation (fixed: the demo has no real timeout)."""
        return self.remaining_millis


@dataclass
class KmsCallCounter:
    """Counts KMS calls by operation through a botocore event hook on the clients it is attached to."""

    calls: dict[str, int] = field(default_factory=dict)

    def attach(self, client: Any, who: str) -> None:
        """Count every KMS call `client` makes, under `who`."""

        def count(model: Any, **_: Any) -> None:
            """One call went out."""
            key = f"{who} {model.name}"
            self.calls[key] = self.calls.get(key, 0) + 1

        client.meta.events.register("before-call.kms", count, unique_id=f"demo-kms-count-{who}")


@dataclass
class HandlerLogs:
    """The Powertools logger's JSON lines, captured instead of printed, and the summaries among them."""

    stream: io.StringIO = field(default_factory=io.StringIO)

    def summaries(self) -> list[dict[str, Any]]:
        """Every 'invocation summary' the handlers logged so far."""
        found = []
        for line in self.stream.getvalue().splitlines():
            try:
                document = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(document, dict) and document.get("message") == "invocation summary":
                found.append(document.get("summary", {}))
        return found


@contextmanager
def captured_handler_logs(captured: HandlerLogs) -> Iterator[HandlerLogs]:
    """Route the handlers' Powertools log lines into `captured` while the block runs."""
    from handlers.invocation import logger  # noqa: PLC0415 - imported with the handlers it logs for

    handler = logger.registered_handler
    previous = handler.setStream(captured.stream) if isinstance(handler, logging.StreamHandler) else None
    try:
        yield captured
    finally:
        if isinstance(handler, logging.StreamHandler) and previous is not None:
            handler.setStream(previous)


def warm_runtime(kms_counter: KmsCallCounter) -> Runtime:
    """The function container's runtime, built now from the environment, its KMS client counted."""
    runtime = get_runtime()
    kms_counter.attach(runtime.kms, "handler")
    return runtime


def subscription_payloads(
    logs: CloudWatchLogsClient, log_group: str, seen: set[str], *, owner: str, filter_name: str
) -> list[dict[str, Any]]:
    """The Lambda events CloudWatch Logs would send for the group's events not delivered yet."""
    by_stream: dict[str, list[dict[str, Any]]] = {}
    for page in logs.get_paginator("filter_log_events").paginate(logGroupName=log_group):
        for event in page.get("events", []):
            event_id = str(event.get("eventId", ""))
            if event_id in seen:
                continue
            seen.add(event_id)
            by_stream.setdefault(str(event.get("logStreamName", "")), []).append(
                {"id": event_id, "timestamp": event.get("timestamp", 0), "message": event.get("message", "")}
            )
    payloads = []
    for stream, events in by_stream.items():
        document = {
            "messageType": "DATA_MESSAGE",
            "owner": owner,
            "logGroup": log_group,
            "logStream": stream,
            "subscriptionFilters": [filter_name],
            "logEvents": events,
        }
        data = gzip.compress(json.dumps(document, separators=(",", ":")).encode("utf-8"))
        payloads.append({"awslogs": {"data": base64.b64encode(data).decode("ascii")}})
    return payloads


@dataclass
class ShardReader:
    """Reads one Kinesis stream from its start, remembering where it stopped (one shard per stream here)."""

    kinesis: KinesisClient
    stream_name: str
    stream_arn: str
    region: str
    account: str
    _iterators: dict[str, str] = field(default_factory=dict)

    def kinesis_event(self) -> dict[str, Any]:
        """The Lambda Kinesis event holding every record put since the last call."""
        records: list[dict[str, Any]] = []
        shards = self.kinesis.list_shards(StreamName=self.stream_name)["Shards"]
        for shard in shards:
            shard_id = shard["ShardId"]
            iterator = (
                self._iterators.get(shard_id)
                or self.kinesis.get_shard_iterator(
                    StreamName=self.stream_name, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON"
                )["ShardIterator"]
            )
            reply = self.kinesis.get_records(ShardIterator=iterator, Limit=1000)
            self._iterators[shard_id] = reply["NextShardIterator"]
            records.extend(self._lambda_record(shard_id, record) for record in reply["Records"])
        return {"Records": records}

    def _lambda_record(self, shard_id: str, record: Mapping[str, Any]) -> dict[str, Any]:
        """One record as a Kinesis event source mapping hands it to Lambda."""
        arrival = record["ApproximateArrivalTimestamp"]
        return {
            "kinesis": {
                "kinesisSchemaVersion": "1.0",
                "partitionKey": record["PartitionKey"],
                "sequenceNumber": record["SequenceNumber"],
                "data": base64.b64encode(record["Data"]).decode("ascii"),
                "approximateArrivalTimestamp": arrival.timestamp(),
            },
            "eventSource": "aws:kinesis",
            "eventVersion": "1.0",
            "eventID": f"{shard_id}:{record['SequenceNumber']}",
            "eventName": "aws:kinesis:record",
            "invokeIdentityArn": f"arn:aws:iam::{self.account}:role/aurora-audit-alerts-das",
            "awsRegion": self.region,
            "eventSourceARN": self.stream_arn,
        }
