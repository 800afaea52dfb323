"""Delivery of a batch's findings: noise control across invocations, routing, idempotent sending."""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from detections.digest import describe
from detections.finding import Alert, Finding, event_identity
from detections.noise import windows
from detections.state import StateStoreError
from detections.suppression import AdmitRequest, DeliveryLedger, SuppressionStore
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


def batch_alert_id(batch_id: str, group_key: str, ordinal: int) -> str:
    """A stable id for the `ordinal`-th alert of `group_key` from one delivered batch, across retries.

    A retried batch finds its own events already counted in the rule windows, so a threshold rule
    matches from an earlier event and the first finding changes; the batch and the key do not.
    """
    identity = f"{batch_id}|{group_key}|{ordinal}"
    return hashlib.sha256(identity.encode("utf-8")).hexdigest()[:32]


def object_group_key(group_key: str, name: str) -> str:
    """The suppression key of one object named by a statement alert's group."""
    return f"{group_key}|object|{name}"


def object_alert_id(identifier: str, name: str) -> str:
    """The stable id under which an alert claims the window of one of its objects."""
    return hashlib.sha256(f"{identifier}|{name}".encode()).hexdigest()[:32]


@dataclass
class Delivery:
    """Turns findings into sent alerts through the suppression store, the ledger and the notifiers."""

    notifiers: Mapping[str, Notifier]  # channel name → transport; absent channels are skipped
    suppression: SuppressionStore
    ledger: DeliveryLedger
    window: timedelta = timedelta(minutes=5)
    region: str = ""
    _warned: set[str] = field(default_factory=set)

    def admit(
        self, findings: Sequence[Finding], report: DeliveryReport, batch_id: str = ""
    ) -> list[OutgoingAlert]:
        """Collapse the batch, then let the shared suppression windows decide what goes out now.

        With a `batch_id` (the same on every redelivery of the batch) alert ids derive from it and the
        group key, so a retry re-admits its own alerts even when its findings differ.
        """
        outgoing = []
        ordinals: Counter[str] = Counter()
        for group in windows(findings, self.window):
            channels = group[0].channels
            if not any(channel in self.notifiers for channel in channels):
                # Nowhere to go: only counted (no alert built, no suppression window read or written).
                for channel in channels:
                    self._unrouted(channel, report)
                continue
            alert = Alert.of(group)
            key = alert.first.group_key
            identifier = batch_alert_id(batch_id, key, ordinals[key]) if batch_id else alert_id(alert)
            ordinals[key] += 1
            try:
                admitted = self._admit_one(alert, identifier, report)
            except StateStoreError as exc:
                # One unreadable window must not hold back the other alerts: this one fails on its channels.
                for channel in alert.first.channels:
                    if channel in self.notifiers:
                        self._record_failure(DeliveryResult(identifier, channel, _state_error(exc)), report)
                continue
            if admitted is not None:
                outgoing.append(admitted)
        return outgoing

    def _admit_one(self, alert: Alert, identifier: str, report: DeliveryReport) -> OutgoingAlert | None:
        """Let the suppression windows decide one alert: sent whole, narrowed to new objects, or folded."""
        if alert.first.folds_per_object:
            return self._admit_objects(alert, identifier, report)
        key = alert.first.group_key
        admission = self.suppression.admit(
            key,
            identifier,
            alert.first_seen,
            self.window,
            alert.count,
            identifier,
            last=alert.last_seen,
            about=describe(alert.first),
        )
        if not admission.send:
            report.suppressed += alert.count
            return None
        return OutgoingAlert(identifier, alert, admission.folded_before, admission.folded_since, self.region)

    def _admit_objects(self, alert: Alert, identifier: str, report: DeliveryReport) -> OutgoingAlert | None:
        """One window per named object: an object not seen in its window goes out now, by name.

        Only repeats of the same rule on the same object by the same user (and outcome) fold; the
        findings naming at least one new object are delivered together, listing all their objects.
        """
        key = alert.first.group_key
        fresh: set[str] = set()
        folded_before = 0
        folded_since: datetime | None = None
        spans = alert.object_spans()
        first_naming: dict[str, Finding] = {}
        for finding in alert.members:
            for name in finding.objects:
                first_naming.setdefault(name, finding)
        requests = []
        for name, (first_at, last_at, matches) in spans.items():
            object_id = object_alert_id(identifier, name)
            naming = first_naming[name]
            requests.append(
                AdmitRequest(
                    object_group_key(key, name),
                    object_id,
                    first_at,
                    self.window,
                    matches,
                    object_id,
                    last=last_at,
                    about=describe(dataclasses.replace(naming, objects=(name,))),
                )
            )
        # One batched call for every object: reads and writes grow per 100 objects, not per object.
        for name, admission in zip(spans, self.suppression.admit_many(requests), strict=True):
            if not admission.send:
                continue
            fresh.add(name)
            folded_before += admission.folded_before
            if admission.folded_since is not None:
                folded_since = min(folded_since or admission.folded_since, admission.folded_since)
        delivered = [f for f in alert.members if not fresh.isdisjoint(f.objects)]
        report.suppressed += alert.count - len(delivered)
        if not delivered:
            return None
        narrowed = alert if len(delivered) == alert.count else Alert.of(delivered)
        return OutgoingAlert(identifier, narrowed, folded_before, folded_since, self.region)

    def route(
        self, alerts: Sequence[OutgoingAlert], report: DeliveryReport
    ) -> dict[str, list[OutgoingAlert]]:
        """Group alerts by configured channel; a channel nobody configured is skipped with one log line."""
        routed: dict[str, list[OutgoingAlert]] = defaultdict(list)
        for outgoing in alerts:
            for channel in outgoing.alert.first.channels:
                if channel in self.notifiers:
                    routed[channel].append(outgoing)
                else:
                    self._unrouted(channel, report)
        return routed

    def _unrouted(self, channel: str, report: DeliveryReport) -> None:
        """Count an alert skipped on a channel nobody configured; say so once per container."""
        report.unrouted[channel] += 1
        if channel not in self._warned:
            self._warned.add(channel)
            logger.warning("channel %s is not configured; its alerts are skipped", channel)

    def deliver(
        self, findings: Sequence[Finding], now: datetime, *, deadline: float | None = None, batch_id: str = ""
    ) -> DeliveryReport:
        """Admit, route and send every alert of the batch; failures are collected, never raised here."""
        report = DeliveryReport()
        self.send(self.admit(findings, report, batch_id), report, now, deadline=deadline)
        return report

    def send(
        self,
        admitted: Sequence[OutgoingAlert],
        report: DeliveryReport,
        now: datetime,
        *,
        deadline: float | None,
    ) -> None:
        """Route admitted alerts (or digests) and send each on every channel the ledger has not seen it on."""
        for channel, alerts in self.route(admitted, report).items():
            pending = []
            for outgoing in alerts:
                try:
                    delivered = self.ledger.delivered_channels(outgoing.alert_id)
                except StateStoreError as exc:  # unknown whether it went out: retry rather than risk a repeat
                    self._record_failure(
                        DeliveryResult(outgoing.alert_id, channel, _state_error(exc)), report
                    )
                    continue
                if channel in delivered:
                    report.already_delivered[channel] += 1
                else:
                    pending.append(outgoing)
            if not pending:
                continue
            for result in self.notifiers[channel].send(pending, deadline=deadline):
                self._record(result, now, report)

    def _record(self, result: DeliveryResult, now: datetime, report: DeliveryReport) -> None:
        """Note one send result in the ledger and the report."""
        if not result.delivered:
            self._record_failure(result, report)
            return
        report.alerts_sent[result.channel] += 1
        try:
            self.ledger.mark_delivered(result.alert_id, result.channel, now)
        except StateStoreError as exc:
            # The alert reached the channel: failing now would only make a retry send it twice.
            logger.warning(
                "alert %s was delivered on %s but not recorded (a later retry may repeat it): %s",
                result.alert_id,
                result.channel,
                exc,
            )

    def _record_failure(self, result: DeliveryResult, report: DeliveryReport) -> None:
        """Note one failed delivery in the report, retryable or not, and log it."""
        error = result.error or DeliveryError("unknown failure", retryable=True)
        if error.retryable:
            report.failed_retryable.append(result)
            logger.warning(
                "alert %s not delivered on %s (retryable): %s", result.alert_id, result.channel, error
            )
        else:
            report.failed_permanent.append(result)
            logger.error("alert %s not delivered on %s: %s", result.alert_id, result.channel, error)


def _state_error(exc: StateStoreError) -> DeliveryError:
    """The delivery failure of an alert whose noise-control state could not be read or written."""
    return DeliveryError(f"noise-control state unavailable: {exc}", retryable=exc.retryable)
