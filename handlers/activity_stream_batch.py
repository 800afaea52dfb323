"""The Activity Stream composition: a Kinesis batch decrypted record by record, detected as a whole."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from detections.correlation import correlation_key
from detections.engine import batch_order
from detections.finding import Finding
from detections.noise import collapse
from detections.rule_needs import activity_prefilter_for
from handlers.invocation import InvocationSummary, logger
from handlers.pipeline import accept_events, detect
from handlers.runtime import Runtime
from notifiers.delivery import DeliveryReport, alert_id
from parsers.activity_stream import parse_activity_stream_record
from parsers.das_envelope import EnvelopeError, parse_envelope, resource_id_from_stream_arn
from parsers.das_errors import DecryptError
from parsers.event import AuditEvent, ParseResult
from parsers.kinesis_records import KinesisRecordError, record_data, sequence_number, sub_sequence_number
from parsers.prefilter_das import ActivityPrefilter

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


# Data keys (encrypted key, resource id) KMS failed to decrypt retryably in this invocation → the reason.
UnavailableKeys = dict[tuple[bytes, str], str]


def decrypt_activity_record(
    record: dict[str, Any], runtime: Runtime, unavailable_keys: UnavailableKeys
) -> tuple[RecordOutcome, DecryptedRecord | None]:
    """One record → its decrypted document and location, or the reason it is quarantined or retried.

    A data key KMS could not decrypt (throttling, 5xx, network) is not asked for again in the same
    invocation: its later records fail at once, so a throttled KMS is not hammered once per record
    (they would be re-delivered anyway: Lambda retries from the first failed record).
    """
    if reason := record.get(AGGREGATION_ERROR_KEY):
        return RecordOutcome(quarantine_reason=str(reason)), None
    try:
        resource_id = resource_id_from_stream_arn(str(record.get("eventSourceARN", "")))
        envelope = parse_envelope(record_data(record))
    except (EnvelopeError, KinesisRecordError) as exc:
        return RecordOutcome(quarantine_reason=str(exc)), None
    data_key = (envelope.encrypted_key, resource_id)
    if data_key in unavailable_keys:
        return RecordOutcome(retry_reason=unavailable_keys[data_key]), None
    try:
        document = runtime.decryptor.decrypt_envelope(envelope, resource_id)
    except DecryptError as exc:
        if not exc.retryable:
            return RecordOutcome(quarantine_reason=str(exc)), None
        unavailable_keys[data_key] = str(exc)  # only the KMS step fails retryably
        return RecordOutcome(retry_reason=str(exc)), None
    return RecordOutcome(), DecryptedRecord(document, f"{resource_id}/{record_key(record)}")


@dataclass(frozen=True, slots=True)
class DecryptedRecord:
    """A decrypted DatabaseActivityMonitoringRecord and the location its events are named after."""

    document: dict[str, object]
    location: str


def parse_decrypted(
    decrypted: Iterable[tuple[str, DecryptedRecord]], prefilter: ActivityPrefilter | None
) -> Iterator[tuple[str, list[ParseResult]]]:
    """Each record's parse results, by record key; with a pre-filter, events no rule can match are dropped.

    With a pre-filter every record is screened as it arrives (its document then let go: only the
    items that may matter are held) and none is parsed before all are screened: the evidence of a
    MAIN/AUX pair may come in a later record of the batch. Each screened record is let go once parsed.
    """
    if prefilter is None:
        for key, record in decrypted:
            yield key, list(parse_activity_stream_record(record.document, record.location))
        return
    screened = {key: prefilter.screen(record.document, record.location) for key, record in decrypted}
    while screened:
        key = next(iter(screened))
        yield key, list(prefilter.parse(screened.pop(key)))


@dataclass
class _Provenance:
    """Which records every event and every correlated statement came from."""

    record_of: dict[str, str] = field(default_factory=dict)  # event location → record key
    statement_of: dict[str, tuple[str, ...]] = field(default_factory=dict)  # event location → correlation key
    records_of: dict[tuple[str, ...], set[str]] = field(default_factory=dict)  # correlation key → record keys

    def add(self, event: AuditEvent, record: str) -> None:
        """Note that `event` came from `record`."""
        self.record_of[event.location] = record
        if (key := correlation_key(event)) is not None:
            self.statement_of[event.location] = key
            self.records_of.setdefault(key, set()).add(record)

    def records_feeding(self, finding: Finding) -> set[str]:
        """The finding's record and those of the events merged with it (a DROP's MAIN and AUX records)."""
        location = finding.event.location
        records = {self.record_of[location]} if location in self.record_of else set()
        if (key := self.statement_of.get(location)) is not None:
            records |= self.records_of[key]
        return records


def _records_to_retry(
    findings: list[Finding], delivery: DeliveryReport, window: timedelta, provenance: _Provenance
) -> set[str]:
    """The records whose findings fed an alert that must be retried (same grouping as delivery)."""
    failed_ids = {result.alert_id for result in delivery.failed_retryable}
    failed_groups = {a.first.group_key for a in collapse(findings, window) if alert_id(a) in failed_ids}
    return {
        record for f in findings if f.group_key in failed_groups for record in provenance.records_feeding(f)
    }


def process_activity_batch(
    records: list[dict[str, Any]], runtime: Runtime, summary: InvocationSummary, *, deadline: float | None
) -> BatchOutcome:
    """Decrypt and parse every record, detect over the whole batch (MAIN/AUX pairs span records), deliver."""
    outcome = BatchOutcome()
    provenance = _Provenance()
    unavailable_keys: UnavailableKeys = {}

    def decrypted() -> Iterator[tuple[str, DecryptedRecord]]:
        """The decrypted records in batch order, noting every record's outcome on the way."""
        for record in records:
            key = record_key(record)
            outcome.records[key], document = decrypt_activity_record(record, runtime, unavailable_keys)
            if document is not None:
                yield key, document

    prefilter = activity_prefilter_for(rule.needs for rule in runtime.rules)
    for key, results in parse_decrypted(decrypted(), prefilter):
        outcome.records[key].events = events = list(accept_events(results, summary.run))
        for event in events:
            provenance.add(event, key)
    summary.run.prefiltered += prefilter.dropped if prefilter is not None else 0
    events = sorted((e for r in outcome.records.values() for e in r.events), key=batch_order)
    # Each Kinesis record is a unit: a retried batch (from the first failed record on) reads the rule
    # windows without its records' earlier contributions and adds nothing twice.
    findings = list(
        detect(
            runtime.engine(),
            events,
            summary.run,
            unit_of=lambda e: provenance.record_of.get(e.location, ""),
            units=set(outcome.records),
        )
    )
    outcome.delivery = runtime.delivery.deliver(findings, runtime.now(), deadline=deadline)
    summary.absorb(outcome.delivery)
    for key in _records_to_retry(findings, outcome.delivery, runtime.delivery.window, provenance):
        outcome.records[key].retry_reason = "alert delivery failed and will be retried"
    if outcome.delivery.failed_retryable:
        logger.warning("%d deliveries failed and will be retried", len(outcome.delivery.failed_retryable))
    return outcome
