"""A failed-login storm through the CloudWatch Logs handler with the state table on moto.

Exact counts in one alert per (cluster, user, host), DynamoDB calls bounded by keys (not events),
and no count lost or doubled when DynamoDB throttles mid-batch, a payload is retried, or two
containers work on the same keys at once.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from detections.state import StateStoreError, StateView
from handlers.cloudwatch_logs import lambda_handler
from handlers.invocation import InvocationSummary
from handlers.log_batches import process_log_batch
from parsers.cloudwatch_logs import decode_cloudwatch_payload
from tests.functional.lambda_env import (  # noqa: F401 - fixtures are used by name
    AwsWorld,
    client_error,
    fail_calls,
    slack_fixture,
    slack_server_fixture,
    world_fixture,
)
from tests.functional.lambda_events import FakeLambdaContext
from tests.functional.login_storms import STORM_START, CallCounter, counts_of, failed_logins, storm_event

FAILURES_KEY = "win#login-failures|mariadb-prod|bob|127.0.0.66"
WINDOW = timedelta(minutes=5)


def stored_failures(world: AwsWorld) -> int:
    """The failures the state table holds for bob from 127.0.0.66 (every unit of every bucket)."""
    return sum(
        int(value["M"]["n"]["N"])
        for item in world.table_items(FAILURES_KEY)
        for name, value in item.items()
        if name.startswith("u_")
    )


@pytest.mark.parametrize("burst", [1_000, 4_000])
def test_a_storm_in_one_payload_gives_one_exactly_counted_alert_per_rule(world: AwsWorld, burst: int) -> None:
    # GIVEN one payload of `burst` failed logins for bob from 127.0.0.66 (100 a second)
    runtime = world.install_runtime()
    counter = CallCounter().attach(runtime.dynamodb)
    # WHEN the handler runs
    result = lambda_handler(storm_event(failed_logins(burst)), FakeLambdaContext())
    # THEN it succeeds with one failed-login e-mail counting every failure and one brute-force e-mail
    assert result["status"] == "ok"
    emails = world.emails()
    assert counts_of(emails, "failed-login") == [("alert", burst)]
    assert counts_of(emails, "brute-force") == [("alert", burst - 4)]  # every failure from the 5th on
    [brute_force] = [e for e in emails if e.attributes["rule"] == "brute-force"]
    seconds = burst // 100 - 1
    span = f"{seconds // 60} min {seconds % 60} s" if seconds >= 60 else f"{seconds} s"
    assert brute_force.subject == (
        f"[HIGH] Brute force: {burst} failed logins for bob from 127.0.0.66 on mariadb-prod in {span}"
    )
    # AND DynamoDB was called per key and bucket, not per event
    assert counter.total <= 40 * burst / 1_000, counter.calls
    assert stored_failures(world) == burst


def test_a_throttle_mid_batch_fails_retryably_and_the_retry_counts_exactly_once(world: AwsWorld) -> None:
    # GIVEN DynamoDB throttling the second rule-window write of a 1,000-failure payload spread over
    # 20 s (two 10-second buckets: the first is stored, the second is not)
    runtime = world.install_runtime()
    writes: list[int] = []

    def second_write(_params: dict[str, object]) -> bool:
        writes.append(1)
        return len(writes) == 2

    fault = fail_calls(runtime.dynamodb, "UpdateItem", client_error("ThrottlingException"), second_write)
    event = storm_event(failed_logins(1_000, per_second=50))
    # WHEN the handler runs, fails, and Lambda retries the same payload
    with pytest.raises(StateStoreError) as raised:
        lambda_handler(event, FakeLambdaContext())
    assert raised.value.retryable
    partial = stored_failures(world)
    fault.remove()
    lambda_handler(event, FakeLambdaContext())
    # THEN the first attempt stored part of the burst and sent nothing; the retry sent exact counts
    assert partial == 500
    emails = world.emails()
    assert counts_of(emails, "failed-login") == [("alert", 1_000)]
    assert counts_of(emails, "brute-force") == [("alert", 996)]
    # AND the table holds every failure once
    assert stored_failures(world) == 1_000


def test_a_retried_payload_gives_the_same_alerts_and_counts(world: AwsWorld) -> None:
    # GIVEN 30 failures in one second, and SNS throttling the first attempt's e-mails
    runtime = world.install_runtime()
    fault = fail_calls(runtime.sns, "PublishBatch", client_error("Throttling"))
    event = storm_event(failed_logins(30, per_second=30))
    with pytest.raises(Exception, match="deliveries failed"):
        lambda_handler(event, FakeLambdaContext())
    first_slack = [message["text"] for message in world.slack_messages()]
    fault.remove()
    # WHEN Lambda retries the payload (its failures are already in the rule windows)
    lambda_handler(event, FakeLambdaContext())
    # THEN the retry says what the first attempt said: 30 failures, not 60, and the same counts
    emails = world.emails()
    assert sorted(e.subject for e in emails) == [
        "[HIGH] Brute force: 30 failed logins for bob from 127.0.0.66 on mariadb-prod in under 1 s",
        "[MEDIUM] Failed login for bob from 127.0.0.66 on mariadb-prod (1045) ×30",
    ]
    assert counts_of(emails, "brute-force") == [("alert", 26)]
    assert first_slack == [message["text"] for message in world.slack_messages()]  # Slack went out once
    assert stored_failures(world) == 30


def test_two_containers_on_the_same_keys_lose_and_double_nothing(world: AwsWorld) -> None:
    # GIVEN two containers (runtimes with their own clients) on one table, each with a 500-failure
    # payload for bob, the second running entirely while the first is between reading and writing
    first = world.install_runtime()
    second = type(first)(first.settings)
    payload_a = decode_cloudwatch_payload(storm_event(failed_logins(500), position=0)["awslogs"]["data"])
    payload_b = decode_cloudwatch_payload(
        storm_event(failed_logins(500, first_conn=5000), position=500)["awslogs"]["data"]
    )
    ran: list[bool] = []

    def run_second_container(**_: object) -> None:
        if not ran:
            ran.append(True)
            process_log_batch(payload_b, second, InvocationSummary(), deadline=None)

    first.dynamodb.meta.events.register("before-call.dynamodb.UpdateItem", run_second_container)
    # WHEN the first container handles its payload
    process_log_batch(payload_a, first, InvocationSummary(), deadline=None)
    # THEN the table holds both bursts, once each
    assert ran == [True]
    assert stored_failures(world) == 1_000
    # AND a third container reading the window counts all 1,000
    third = StateView(type(first)(first.settings).state_store, horizon=WINDOW, units=frozenset({"probe"}))
    assert third.count("login-failures|mariadb-prod|bob|127.0.0.66", STORM_START + WINDOW, WINDOW) == 1_000
