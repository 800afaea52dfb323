"""The login threshold rules over whole batches: wording a person reads at 3 a.m., retries, the spray cap."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from detections.catalogue import builtin_rules
from detections.engine import DetectionEngine, batch_order, longest_window
from detections.rules._logins import Login, duration, failed_login_of, login_of
from detections.state import DISTINCT_KEPT, InMemoryStateStore
from parsers.event import Action, AuditEvent
from tests.factories import make_event

RULES = {rule.id: rule for rule in builtin_rules()}


def failure(seconds: float, number: int, user: str = "bob") -> AuditEvent:
    """A failed login for `user` from 127.0.0.66 on prod, with CloudWatch-style event id `number`."""
    return make_event(
        seconds,
        action=Action.FAILED_CONNECT,
        user=user,
        client_host="127.0.0.66",
        status="1045",
        event_id=f"{number:056d}",
    )


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (0.4, "under 1 s"),
        (0, "under 1 s"),
        (-0.5, "under 1 s"),
        (-61, "under 1 s"),
        (1.999999, "1 s"),
        (40, "40 s"),
        (59.9, "59 s"),
        (60, "1 min"),
        (200, "3 min 20 s"),
        (300, "5 min"),
        (86_405.5, "1440 min 5 s"),
    ],
)
def test_spans_read_as_a_person_says_them(seconds: float, expected: str) -> None:
    # GIVEN a span WHEN worded THEN whole seconds, minutes when long
    assert duration(timedelta(seconds=seconds)) == expected


def test_brute_force_says_how_many_failures_in_how_long() -> None:
    # GIVEN 25 failures for bob over 40 s
    engine = DetectionEngine([RULES["brute-force"]], InMemoryStateStore())
    events = [failure(n * 40 / 24, n) for n in range(25)]
    # WHEN detected
    findings = list(engine.detect(events))
    # THEN the last title states count and span, and the count line says the same
    assert findings[-1].title == "Brute force: 25 failed logins for bob from 127.0.0.66 on prod in 40 s"
    assert findings[-1].context == (("measured", "25 failed logins in 40 s"),)


def test_a_retried_batch_with_one_second_timestamps_gives_the_same_findings() -> None:
    # GIVEN 12 failures and a success within one second, handed over in a different order on the retry
    store = InMemoryStateStore()
    engine = DetectionEngine([RULES["brute-force"], RULES["login-after-failures"]], store)
    events = [failure(0, n) for n in range(12)]
    success = make_event(
        0, action=Action.CONNECT, user="bob", client_host="127.0.0.66", event_id=f"{99:056d}"
    )
    batch = [*events, success]
    shuffled = random.Random(7).sample(batch, len(batch))
    # WHEN the same unit is evaluated twice, each time in batch order
    first = [
        f.title for f in engine.detect(sorted(batch, key=batch_order), lambda _e: "p1", frozenset({"p1"}))
    ]
    retry = [
        f.title for f in engine.detect(sorted(shuffled, key=batch_order), lambda _e: "p1", frozenset({"p1"}))
    ]
    # THEN the retry finds exactly what the first attempt found
    assert retry == first
    assert first[-1] == "Logged in after 12 failed logins in under 1 s: bob from 127.0.0.66 on prod"


def test_password_spray_counts_users_exactly_up_to_the_cap_then_says_at_least() -> None:
    # GIVEN failed logins for more distinct users than are kept, from one host
    engine = DetectionEngine([RULES["password-spray"]], InMemoryStateStore())
    events = [failure(n / 100, n, user=f"user{n}") for n in range(DISTINCT_KEPT + 20)]
    # WHEN detected
    titles = [f.title for f in engine.detect(events)]
    # THEN the count is exact up to the cap and reads "at least" from there on
    assert titles[DISTINCT_KEPT - 5].startswith(f"Password spray: {DISTINCT_KEPT - 1} users failed to log in")
    assert titles[-1] == (
        f"Password spray: at least {DISTINCT_KEPT} users failed to log in from 127.0.0.66 on prod in 2 s"
    )


def test_the_longest_window_of_the_rules_is_the_read_horizon() -> None:
    # GIVEN the built-in rules (5-minute windows) WHEN asking how far back a batch reads THEN 5 minutes
    assert longest_window(builtin_rules()) == timedelta(minutes=5)


def test_a_login_names_missing_parts_plainly() -> None:
    # GIVEN a failed login without user, client host, cluster or server host
    event = make_event(0, action=Action.FAILED_CONNECT, user="", client_host="", cluster="", server_host="")
    # WHEN its keys and wording are derived
    login = login_of(event)
    # THEN the wording says what is unknown and the keys keep the empty parts
    assert (login.who, login.host, login.where) == ("unknown user from unknown host", "unknown host", "")
    assert login.tally == "failed logins for unknown user from unknown host"
    assert (login.host_dedup_key, login.host_tally) == ("|", "failed logins from unknown host")
    assert (login.failures_key, login.sprayed_users_key, login.dedup_key) == (
        "login-failures|||",
        "login-failed-users||",
        "||",
    )


def test_each_event_gets_its_own_login_whatever_was_asked_before() -> None:
    # GIVEN two failed logins, and an equal copy of the first, asked about in turn
    first = failure(0, 1, user="alice")
    second = failure(1, 2, user="bob")
    copy = failure(0, 1, user="alice")
    # WHEN their logins are derived (the first twice in a row, as the rules on one event do)
    logins = [login_of(event) for event in (first, first, second, copy, second)]
    # THEN each login describes its own event
    expected = [
        Login(
            failures_key=f"login-failures|prod|{event.user}|127.0.0.66",
            sprayed_users_key="login-failed-users|prod|127.0.0.66",
            who=f"{event.user} from 127.0.0.66",
            host="127.0.0.66",
            where=" on prod",
            dedup_key=f"prod|{event.user}|127.0.0.66",
            tally=f"failed logins for {event.user} from 127.0.0.66 on prod",
            host_dedup_key="prod|127.0.0.66",
            host_tally="failed logins from 127.0.0.66 on prod",
        )
        for event in (first, first, second, copy, second)
    ]
    assert logins == expected


def test_only_a_failed_login_has_a_failed_login_whatever_was_asked_before() -> None:
    # GIVEN a successful login asked about first (login-after-failures), then a failure, then others
    success = make_event(0, action=Action.CONNECT, user="bob", client_host="127.0.0.66")
    failed = failure(1, 1)
    disconnect = make_event(2, action=Action.DISCONNECT, user="bob", client_host="127.0.0.66")
    assert login_of(success).who == "bob from 127.0.0.66"
    # WHEN each is asked for as a failed login (the failure twice, as the rules on one event do)
    answers = [failed_login_of(event) for event in (success, failed, failed, disconnect, success)]
    # THEN only the failure has one, and it is the failure's own login
    assert answers == [None, login_of(failed), login_of(failed), None, None]
    assert answers[1] is answers[2]


def test_logins_of_more_users_than_remembered_each_name_their_own_user() -> None:
    # GIVEN failed logins of 5,000 users from one host (more than the logins kept), then the first again
    events = [failure(n / 100, n, user=f"user{n}") for n in range(5_000)]
    # WHEN their logins are derived in turn
    logins = [login_of(event) for event in [*events, events[0]]]
    # THEN each names its own user, and the same user and host get the same keys and wording
    assert [login.who for login in logins[:-1]] == [f"user{n} from 127.0.0.66" for n in range(5_000)]
    assert logins[-1] == logins[0]
