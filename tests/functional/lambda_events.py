"""Genuine Lambda inputs for the CloudWatch Logs handlers, built from lines real servers wrote.

A fake LambdaContext; the MariaDB and PostgreSQL logs of examples/real-servers; CloudWatch Logs
subscription payloads (Lambda `awslogs.data`, Kinesis record data, KPL aggregates) around them.
"""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aws_kinesis_agg.aggregator import RecordAggregator

REGION = "eu-west-1"
ACCOUNT = "123456789012"
REAL_SERVERS = Path(__file__).resolve().parents[2] / "examples" / "real-servers"
MARIADB_LOG = REAL_SERVERS / "mariadb" / "server_audit.log"
POSTGRES_LOG = REAL_SERVERS / "postgresql" / "postgresql.log"
MARIADB_GROUP = "/aws/rds/instance/mariadb-prod/audit"
MARIADB_STREAM = "mariadb-prod.server_audit.log"
POSTGRES_GROUP = "/aws/rds/cluster/pg-prod/postgresql"
POSTGRES_STREAM = "pg-prod-instance-1.0"
# CloudWatch ingestion time of the first line (2026-11-23 13:07:10 UTC, just after the servers wrote).
INGESTED_MS = 1_795_439_230_000


# ----------------------------------------------------------------------------------------- context
@dataclass
class FakeLambdaContext:
    """The LambdaContext attributes Powertools and the handlers read, with a fixed remaining time."""

    remaining_millis: int = 60_000
    function_name: str = "aurora-audit-alerts"
    function_version: str = "$LATEST"
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:aurora-audit-alerts"
    memory_limit_in_mb: int = 256
    aws_request_id: str = "7f6c1b2e-3d4a-4b5c-8d9e-0a1b2c3d4e5f"
    log_group_name: str = "/aws/lambda/aurora-audit-alerts"
    log_stream_name: str = "2026/11/23/[$LATEST]0123456789abcdef"

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left in the invocation (fixed: tests never depend on the clock)."""
        return self.remaining_millis


# ------------------------------------------------------------------------------- real server lines
def mariadb_lines() -> list[str]:
    """The MariaDB server_audit log lines, split on LF only (statements may hold VT/FF)."""
    text = MARIADB_LOG.read_bytes().decode("utf-8", errors="replace")
    return [line for line in text.split("\n") if line]


def postgres_lines() -> list[str]:
    """The PostgreSQL log's physical lines (continuation lines start with a TAB)."""
    text = POSTGRES_LOG.read_text(encoding="utf-8")
    return [line for line in text.split("\n") if line]


def postgres_entries() -> list[str]:
    """The PostgreSQL log's entries: a prefixed line joined with its TAB continuation lines."""
    entries: list[str] = []
    for line in postgres_lines():
        if line.startswith("\t") and entries:
            entries[-1] += "\n" + line
        else:
            entries.append(line)
    return entries


# -------------------------------------------------------------------------------- subscription data
@dataclass(frozen=True, slots=True)
class LogLine:
    """One CloudWatch log event to send: its message and its position in the stream (gives its id)."""

    message: str
    position: int


def numbered(messages: Sequence[str], start: int = 0) -> list[LogLine]:
    """Messages with consecutive stream positions from `start`."""
    return [LogLine(message, start + offset) for offset, message in enumerate(messages)]


def event_id(log_group: str, position: int) -> str:
    """A 56-digit CloudWatch-style event id, the same for the same line on every (re)delivery."""
    group_number = sum(log_group.encode("utf-8")) % 10_000
    return f"3695{group_number:04d}{position:048d}"


def subscription_document(log_group: str, log_stream: str, lines: Sequence[LogLine]) -> dict[str, Any]:
    """The decoded subscription payload CloudWatch Logs sends for `lines`."""
    events = [
        {
            "id": event_id(log_group, line.position),
            "timestamp": INGESTED_MS + line.position,
            "message": line.message,
        }
        for line in lines
    ]
    return {
        "messageType": "DATA_MESSAGE",
        "owner": ACCOUNT,
        "logGroup": log_group,
        "logStream": log_stream,
        "subscriptionFilters": ["aurora-audit-alerts"],
        "logEvents": events,
    }


def control_document() -> dict[str, Any]:
    """The CONTROL_MESSAGE CloudWatch sends to check the destination is reachable."""
    message = "CWL CONTROL MESSAGE: Checking health of destination Kinesis stream."
    return {
        "messageType": "CONTROL_MESSAGE",
        "owner": "CloudwatchLogs",
        "logGroup": "",
        "logStream": "",
        "subscriptionFilters": [],
        "logEvents": [{"id": "", "timestamp": INGESTED_MS, "message": message}],
    }


def gzipped(document: dict[str, Any]) -> bytes:
    """The gzip'd JSON bytes CloudWatch Logs delivers."""
    return gzip.compress(json.dumps(document).encode("utf-8"), mtime=0)


def lambda_event(document: dict[str, Any]) -> dict[str, Any]:
    """The Lambda subscription event: {"awslogs": {"data": base64(gzip(json))}}."""
    return {"awslogs": {"data": base64.b64encode(gzipped(document)).decode("ascii")}}


def mariadb_event(lines: Sequence[LogLine], log_group: str = MARIADB_GROUP) -> dict[str, Any]:
    """A Lambda subscription event of MariaDB audit lines."""
    return lambda_event(subscription_document(log_group, MARIADB_STREAM, lines))


def postgres_event(lines: Sequence[LogLine], log_group: str = POSTGRES_GROUP) -> dict[str, Any]:
    """A Lambda subscription event of PostgreSQL log messages."""
    return lambda_event(subscription_document(log_group, POSTGRES_STREAM, lines))


def sequence_number(index: int) -> str:
    """A Kinesis sequence number (56 digits), increasing with `index`."""
    return f"4959{index:052d}"


def kinesis_record(data: bytes, index: int, partition_key: str = "pk") -> dict[str, Any]:
    """One Lambda Kinesis event record carrying `data` (base64 in kinesis.data)."""
    return {
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": partition_key,
            "sequenceNumber": sequence_number(index),
            "data": base64.b64encode(data).decode("ascii"),
            "approximateArrivalTimestamp": INGESTED_MS / 1000 + index,
        },
        "eventSource": "aws:kinesis",
        "eventVersion": "1.0",
        "eventID": f"shardId-000000000000:{sequence_number(index)}",
        "eventName": "aws:kinesis:record",
        "invokeIdentityArn": f"arn:aws:iam::{ACCOUNT}:role/aurora-audit-alerts",
        "awsRegion": REGION,
        "eventSourceARN": f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/audit-logs",
    }


def kpl_aggregate(payloads: Sequence[bytes]) -> bytes:
    """One KPL aggregated record (magic + protobuf + MD5) holding `payloads` as user records."""
    aggregator = RecordAggregator()
    for number, payload in enumerate(payloads):
        assert aggregator.add_user_record(f"user-{number}", payload) is None, "aggregate overflowed"
    aggregate = aggregator.clear_and_get()
    assert aggregate is not None
    _partition_key, _hash_key, data = aggregate.get_contents()
    assert isinstance(data, bytes)
    return data


def kinesis_event(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """A Lambda Kinesis trigger event."""
    return {"Records": list(records)}
