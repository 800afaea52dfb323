"""The digest Lambda: folded matches of closed suppression windows reported once, by e-mail and Slack."""

from __future__ import annotations

from datetime import timedelta

from handlers.cloudwatch_logs import lambda_handler
from handlers.digest import lambda_handler as digest_handler
from handlers.digest import scheduled_time
from tests.functional.lambda_env import (  # noqa: F401 - fixtures are used by name
    AwsWorld,
    client_error,
    fail_calls,
    slack_fixture,
    slack_server_fixture,
    world_fixture,
)
from tests.functional.lambda_events import FakeLambdaContext
from tests.functional.login_storms import STORM_START, counts_of, failed_logins, scheduled_event, storm_event

LATER = STORM_START + timedelta(minutes=10)  # every window of the storm has closed


def twenty_then_five(world: AwsWorld) -> None:
    """20 failures for bob in one payload (14:00:00-14:00:19), 5 more in the next (14:00:20-14:00:24)."""
    world.install_runtime()
    lambda_handler(storm_event(failed_logins(20, per_second=1)), FakeLambdaContext())
    later = failed_logins(25, per_second=1)[20:]
    lambda_handler(storm_event(later, position=20), FakeLambdaContext())


def test_folded_matches_go_out_in_one_digest_and_every_match_is_counted_once(world: AwsWorld) -> None:
    # GIVEN 20 failures for bob in one payload and 5 more folded from the next
    twenty_then_five(world)
    assert counts_of(world.emails(), "failed-login") == [("alert", 20)]
    # WHEN the digest runs on its schedule, after the windows closed
    result = digest_handler(scheduled_event(LATER), FakeLambdaContext())
    # THEN bob's failed-login messages (alert + digest) count 25, and brute-force's 21 (5th to 25th)
    emails = world.emails()
    assert result == {"status": "ok", "digests_sent": 2}
    assert counts_of(emails, "failed-login") == [("alert", 20), ("digest", 5)]
    assert counts_of(emails, "brute-force") == [("alert", 16), ("digest", 5)]
    digest = next(
        e for e in emails if e.attributes == {**e.attributes, "kind": "digest", "rule": "failed-login"}
    )
    assert digest.subject == (
        "[MEDIUM] 5 more failed logins for bob from 127.0.0.66 on mariadb-prod, 14:00:20–14:00:24 UTC"
    )
    # AND Slack got the brute-force digest too
    assert any("5 more failed logins for bob" in message["text"] for message in world.slack_messages())


def test_a_second_digest_run_sends_nothing(world: AwsWorld) -> None:
    # GIVEN a digest run that sent the folded matches
    twenty_then_five(world)
    digest_handler(scheduled_event(LATER), FakeLambdaContext())
    sent = (len(world.emails()), len(world.slack_messages()))
    # WHEN the digest runs again
    result = digest_handler(scheduled_event(LATER + timedelta(minutes=5)), FakeLambdaContext())
    # THEN nothing more is sent
    assert result == {"status": "ok", "digests_sent": 0}
    assert (len(world.emails()), len(world.slack_messages())) == sent


def test_a_window_still_open_is_not_digested_yet(world: AwsWorld) -> None:
    # GIVEN folded matches in windows that close at 14:05:00
    twenty_then_five(world)
    # WHEN the digest runs at 14:04:00
    result = digest_handler(scheduled_event(STORM_START + timedelta(minutes=4)), FakeLambdaContext())
    # THEN nothing is due yet
    assert result == {"status": "ok", "digests_sent": 0}
    assert counts_of(world.emails(), "failed-login") == [("alert", 20)]


def test_a_digest_whose_sending_failed_is_sent_by_the_next_run_once(world: AwsWorld) -> None:
    # GIVEN SNS throttling the first digest run
    twenty_then_five(world)
    runtime = world.install_runtime()
    fault = fail_calls(runtime.sns, "PublishBatch", client_error("Throttling"))
    first = digest_handler(scheduled_event(LATER), FakeLambdaContext())
    fault.remove()
    # WHEN the next run comes
    second = digest_handler(scheduled_event(LATER + timedelta(minutes=5)), FakeLambdaContext())
    third = digest_handler(scheduled_event(LATER + timedelta(minutes=10)), FakeLambdaContext())
    # THEN the e-mail digests went out once, with the Slack one (delivered the first time) not repeated
    assert (first["digests_sent"], second["digests_sent"], third["digests_sent"]) == (0, 2, 0)
    emails = world.emails()
    assert counts_of(emails, "failed-login") == [("alert", 20), ("digest", 5)]
    assert counts_of(emails, "brute-force") == [("alert", 16), ("digest", 5)]
    assert sum("5 more failed logins" in message["text"] for message in world.slack_messages()) == 1


def test_the_digest_finds_its_work_on_the_index_without_scanning(world: AwsWorld) -> None:
    # GIVEN folded matches awaiting their digest
    twenty_then_five(world)
    runtime = world.install_runtime()
    operations: list[str] = []
    runtime.dynamodb.meta.events.register(
        "before-call.dynamodb.*", lambda model, **_: operations.append(model.name)
    )
    # WHEN the digest runs
    digest_handler(scheduled_event(LATER), FakeLambdaContext())
    # THEN it queried the sparse index and never scanned the table
    assert "Scan" not in operations
    assert operations.count("Query") >= 1


def test_the_schedule_time_is_read_from_the_event() -> None:
    # GIVEN scheduled events WHEN reading their time THEN it is the event's, or None when unusable
    assert scheduled_time(scheduled_event(LATER)) == LATER
    assert scheduled_time({"time": "yesterday"}) is None
    assert scheduled_time({}) is None
