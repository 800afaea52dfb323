"""What every Lambda entry point shares: Powertools logger and metrics, deadlines, the run summary."""

from __future__ import annotations

import gc
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from handlers.pipeline import RunReport
from notifiers.delivery import DeliveryReport

SERVICE = "aurora-audit-alerts"
NAMESPACE = "AuroraAuditAlerts"
# Keep this much of the Lambda's time to log, emit metrics and fail cleanly.
DEADLINE_MARGIN_SECONDS = 3.0

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)


def deadline_of(context: LambdaContext | None) -> float | None:
    """The time.monotonic() instant by which sending must stop, from the Lambda's remaining time."""
    if context is None:
        return None
    remaining = context.get_remaining_time_in_millis() / 1000.0
    return time.monotonic() + max(remaining - DEADLINE_MARGIN_SECONDS, 0.0)


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while one payload is parsed and detected; restore it after.

    A payload's records, events, observations and findings hold no reference cycles: they die by
    reference counting. While thousands of them are built, the collector finds nothing to free and
    walks the live ones again and again (~37 young collections per 10,000 lines, ~5% of the CPU
    time). It is paused for one payload at a time: its parse and detection, whose only network calls
    are the state table's reads and writes (once per key, when a table is configured); never while
    rules or clients are loaded or alerts delivered. Cycles made elsewhere are collected as before; a
    collector the embedding program turned off stays off.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@dataclass
class InvocationSummary:
    """The counts of one invocation, logged once and emitted as metrics."""

    run: RunReport = field(default_factory=RunReport)
    delivery: DeliveryReport = field(default_factory=DeliveryReport)
    records: int = 0
    control_messages: int = 0
    invalid_payloads: int = 0
    quarantined: int = 0
    retried_records: int = 0

    def absorb(self, delivery: DeliveryReport) -> None:
        """Add one batch's delivery report to the totals."""
        self.delivery.alerts_sent.update(delivery.alerts_sent)
        self.delivery.already_delivered.update(delivery.already_delivered)
        self.delivery.suppressed += delivery.suppressed
        self.delivery.failed_retryable.extend(delivery.failed_retryable)
        self.delivery.failed_permanent.extend(delivery.failed_permanent)
        self.delivery.unrouted.update(delivery.unrouted)

    def as_log(self) -> dict[str, object]:
        """The structured summary (counts only: no statement text, no secret)."""
        return {
            "records": self.records,
            "events": dict(self.run.events),
            "parse_failures": dict(self.run.parse_failures),
            "prefiltered": self.run.prefiltered,
            "findings": dict(self.run.findings),
            "rule_errors": dict(self.run.rule_errors),
            "alerts_sent": dict(self.delivery.alerts_sent),
            "already_delivered": dict(self.delivery.already_delivered),
            "suppressed": self.delivery.suppressed,
            "delivery_failures_retryable": len(self.delivery.failed_retryable),
            "delivery_failures_permanent": len(self.delivery.failed_permanent),
            "unrouted": dict(self.delivery.unrouted),
            "control_messages": self.control_messages,
            "invalid_payloads": self.invalid_payloads,
            "quarantined": self.quarantined,
            "retried_records": self.retried_records,
        }

    def emit(self) -> None:
        """Log the summary once and add the same counts as EMF metrics."""
        logger.info("invocation summary", extra={"summary": self.as_log()})
        counts = {
            "EventsParsed": sum(self.run.events.values()),
            "ParseFailures": sum(self.run.parse_failures.values()),
            "RecordsPrefiltered": self.run.prefiltered,
            "Findings": sum(self.run.findings.values()),
            "RuleErrors": sum(self.run.rule_errors.values()),
            "AlertsSent": sum(self.delivery.alerts_sent.values()),
            "AlertsSuppressed": self.delivery.suppressed,
            "DeliveryFailures": len(self.delivery.failed_retryable) + len(self.delivery.failed_permanent),
            "InvalidPayloads": self.invalid_payloads,
            "Quarantined": self.quarantined,
            "RetriedRecords": self.retried_records,
        }
        for name, value in counts.items():
            metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
