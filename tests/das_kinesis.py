"""Lambda Kinesis events carrying Database Activity Stream records, optionally KPL-aggregated, for tests."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable, Sequence
from typing import Any

from aws_kinesis_agg.aggregator import RecordAggregator

from tests.das_events import ACCOUNT, REGION

FIRST_SEQUENCE_NUMBER = 49590338271490256608559692538361571095921575989136588898
ARRIVAL_TIMESTAMP = 1714557600.123


def stream_arn(resource_id: str) -> str:
    """The ARN of the stream RDS creates for a resource: `aws-rds-das-<resource id>`."""
    return f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/aws-rds-das-{resource_id}"


def sequence_number_at(index: int) -> str:
    """A realistic 56-digit Kinesis sequence number, increasing with `index`."""
    return str(FIRST_SEQUENCE_NUMBER + index)


def kinesis_record(
    data: bytes, *, resource_id: str, index: int = 0, partition_key: str = "das-partition-0"
) -> dict[str, Any]:
    """One record of a Lambda Kinesis event, as Lambda delivers it (data base64 text)."""
    sequence = sequence_number_at(index)
    return {
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": partition_key,
            "sequenceNumber": sequence,
            "data": base64.b64encode(data).decode("ascii"),
            "approximateArrivalTimestamp": ARRIVAL_TIMESTAMP + index,
        },
        "eventSource": "aws:kinesis",
        "eventVersion": "1.0",
        "eventID": f"shardId-000000000000:{sequence}",
        "eventName": "aws:kinesis:record",
        "invokeIdentityArn": f"arn:aws:iam::{ACCOUNT}:role/audit-alerts-das",
        "awsRegion": REGION,
        "eventSourceARN": stream_arn(resource_id),
    }


def kinesis_event(records: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """A Lambda Kinesis event."""
    return {"Records": list(records)}


def kpl_aggregate(
    payloads: Sequence[bytes],
    *,
    partition_keys: Sequence[str] | None = None,
    explicit_hash_keys: bool = False,
) -> bytes:
    """KPL-aggregate `payloads` into one record's data with aws-kinesis-agg's RecordAggregator."""
    aggregator = RecordAggregator()
    keys = partition_keys or [f"pk-{index}" for index in range(len(payloads))]
    for index, (payload, key) in enumerate(zip(payloads, keys, strict=True)):
        hash_key = str(2**127 + index) if explicit_hash_keys else None
        if aggregator.add_user_record(key, payload, hash_key) is not None:
            raise ValueError("payloads do not fit one aggregated record")
    aggregated = aggregator.clear_and_get()
    if aggregated is None:
        raise ValueError("nothing to aggregate")
    _partition_key, _hash_key, data = aggregated.get_contents()
    return bytes(data)


def corrupt_kpl_checksum(aggregate: bytes) -> bytes:
    """The aggregate with one bit of its MD5 trailer flipped."""
    return aggregate[:-1] + bytes([aggregate[-1] ^ 0x01])


def kpl_with_valid_checksum(message: bytes) -> bytes:
    """KPL magic + `message` + its correct MD5: for protobuf-level corruption."""
    return b"\xf3\x89\x9a\xc2" + message + hashlib.md5(message, usedforsecurity=False).digest()
