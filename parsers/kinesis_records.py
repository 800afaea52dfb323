"""Lambda Kinesis event records: strict base64 data, and KPL de-aggregation that refuses corrupt aggregates.

aws-kinesis-agg's deaggregator passes a record whose MD5 or protobuf is corrupt through as if it were a
plain record, and prints (then drops the rest of) an aggregate whose key-table indexes are out of range.
Here every aggregate is verified and parsed first, so a corrupt one raises AggregationError naming its
parent sequence number, and the library only ever sees aggregates it can split completely.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

# aws-kinesis-agg and protobuf (~45 ms of cold start) are imported only when an aggregate arrives.
KPL_MAGIC: bytes = b"\xf3\x89\x9a\xc2"  # aws_kinesis_agg.MAGIC (a test keeps the two equal)
_DIGEST_SIZE = 16  # MD5 of the protobuf message, appended after it


class KinesisRecordError(ValueError):
    """A Kinesis record that cannot be read (no data, bad base64); retrying will not change it."""

    retryable = False

    def __init__(self, reason: str, *, sequence_number: str = "") -> None:
        """Keep the reason and the parent record's sequence number (for batchItemFailures / the DLQ)."""
        super().__init__(f"{reason} (sequence number {sequence_number or 'unknown'})")
        self.reason = reason
        self.sequence_number = sequence_number


class AggregationError(KinesisRecordError):
    """A KPL aggregate whose MD5 checksum, protobuf or key tables are corrupt."""


def sequence_number(record: Mapping[str, Any]) -> str:
    """The record's `kinesis.sequenceNumber` ("" when absent); user records keep their parent's."""
    kinesis = record.get("kinesis")
    value = kinesis.get("sequenceNumber") if isinstance(kinesis, Mapping) else None
    return value if isinstance(value, str) else ""


def sub_sequence_number(record: Mapping[str, Any]) -> int | None:
    """A de-aggregated user record's index inside its parent aggregate; None for a plain record."""
    kinesis = record.get("kinesis")
    value = kinesis.get("subSequenceNumber") if isinstance(kinesis, Mapping) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def record_data(record: Mapping[str, Any]) -> bytes:
    """Strictly base64-decode `kinesis.data` (text, or bytes as aws-kinesis-agg emits) or raise."""
    kinesis = record.get("kinesis")
    data = kinesis.get("data") if isinstance(kinesis, Mapping) else None
    if not isinstance(data, str | bytes):
        raise KinesisRecordError(
            "Kinesis record has no kinesis.data", sequence_number=sequence_number(record)
        )
    compact = b"".join(data.split()) if isinstance(data, bytes) else "".join(data.split())
    try:
        return base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise KinesisRecordError(
            "Kinesis record data is not valid base64", sequence_number=sequence_number(record)
        ) from exc


def is_aggregated(data: bytes) -> bool:
    """Whether decoded record data is a KPL aggregate (starts with the KPL magic bytes)."""
    return data.startswith(KPL_MAGIC)


def deaggregate(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """All user records of a Lambda Kinesis batch, in order; the first unreadable parent raises.

    Callers isolating failures per parent record use deaggregate_record in their own loop.
    """
    return [user_record for record in records for user_record in deaggregate_record(record)]


def deaggregate_each(
    records: Sequence[dict[str, Any]],
) -> tuple[list[dict[str, Any]], list[tuple[dict[str, Any], KinesisRecordError]]]:
    """User records of every readable parent, and the parents that could not be split with why."""
    user_records: list[dict[str, Any]] = []
    unreadable: list[tuple[dict[str, Any], KinesisRecordError]] = []
    for record in records:
        try:
            user_records.extend(deaggregate_record(record))
        except KinesisRecordError as exc:
            unreadable.append((record, exc))
    return user_records, unreadable


def deaggregate_record(record: dict[str, Any]) -> list[dict[str, Any]]:
    """One Lambda Kinesis record → its user records.

    A plain record is returned as is. An aggregate becomes one record per user record, each keeping the
    parent's `sequenceNumber` (and other metadata) with `subSequenceNumber` 0, 1, … and its own
    `partitionKey`, `explicitHashKey` and base64 `data` text. An empty aggregate yields nothing.
    """
    data = record_data(record)
    if not is_aggregated(data):
        return [record]
    parent_sequence = sequence_number(record)
    expected = _verified_user_record_count(data[len(KPL_MAGIC) :], parent_sequence)
    if expected == 0:
        return []
    from aws_kinesis_agg import deaggregator  # noqa: PLC0415 - deferred: only aggregates need it

    user_records: list[dict[str, Any]] = list(deaggregator.iter_deaggregate_records([_library_ready(record)]))
    if len(user_records) != expected or not all(_is_split(user) for user in user_records):
        raise AggregationError(
            f"aws-kinesis-agg split the KPL aggregate into {len(user_records)} records, expected {expected}",
            sequence_number=parent_sequence,
        )
    for user in user_records:
        user_data = user["kinesis"]["data"]
        # The library re-encodes as bytes; Lambda delivers text, so keep one shape downstream.
        if isinstance(user_data, bytes):
            user["kinesis"]["data"] = user_data.decode("ascii")
    return user_records


def _verified_user_record_count(body: bytes, parent_sequence: str) -> int:
    """Check the MD5 trailer, the protobuf and its key-table indexes; return the user-record count."""
    if len(body) < _DIGEST_SIZE:
        raise AggregationError(
            "KPL aggregate is truncated (shorter than its MD5 checksum)", sequence_number=parent_sequence
        )
    message, digest = body[:-_DIGEST_SIZE], body[-_DIGEST_SIZE:]
    if hashlib.md5(message, usedforsecurity=False).digest() != digest:
        raise AggregationError(
            "KPL aggregate MD5 checksum does not match (corrupt or truncated)",
            sequence_number=parent_sequence,
        )
    from aws_kinesis_agg import deaggregator  # noqa: PLC0415 - deferred: only aggregates need it
    from google.protobuf.message import DecodeError  # type: ignore[import-untyped]  # noqa: PLC0415

    aggregate = deaggregator.messages_pb2.AggregatedRecord()
    try:
        aggregate.ParseFromString(message)
    except DecodeError as exc:
        raise AggregationError(
            "KPL aggregate protobuf does not parse", sequence_number=parent_sequence
        ) from exc
    if not aggregate.IsInitialized():
        raise AggregationError(
            "KPL aggregate protobuf lacks required fields", sequence_number=parent_sequence
        )
    partition_keys = len(aggregate.partition_key_table)
    hash_keys = len(aggregate.explicit_hash_key_table)
    for index, user in enumerate(aggregate.records):
        if user.partition_key_index >= partition_keys:
            raise AggregationError(
                f"KPL user record {index} names partition key {user.partition_key_index} "
                f"of a {partition_keys}-entry table",
                sequence_number=parent_sequence,
            )
        # The library reads the hash-key table whenever it is non-empty, even for records without one.
        if hash_keys and user.explicit_hash_key_index >= hash_keys:
            raise AggregationError(
                f"KPL user record {index} names explicit hash key {user.explicit_hash_key_index} "
                f"of a {hash_keys}-entry table",
                sequence_number=parent_sequence,
            )
    return len(aggregate.records)


def _library_ready(record: Mapping[str, Any]) -> dict[str, Any]:
    """A shallow copy whose `kinesis` has the keys aws-kinesis-agg reads unconditionally."""
    kinesis = dict(record["kinesis"])
    kinesis.setdefault("kinesisSchemaVersion", "1.0")
    kinesis.setdefault("sequenceNumber", "")
    kinesis.setdefault("approximateArrivalTimestamp", None)
    return {**record, "kinesis": kinesis}


def _is_split(user_record: Mapping[str, Any]) -> bool:
    """Whether the library produced a user record (not the parent passed through)."""
    kinesis = user_record.get("kinesis")
    return isinstance(kinesis, Mapping) and kinesis.get("aggregated") is True
