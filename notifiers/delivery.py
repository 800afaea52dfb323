"""Delivery of a batch's findings: noise control across invocations, routing, idempotent sending."""

from __future__ import annotations

import hashlib
import logging
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from detections.finding import Alert, Finding, event_identity
from detections.noise import collapse
from detections.suppression import DeliveryLedger, SuppressionStore
from notifiers.notifier import DeliveryError, DeliveryResult, Notifier, OutgoingAlert

logger = logging.getLogger(__name__)


@dataclass
class DeliveryReport:
    """What delivery did with one batch."""

    alerts_sent: Counter[str] = field(default_factory=Counter)  # per channel
    already_delivered: Counter[str] = field(default_factory=Counter)  # per channel, skipped on a retry
    suppressed: int = 0  # matches folded into an open window
    failed_retryable: list[DeliveryResult] = field(default_factory=list)
    failed_permanent: list[DeliveryResult] = field(default_factory=list)
    unrouted: Counter[str] = field(default_factory=Counter)  # channel named by a rule but not configured

    @property
    def must_retry(self) -> bool:
        """Whether an alert could not be delivered now but may be later (the invocation should fail)."""
        return bool(self.failed_retryable)


class RetryableDeliveryError(Exception):
    """Some alerts could not be delivered for a reason that may pass; raised after all were attempted."""


def alert_id(alert: Alert) -> str:
    """A stable id for a batch alert: the same findings always give the same id, across retries."""
    first = alert.first
    identity = f"{first.group_key}|{event_identity(first.event)}|{first.event.time.isoformat()}"
    return hashlib.sha256(identity.encode("utf-8")).hexdigest()[:32]


@dataclass
class Delivery:
    """Turns findings into sent alerts through the suppression store, the ledger and the notifiers."""

    notifiers: Mapping[str, Notifier]  # channel name → transport; absent channels are skipped
    suppression: SuppressionStore
    ledger: DeliveryLedger
    window: timedelta = timedelta(minutes=5)
    region: str = ""
    _warned: set[str] = field(default_factory=set)

    def admit(self, findings: Sequence[Finding], report: DeliveryReport) -> list[OutgoingAlert]:
        """Collapse the batch, then let the shared suppression windows decide what goes out now."""
        outgoing = []
        for alert in collapse(findings, self.window):
            identifier = alert_id(alert)
            admission = self.suppression.admit(
                alert.first.group_key, identifier, alert.first_seen, self.window, alert.count, identifier
            )
            if not admission.send:
                report.suppressed += alert.count
                continue
            outgoing.append(
                OutgoingAlert(identifier, alert, admission.folded_before, admission.folded_since, self.region)
            )
        return outgoing

    def route(
        self, alerts: Sequence[OutgoingAlert], report: DeliveryReport
    ) -> dict[str, list[OutgoingAlert]]:
        """Group alerts by configured channel; a channel nobody configured is skipped with one log line."""
        routed: dict[str, list[OutgoingAlert]] = defaultdict(list)
        for outgoing in alerts:
            for channel in outgoing.alert.first.channels:
                if channel in self.notifiers:
                    routed[channel].append(outgoing)
                    continue
                report.unrouted[channel] += 1
                if channel not in self._warned:
                    self._warned.add(channel)
                    logger.info("channel %s is not configured; its alerts are skipped", channel)
        return routed

    def deliver(
        self, findings: Sequence[Finding], now: datetime, *, deadline: float | None = None
    ) -> DeliveryReport:
        """Admit, route and send every alert of the batch; failures are collected, never raised here."""
        report = DeliveryReport()
        for channel, alerts in self.route(self.admit(findings, report), report).items():
            pending = []
            for outgoing in alerts:
                if channel in self.ledger.delivered_channels(outgoing.alert_id):
                    report.already_delivered[channel] += 1
                else:
                    pending.append(outgoing)
            if not pending:
                continue
            for result in self.notifiers[channel].send(pending, deadline=deadline):
                self._record(result, now, report)
        return report

    def _record(self, result: DeliveryResult, now: datetime, report: DeliveryReport) -> None:
        """Note one send result in the ledger and the report."""
        if result.delivered:
            self.ledger.mark_delivered(result.alert_id, result.channel, now)
            report.alerts_sent[result.channel] += 1
            return
        error = result.error or DeliveryError("unknown failure", retryable=True)
        if error.retryable:
            report.failed_retryable.append(result)
            logger.warning(
                "alert %s not delivered on %s (retryable): %s", result.alert_id, result.channel, error
            )
        else:
            report.failed_permanent.append(result)
            logger.error("alert %s not delivered on %s: %s", result.alert_id, result.channel, error)
