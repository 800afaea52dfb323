"""Alerts no configured channel takes: counted per channel, one per collapsed alert, never built or sent."""

from __future__ import annotations

from datetime import timedelta

from detections.finding import Finding
from detections.noise import collapse
from detections.severity import Severity
from detections.suppression import InMemoryDeliveryLedger, InMemorySuppressionStore
from notifiers.delivery import Delivery
from tests.factories import T0, failed_login
from tests.unit.notifiers.test_delivery_objects import RecordingNotifier, drop


def _login(seconds: float, user: str) -> Finding:
    """A failed-login finding for `user`, a rule sent by email and on Slack."""
    event = failed_login(seconds, user=user, location=f"log:{seconds}:{user}")
    key = f"prod|{user}|10.0.0.5"
    channels = ("email", "slack")
    return Finding("failed-login", f"Failed login for {user}", Severity.MEDIUM, channels, key, event)


def _batch() -> list[Finding]:
    """Logins of two users in several windows, and drops (Slack only), out of time order."""
    logins = [_login(n * 100, user) for n in range(12) for user in ("alice", "bob")]
    drops = [drop(n * 200, f"t{n % 3}") for n in range(6)]
    return [*logins[::-1], *drops]


def test_with_no_channel_configured_every_collapsed_alert_is_counted_on_each_of_its_channels() -> None:
    # GIVEN no channel configured
    pipeline = Delivery({}, InMemorySuppressionStore(), InMemoryDeliveryLedger(), window=timedelta(minutes=5))
    findings = _batch()
    alerts = collapse(findings, pipeline.window)
    # WHEN delivering the batch
    report = pipeline.deliver(findings, T0, batch_id="b1")
    # THEN each alert collapse makes counts once on every channel its rule names, nothing else happens
    logins = sum(1 for a in alerts if a.rule_id == "failed-login")
    assert len(alerts) > logins > 2
    assert report.unrouted == {"email": logins, "slack": len(alerts)}
    assert (report.suppressed, sum(report.alerts_sent.values()), report.failed_retryable) == (0, 0, [])


def test_alerts_a_configured_channel_takes_still_go_out_and_the_rest_are_counted() -> None:
    # GIVEN only email configured
    email = RecordingNotifier("email")
    pipeline = Delivery({"email": email}, InMemorySuppressionStore(), InMemoryDeliveryLedger())
    findings = _batch()
    alerts = collapse(findings, pipeline.window)
    # WHEN delivering the batch
    report = pipeline.deliver(findings, T0, batch_id="b1")
    # THEN every login alert goes out by email with its whole count; Slack counts every alert
    logins = [a for a in alerts if a.rule_id == "failed-login"]
    assert [(o.alert.first, o.alert.count) for o in email.sent] == [(a.first, a.count) for a in logins]
    assert report.unrouted == {"slack": len(alerts)}
    assert report.alerts_sent == {"email": len(logins)}
