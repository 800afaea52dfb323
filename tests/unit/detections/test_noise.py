"""Noise control for replay: repeats within the window fold into one alert with a count."""

from __future__ import annotations

from datetime import timedelta

from detections.finding import Finding
from detections.noise import collapse
from detections.severity import Severity
from tests.factories import T0, failed_login


def _finding(seconds: float, user: str = "app", rule: str = "failed-login") -> Finding:
    """A finding for a failed login at T0 + seconds."""
    event = failed_login(seconds, user=user)
    return Finding(
        rule, f"Failed login for {user}", Severity.MEDIUM, ("email",), f"prod|{user}|10.0.0.5", event
    )


def test_a_burst_of_25_becomes_one_alert_with_count_25() -> None:
    # GIVEN 25 failed logins for one user, 2 s apart
    findings = [_finding(i * 2) for i in range(25)]
    # WHEN collapsing with a 5 minute window
    alerts = collapse(findings, timedelta(minutes=5))
    # THEN one alert carries them all
    assert [(a.count, a.first_seen, a.last_seen) for a in alerts] == [(25, T0, T0 + timedelta(seconds=48))]


def test_a_match_after_the_window_opens_a_new_alert() -> None:
    # GIVEN two matches 6 minutes apart
    findings = [_finding(0), _finding(360)]
    # WHEN collapsing
    alerts = collapse(findings, timedelta(minutes=5))
    # THEN each is its own alert
    assert [a.count for a in alerts] == [1, 1]


def test_different_dedup_keys_are_separate_alerts_in_time_order() -> None:
    # GIVEN matches for two users, given out of order
    findings = [_finding(10, user="bob"), _finding(0, user="alice"), _finding(20, user="bob")]
    # WHEN collapsing
    alerts = collapse(findings)
    # THEN alice's alert comes first, bob's counts 2
    assert [(a.first.event.user, a.count) for a in alerts] == [("alice", 1), ("bob", 2)]


def test_a_statement_alert_lists_every_object_its_findings_named() -> None:
    # GIVEN three drops by one user, two naming the same table
    event = failed_login(0)
    drops = [
        Finding(
            "drop-table",
            f"DROP TABLE {t} by app",
            Severity.HIGH,
            ("slack",),
            "prod|app|h",
            event,
            objects=(t,),
        )
        for t in ("orders", "items", "orders")
    ]
    # WHEN collapsed into one alert
    (alert,) = collapse(drops)
    # THEN the title is the first one's, saying there is more, and the objects are all named once
    assert (alert.title, alert.objects, alert.count) == (
        "DROP TABLE orders by app (+1 more)",
        ("orders", "items"),
        3,
    )
    assert alert.object_spans() == {
        "orders": (event.time, event.time, 2),
        "items": (event.time, event.time, 1),
    }
    assert alert.statements() == ((), 0)  # the findings carry no statement text


def test_a_statement_alert_keeps_every_object_however_many() -> None:
    # GIVEN 5,000 drops by one user, one table each
    event = failed_login(0)
    drops = [
        Finding("drop-table", f"DROP TABLE t{n}", Severity.HIGH, ("slack",), "k", event, objects=(f"t{n}",))
        for n in range(5_000)
    ]
    # WHEN collapsed
    (alert,) = collapse(drops)
    # THEN none is dropped from the alert (renderers decide how many to show)
    assert len(alert.objects) == 5_000
    assert alert.objects[-1] == "t4999"


def test_a_login_burst_alert_takes_the_latest_title() -> None:
    # GIVEN brute-force findings whose titles carry a growing count
    findings = [
        Finding(
            "brute-force", f"Brute force: {n} failed logins", Severity.HIGH, ("email",), "k", failed_login(n)
        )
        for n in (5, 6, 7)
    ]
    # WHEN collapsed
    (alert,) = collapse(findings)
    # THEN the headline says how far the burst went
    assert alert.title == "Brute force: 7 failed logins"
