"""The digest: a scheduled Lambda that reports the matches folded into suppression windows that closed.

Suppression folds repeats into an open window; once the window has closed, the matches nobody
reported yet go out as one digest per window ("5 more failed logins for bob … between 11:49:20 and
11:49:31 UTC", SNS attributes kind=digest, count=5). A digest is sent under a stable id through the
delivery ledger and only then cleared from its window, so a retried or overlapping run sends
nothing twice, and a run that failed to send leaves it for the next run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from detections.digest import digest_alert
from detections.suppression import Digest, DigestSource
from handlers.invocation import deadline_of, logger, metrics
from handlers.runtime import get_runtime
from notifiers.delivery import Delivery, DeliveryReport
from notifiers.notifier import OutgoingAlert


@dataclass
class DigestReport:
    """What one digest run did."""

    due: int = 0  # windows with unreported folds handed out
    unreadable: int = 0  # descriptions that could not be rendered (kept for a fixed release)
    delivery: DeliveryReport = field(default_factory=DeliveryReport)
    finished: list[Digest] = field(default_factory=list)

    def as_log(self) -> dict[str, object]:
        """The structured summary of the run."""
        return {
            "digests_due": self.due,
            "digests_finished": len(self.finished),
            "digests_unreadable": self.unreadable,
            "matches_reported": sum(digest.count for digest in self.finished),
            "alerts_sent": dict(self.delivery.alerts_sent),
            "already_delivered": dict(self.delivery.already_delivered),
            "delivery_failures_retryable": len(self.delivery.failed_retryable),
            "delivery_failures_permanent": len(self.delivery.failed_permanent),
        }


def send_digests(
    source: DigestSource, delivery: Delivery, now: datetime, *, deadline: float | None = None
) -> DigestReport:
    """Hand out every due digest, send it, and clear it unless a retryable failure leaves it for later."""
    report = DigestReport()
    digests = source.due_digests(now)
    report.due = len(digests)
    outgoing: list[OutgoingAlert] = []
    sendable: list[Digest] = []
    for digest in digests:
        try:
            alert = digest_alert(digest)
        except ValueError as exc:
            report.unreadable += 1
            logger.error("digest %s not sent: %s", digest.digest_id, exc)
            continue
        sendable.append(digest)
        outgoing.append(OutgoingAlert(digest.digest_id, alert, region=delivery.region, kind="digest"))
    delivery.send(outgoing, report.delivery, now, deadline=deadline)
    retry = {result.alert_id for result in report.delivery.failed_retryable}
    for digest in sendable:
        if digest.digest_id not in retry:  # delivered, or failed for good: a rerun cannot help
            source.finish_digest(digest)
            report.finished.append(digest)
    return report


def scheduled_time(event: object) -> datetime | None:
    """The `time` of an EventBridge scheduled event ("2026-11-23T14:10:00Z"), None when absent or invalid."""
    text = event.get("time") if isinstance(event, dict) else None
    if not isinstance(text, str):
        return None
    try:
        at = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """EventBridge schedule → send the digests of windows closed by the schedule's time (else the clock)."""
    runtime = get_runtime()
    now = scheduled_time(event) or runtime.now()
    report = send_digests(runtime.suppression, runtime.delivery, now, deadline=deadline_of(context))
    logger.info("digest summary", extra={"summary": report.as_log()})
    metrics.add_metric(name="DigestsSent", unit=MetricUnit.Count, value=len(report.finished))
    metrics.add_metric(
        name="DeliveryFailures",
        unit=MetricUnit.Count,
        value=len(report.delivery.failed_retryable) + len(report.delivery.failed_permanent),
    )
    return {"status": "ok", "digests_sent": len(report.finished)}
