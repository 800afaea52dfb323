"""Lambda entry points for CloudWatch Logs audit logs: direct subscriptions and via a Kinesis stream."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from handlers.invocation import InvocationSummary, deadline_of, logger, metrics
from handlers.log_batches import process_log_batch
from handlers.runtime import get_runtime
from notifiers.delivery import RetryableDeliveryError
from parsers.cloudwatch_logs import PayloadError, decode_cloudwatch_payload

if TYPE_CHECKING:  # Powertools' batch utility (~100 ms with asyncio) is imported by kinesis_handler only
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
    from aws_lambda_powertools.utilities.data_classes.kinesis_stream_event import KinesisStreamRecord
    from aws_lambda_powertools.utilities.typing import LambdaContext


@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Subscription filter → Lambda (asynchronous): decode, detect, deliver; raise only to be retried."""
    runtime = get_runtime()
    summary = InvocationSummary(records=1)
    try:
        data = event.get("awslogs", {}).get("data") if isinstance(event, dict) else None
        if not isinstance(data, str):
            raise PayloadError("the event has no awslogs.data string")
        batch = decode_cloudwatch_payload(data)
    except PayloadError as exc:
        # Retrying cannot fix a payload we cannot read: acknowledge it, loudly.
        summary.invalid_payloads += 1
        logger.error("invalid CloudWatch Logs payload acknowledged: %s", exc)
        summary.emit()
        return {"status": "invalid_payload"}
    try:
        report = process_log_batch(batch, runtime, summary, deadline=deadline_of(context))
    finally:  # a state-store failure propagates (Lambda retries) but the counts so far are still logged
        summary.emit()
    if report.must_retry:
        # Everything else was attempted; failing now makes Lambda retry (delivered alerts are skipped).
        raise RetryableDeliveryError(
            f"{len(report.failed_retryable)} alert deliveries failed and will be retried"
        )
    return {"status": "ok", "alerts_sent": sum(report.alerts_sent.values())}


@metrics.log_metrics
@logger.inject_lambda_context
def kinesis_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    """CloudWatch Logs → Kinesis → Lambda: each record a gzip'd payload; failed records are reported."""
    # Deferred: the direct-subscription function never pays for the batch processor or de-aggregation.
    from aws_lambda_powertools.utilities.batch import (  # noqa: PLC0415
        BatchProcessor,
        EventType,
        process_partial_response,
    )

    from parsers.kinesis_records import deaggregate_each  # noqa: PLC0415

    runtime = get_runtime()
    summary = InvocationSummary()
    deadline = deadline_of(context)
    records, unreadable = deaggregate_each(event.get("Records", []))
    for _parent, exc in unreadable:
        # CloudWatch Logs never aggregates; an unreadable aggregate cannot become readable by retrying.
        summary.invalid_payloads += 1
        logger.error("unreadable Kinesis aggregate acknowledged: %s", exc)

    def handle(record: KinesisStreamRecord) -> None:
        """One record: a CloudWatch Logs payload; only retryable failures raise (→ batchItemFailures)."""
        summary.records += 1
        try:
            batch = decode_cloudwatch_payload(record.kinesis.data_as_bytes())
        except PayloadError as exc:
            summary.invalid_payloads += 1
            logger.error("invalid payload in record %s acknowledged: %s", record.kinesis.sequence_number, exc)
            return
        report = process_log_batch(batch, runtime, summary, deadline=deadline)
        if report.must_retry:
            summary.retried_records += 1
            raise RetryableDeliveryError(f"{len(report.failed_retryable)} deliveries failed")

    # Report every failed record, even all of them, instead of raising: the contract is batchItemFailures.
    processor = BatchProcessor(event_type=EventType.KinesisDataStreams, raise_on_entire_batch_failure=False)
    response = process_partial_response(
        event={"Records": records}, record_handler=handle, processor=processor, context=context
    )
    summary.emit()
    return response
