"""The Activity Stream composition: a Kinesis batch decrypted record by record, detected as a whole."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from detections.finding import Finding
from detections.noise import collapse
from handlers.invocation import InvocationSummary, logger
from handlers.pipeline import accept_events, detect
from handlers.runtime import Runtime
from notifiers.delivery import DeliveryReport, alert_id
from parsers.activity_stream import parse_activity_stream_record
from parsers.das_decrypt import DecryptError
from parsers.das_envelope import EnvelopeError, resource_id_from_stream_arn
from parsers.event import AuditEvent
from parsers.kinesis_records import KinesisRecordError, record_data, sequence_number, sub_sequence_number

# Set on a Kinesis record that could not be de-aggregated, so its handler quarantines it.
AGGREGATION_ERROR_KEY = "aggregationError"


def record_key(record: dict[str, Any]) -> str:
    """A Kinesis (sub-)record's identity within a batch: sequence number and sub-sequence number."""
    sub = sub_sequence_number(record)
    return sequence_number(record) if sub is None else f"{sequence_number(record)}#{sub}"


@dataclass
class RecordOutcome:
    """What became of one record before delivery."""

    events: list[AuditEvent] = field(default_factory=list)
    quarantine_reason: str = ""  # non-empty: never processable, set aside and acknowledged
    retry_reason: str = ""  # non-empty: may succeed later, must be reported as a batch item failure


@dataclass
class BatchOutcome:
    """The outcomes per record key and the delivery report of the whole batch."""

    records: dict[str, RecordOutcome] = field(default_factory=dict)
    delivery: DeliveryReport = field(default_factory=DeliveryReport)


def decrypt_and_parse(record: dict[str, Any], runtime: Runtime, summary: InvocationSummary) -> RecordOutcome:
    """One record → its audit events, or the reason it is quarantined or retried."""
    if reason := record.get(AGGREGATION_ERROR_KEY):
        return RecordOutcome(quarantine_reason=str(reason))
    try:
        resource_id = resource_id_from_stream_arn(str(record.get("eventSourceARN", "")))
        document = runtime.decryptor.decrypt_record(record_data(record), resource_id)
    except (EnvelopeError, KinesisRecordError) as exc:
        return RecordOutcome(quarantine_reason=str(exc))
    except DecryptError as exc:
        if exc.retryable:
            return RecordOutcome(retry_reason=str(exc))
        return RecordOutcome(quarantine_reason=str(exc))
    location = f"{resource_id}/{record_key(record)}"
    return RecordOutcome(
        events=list(accept_events(parse_activity_stream_record(document, location), summary.run))
    )


def _records_to_retry(
    findings: list[Finding], delivery: DeliveryReport, window: timedelta, origin: dict[str, str]
) -> set[str]:
    """The records whose findings fed an alert that must be retried (same grouping as delivery)."""
    failed_ids = {result.alert_id for result in delivery.failed_retryable}
    failed_groups = {a.first.group_key for a in collapse(findings, window) if alert_id(a) in failed_ids}
    return {
        origin[f.event.location]
        for f in findings
        if f.group_key in failed_groups and f.event.location in origin
    }


def process_activity_batch(
    records: list[dict[str, Any]], runtime: Runtime, summary: InvocationSummary, *, deadline: float | None
) -> BatchOutcome:
    """Decrypt and parse every record, detect over the whole batch (MAIN/AUX pairs span records), deliver."""
    outcome = BatchOutcome()
    origin: dict[str, str] = {}
    for record in records:
        key = record_key(record)
        result = outcome.records[key] = decrypt_and_parse(record, runtime, summary)
        for event in result.events:
            origin[event.location] = key
    events = sorted((e for r in outcome.records.values() for e in r.events), key=lambda e: e.time)
    findings = list(detect(runtime.engine(), events, summary.run))
    outcome.delivery = runtime.delivery.deliver(findings, runtime.now(), deadline=deadline)
    summary.absorb(outcome.delivery)
    for key in _records_to_retry(findings, outcome.delivery, runtime.delivery.window, origin):
        outcome.records[key].retry_reason = "alert delivery failed and will be retried"
    if outcome.delivery.failed_retryable:
        logger.warning("%d deliveries failed and will be retried", len(outcome.delivery.failed_retryable))
    return outcome
