"""Lambda entry point for Database Activity Streams: decrypt, detect, deliver; never block a shard."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from handlers.activity_stream_batch import AGGREGATION_ERROR_KEY, process_activity_batch, record_key
from handlers.invocation import InvocationSummary, deadline_of, logger, metrics
from handlers.quarantine import QuarantinedRecord, QuarantineError
from handlers.runtime import Runtime, get_runtime
from parsers.kinesis_records import KinesisRecordError, deaggregate_each, record_data, sub_sequence_number

if TYPE_CHECKING:  # Powertools' batch utility (~100 ms with asyncio) is imported on the first invocation
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
    from aws_lambda_powertools.utilities.data_classes.kinesis_stream_event import KinesisStreamRecord
    from aws_lambda_powertools.utilities.typing import LambdaContext


class RecordRetryError(Exception):
    """This record must be retried (Lambda reports it in batchItemFailures)."""


def _deaggregated(event: dict[str, Any], summary: InvocationSummary) -> list[dict[str, Any]]:
    """User records of the batch; an aggregate that cannot be split is kept whole, marked for quarantine."""
    records, unreadable = deaggregate_each(event.get("Records", []))
    summary.invalid_payloads += len(unreadable)
    return records + [{**parent, AGGREGATION_ERROR_KEY: str(exc)} for parent, exc in unreadable]


def _quarantine(record: dict[str, Any], reason: str, runtime: Runtime) -> None:
    """Set a poison record aside with its raw data and reason; fail it if that is impossible."""
    kinesis = record.get("kinesis", {})
    if runtime.quarantine is None:
        raise RecordRetryError(
            f"record needs quarantine but ALERTS_QUARANTINE_QUEUE_URL is not set: {reason}"
        )
    try:
        raw = record_data(record)
    except KinesisRecordError:
        # Not base64 (a lenient decoder would silently drop characters): keep the text exactly as received.
        data = kinesis.get("data")
        raw = data.encode("utf-8", errors="surrogatepass") if isinstance(data, str) else b""
    quarantined = QuarantinedRecord(
        reason=reason,
        data=raw,
        stream_arn=str(record.get("eventSourceARN", "")),
        sequence_number=str(kinesis.get("sequenceNumber", "")),
        sub_sequence_number=sub_sequence_number(record),
        partition_key=str(kinesis.get("partitionKey", "")),
    )
    try:
        runtime.quarantine.put(quarantined)
    except QuarantineError as exc:
        raise RecordRetryError(str(exc)) from exc
    logger.warning("record %s quarantined: %s", quarantined.sequence_number, reason)


@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    """Kinesis batch from aws-rds-das-<resource-id>: report only the records that must be retried."""
    runtime = get_runtime()
    summary = InvocationSummary()
    records = _deaggregated(event, summary)
    summary.records = len(records)
    if not records:  # only empty KPL aggregates: Powertools refuses an empty batch, so answer here
        summary.emit()
        return {"batchItemFailures": []}
    outcome = process_activity_batch(records, runtime, summary, deadline=deadline_of(context))
    from aws_lambda_powertools.utilities.batch import (  # noqa: PLC0415 - deferred past import
        BatchProcessor,
        EventType,
        process_partial_response,
    )

    def handle(record: KinesisStreamRecord) -> None:
        """Apply the record's outcome: retry it, quarantine it, or acknowledge it."""
        result = outcome.records[record_key(record.raw_event)]
        if result.retry_reason:
            summary.retried_records += 1
            raise RecordRetryError(result.retry_reason)
        if result.quarantine_reason:
            _quarantine(record.raw_event, result.quarantine_reason, runtime)
            summary.quarantined += 1

    # Report every failed record, even all of them, instead of raising: the contract is batchItemFailures.
    processor = BatchProcessor(event_type=EventType.KinesisDataStreams, raise_on_entire_batch_failure=False)
    response = process_partial_response(
        event={"Records": records}, record_handler=handle, processor=processor, context=context
    )
    summary.emit()
    return response
