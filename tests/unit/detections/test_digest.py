"""Digest alerts (pure): what a window is about survives storage, and the digest reads as a person would."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from detections.digest import describe, digest_alert, digest_title
from detections.finding import Finding
from detections.severity import Severity
from detections.suppression import Digest
from parsers.event import Action
from tests.factories import T0, make_event


def failed_login_finding() -> Finding:
    """A failed-login finding for bob from 127.0.0.66 on prod-db."""
    event = make_event(
        0,
        action=Action.FAILED_CONNECT,
        user="bob",
        client_host="127.0.0.66",
        cluster="prod-db",
        status="1045",
    )
    return Finding(
        rule_id="failed-login",
        title="Failed login for bob from 127.0.0.66 on prod-db (1045)",
        severity=Severity.MEDIUM,
        channels=("email",),
        dedup_key="prod-db|bob|127.0.0.66",
        event=event,
        tally="failed logins for bob from 127.0.0.66 on prod-db",
    )


def test_a_digest_alert_reports_the_folded_matches_of_the_window() -> None:
    # GIVEN a digest of 5 failed logins folded between 11:49:20 and 11:49:31
    since, until = T0 + timedelta(seconds=20), T0 + timedelta(seconds=31)
    digest = Digest(
        "failed-login|prod-db|bob|127.0.0.66", "d1", 5, since, until, describe(failed_login_finding())
    )
    # WHEN it becomes an alert
    alert = digest_alert(digest)
    # THEN it says how many more, of what, when; keeps the rule's severity, channels and the failed outcome
    assert alert.title == "5 more failed logins for bob from 127.0.0.66 on prod-db, 10:00:20–10:00:31 UTC"
    assert (alert.count, alert.first_seen, alert.last_seen) == (5, since, until)
    assert (alert.first.severity, alert.first.channels) == (Severity.MEDIUM, ("email",))
    assert alert.first.attempt_failed
    assert alert.first.measured  # no "×5" beside "5 more"


def test_a_rule_without_a_tally_is_digested_by_its_title() -> None:
    # GIVEN an alert of a rule that names no tally
    about = describe(dataclasses.replace(failed_login_finding(), tally=""))
    # WHEN digested THEN the title quotes the first alert's
    title = digest_alert(Digest("k", "d1", 2, T0, T0, about)).title
    assert title == '2 more matches of "Failed login for bob from 127.0.0.66 on prod-db (1045)", 10:00:00 UTC'


@pytest.mark.parametrize("about", ["", "{}", '{"rule": "x"}', '{"source": "nope", "action": "CONNECT"}'])
def test_an_unreadable_description_is_a_value_error(about: str) -> None:
    # GIVEN a stored description that is not what describe() writes
    # WHEN digested THEN ValueError says so (the digest run logs it and keeps going)
    with pytest.raises(ValueError, match="unreadable digest description"):
        digest_alert(Digest("k", "d1", 1, T0, T0, about))


def test_one_instant_is_said_once() -> None:
    # GIVEN folds all at one second WHEN titled THEN the time appears once
    assert digest_title(3, "failed logins", T0, T0) == "3 more failed logins, 10:00:00 UTC"
