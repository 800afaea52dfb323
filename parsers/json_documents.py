"""Recognise the JSON documents `audit-alerts replay` accepts and split them into parser-ready batches."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import TypeVar

from parsers.activity_stream import DECRYPTED_RECORD_TYPE, ENVELOPE_TYPE
from parsers.cloudwatch_logs import (
    LogBatch,
    PayloadError,
    decode_base64,
    decode_cloudwatch_payload,
    epoch_ms,
    json_type_name,
    log_batch_from_json,
)
from parsers.das_envelope import EnvelopeError, resource_id_from_stream_arn
from parsers.event import Source
from parsers.log_groups import origin_for_log_group, source_for_log_group
from parsers.records import Origin, RawRecord

EXPECTED_DOCUMENTS = (
    'a CloudWatch Logs Lambda event {"awslogs": {"data": …}}, a decoded subscription payload '
    '(messageType/logEvents), `aws logs filter-log-events` or `get-log-events` output {"events": […]}, '
    'a Lambda Kinesis event {"Records": [{"kinesis": {"data": …}}]}, `aws kinesis get-records` output '
    '{"Records": [{"Data": …}]}, a decrypted activity-stream record {"type": '
    '"DatabaseActivityMonitoringRecord", …} or its encrypted envelope, or a JSON array of these'
)
_KPL_MAGIC = b"\xf3\x89\x9a\xc2"  # Kinesis Producer Library aggregated record

_Decoded = TypeVar("_Decoded")


@dataclass(frozen=True, slots=True)
class LogRecordsBatch:
    """Plain log lines with their origin, for the dialect parsers (source None = sniff the dialect later)."""

    origin: Origin
    records: tuple[RawRecord, ...]
    source: Source | None


@dataclass(frozen=True, slots=True)
class ActivityStreamBatch:
    """A decrypted activity-stream record, for parse_activity_stream_record."""

    record: Mapping[str, object]
    location: str


@dataclass(frozen=True, slots=True)
class EncryptedActivityBatch:
    """An encrypted activity-stream record (envelope bytes) and the resource id its data key is bound to.

    `resource_id` comes from the record's eventSourceARN (a Lambda Kinesis event); None when the document
    does not say (`aws kinesis get-records` output, a bare envelope): the caller must supply it.
    """

    data: bytes
    resource_id: str | None
    location: str


JsonBatch = LogRecordsBatch | ActivityStreamBatch | EncryptedActivityBatch


class DocumentError(ValueError):
    """A JSON document replay cannot use; the message says where and what was expected."""


def batches_from_json(document: object, location: str) -> list[JsonBatch]:
    """Recognise one decoded JSON document (or an array of them) and return its batches in order.

    Record locations are `<location>#<CloudWatch event id>` (or `#<index in the events array>` when
    the event has no id); array elements and Kinesis records add `[<index>]` to the location.
    """
    if isinstance(document, list):
        return [
            batch
            for index, element in enumerate(document)
            for batch in batches_from_json(element, f"{location}[{index}]")
        ]
    if not isinstance(document, Mapping):
        raise DocumentError(
            f"{location}: a JSON {json_type_name(document)} is not a document; expected {EXPECTED_DOCUMENTS}"
        )
    if "awslogs" in document:
        return _from_awslogs_event(document["awslogs"], location)
    if "messageType" in document or "logEvents" in document:
        return _from_log_batch(_checked(lambda: log_batch_from_json(document), location), location)
    if "Records" in document:
        return _from_kinesis_event(document["Records"], location)
    if "events" in document:
        return _from_log_events_output(document["events"], location)
    if document.get("type") in (DECRYPTED_RECORD_TYPE, ENVELOPE_TYPE):
        data = json.dumps(document).encode("utf-8")
        return [_activity_stream_batch(document, data, None, location)]
    raise DocumentError(f"{location}: unrecognised JSON object; expected {EXPECTED_DOCUMENTS}")


def _from_awslogs_event(awslogs: object, location: str) -> list[JsonBatch]:
    """`{"awslogs": {"data": base64(gzip(subscription JSON))}}` as delivered to a Lambda function."""
    data = awslogs.get("data") if isinstance(awslogs, Mapping) else None
    if not isinstance(data, str):
        raise DocumentError(f"{location}: awslogs has no data string")
    return _from_log_batch(_checked(lambda: decode_cloudwatch_payload(data), location), location)


def _from_log_batch(batch: LogBatch, location: str) -> list[JsonBatch]:
    """A decoded subscription payload → one batch (none for a CONTROL_MESSAGE or no events)."""
    if batch.is_control_message or not batch.records:
        return []
    records = tuple(
        record._replace(location=_event_location(location, record.event_id, index))
        for index, record in enumerate(batch.records)
    )
    return [
        LogRecordsBatch(
            origin=origin_for_log_group(batch.log_group, batch.log_stream),
            records=records,
            source=source_for_log_group(batch.log_group),
        )
    ]


def _from_kinesis_event(kinesis_records: object, location: str) -> list[JsonBatch]:
    """A Lambda Kinesis event or `aws kinesis get-records` output: each record's data, decoded."""
    if not isinstance(kinesis_records, list):
        raise DocumentError(f"{location}: Records is not an array; expected {EXPECTED_DOCUMENTS}")
    batches: list[JsonBatch] = []
    for index, kinesis_record in enumerate(kinesis_records):
        record_location = f"{location}[{index}]"
        data, resource_id = _kinesis_data(kinesis_record)
        if data is None:
            raise DocumentError(
                f"{record_location}: Records[{index}] has neither kinesis.data (Lambda event) "
                "nor Data (get-records output) as a string"
            )
        payload = _checked(partial(decode_base64, data), record_location)
        batches.extend(_from_kinesis_payload(payload, resource_id, record_location))
    return batches


def _kinesis_data(kinesis_record: object) -> tuple[str | None, str | None]:
    """A record's base64 data and, for a Lambda event from an activity stream, the stream's resource id."""
    if not isinstance(kinesis_record, Mapping):
        return None, None
    kinesis = kinesis_record.get("kinesis")
    if isinstance(kinesis, Mapping):  # Lambda event: {"kinesis": {"data"}, "eventSourceARN"}
        data = kinesis.get("data")
        arn = kinesis_record.get("eventSourceARN")
        try:
            resource_id = resource_id_from_stream_arn(arn) if isinstance(arn, str) else None
        except EnvelopeError:
            resource_id = None  # not an aws-rds-das-… stream: the caller must name the resource
        return (data if isinstance(data, str) else None), resource_id
    data = kinesis_record.get("Data")  # get-records output: {"SequenceNumber", "Data", "PartitionKey"}
    return (data if isinstance(data, str) else None), None


def _from_kinesis_payload(payload: bytes, resource_id: str | None, location: str) -> list[JsonBatch]:
    """One Kinesis record's bytes: an activity-stream record (encrypted or not), else CloudWatch Logs."""
    if payload.startswith(_KPL_MAGIC):
        raise DocumentError(f"{location}: KPL-aggregated Kinesis record (de-aggregate it first)")
    if payload.lstrip().startswith(b"{"):
        try:
            peeked = json.loads(payload)
        except (ValueError, RecursionError):
            peeked = None  # let the CloudWatch decoder report the JSON error
        if isinstance(peeked, dict) and peeked.get("type") in (DECRYPTED_RECORD_TYPE, ENVELOPE_TYPE):
            return [_activity_stream_batch(peeked, payload, resource_id, location)]
    return _from_log_batch(_checked(lambda: decode_cloudwatch_payload(payload), location), location)


def _activity_stream_batch(
    document: Mapping[str, object], data: bytes, resource_id: str | None, location: str
) -> ActivityStreamBatch | EncryptedActivityBatch:
    """A decrypted record (or a doc-style envelope holding one), or an encrypted envelope's bytes."""
    if document.get("type") == ENVELOPE_TYPE and not isinstance(
        document.get("databaseActivityEvents"), Mapping
    ):
        return EncryptedActivityBatch(data=data, resource_id=resource_id, location=location)
    return ActivityStreamBatch(record=document, location=location)


def _from_log_events_output(events: object, location: str) -> list[JsonBatch]:
    """`aws logs filter-log-events` (events carry logStreamName/eventId) or `get-log-events` output."""
    if not isinstance(events, list):
        raise DocumentError(f"{location}: events is not an array; expected {EXPECTED_DOCUMENTS}")
    by_stream: dict[str, list[RawRecord]] = {}
    for index, event in enumerate(events):
        stream, record = _record_from_cli_event(event, index, location)
        by_stream.setdefault(stream, []).append(record)
    # The CLI output names no log group, so the origin has only the stream and the dialect is sniffed.
    return [
        LogRecordsBatch(origin=Origin(log_stream=stream), records=tuple(records), source=None)
        for stream, records in by_stream.items()
    ]


def _record_from_cli_event(event: object, index: int, location: str) -> tuple[str, RawRecord]:
    """One `events[]` item of the CLI output → (log stream, RawRecord)."""
    if not isinstance(event, Mapping):
        raise DocumentError(f"{location}: events[{index}] is not an object (got {json_type_name(event)})")
    message = event.get("message")
    if not isinstance(message, str):
        raise DocumentError(f"{location}: events[{index}] has no message string")
    stream = event.get("logStreamName") or ""
    event_id = event.get("eventId") or ""
    if not isinstance(stream, str) or not isinstance(event_id, str):
        raise DocumentError(f"{location}: events[{index}] logStreamName/eventId must be strings")
    timestamp = _checked(lambda: epoch_ms(event.get("timestamp"), f"events[{index}].timestamp"), location)
    record = RawRecord(
        text=message,
        location=_event_location(location, event_id, index),
        event_id=event_id,
        timestamp_ms=timestamp,
    )
    return stream, record


def _event_location(location: str, event_id: str, index: int) -> str:
    """`<location>#<event id>`, or `#<index>` when the event has no id."""
    return f"{location}#{event_id or index}"


def _checked(decode: Callable[[], _Decoded], location: str) -> _Decoded:
    """Run a transport decoder, turning its PayloadError into a DocumentError naming the location."""
    try:
        return decode()
    except PayloadError as exc:
        raise DocumentError(f"{location}: {exc}") from exc
