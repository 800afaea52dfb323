"""Failure semantics of the CloudWatch Logs Lambda handler: retry what may pass, lose and repeat nothing."""

from __future__ import annotations

import base64
import gzip
import json
import logging
from collections.abc import Callable
from typing import Any

import pytest

from detections.state import StateStoreError
from handlers.cloudwatch_logs import lambda_handler
from handlers.runtime import get_runtime
from notifiers.delivery import RetryableDeliveryError
from tests.functional.lambda_env import (  # noqa: F401 - fixtures are used by name
    HOOK_PATH,
    SLACK_BACKOFF,
    AwsWorld,
    CapturedLogs,
    client_error,
    closed_port_url,
    fail_calls,
    logs_fixture,
    publishes_subject_with,
    slack_fixture,
    slack_server_fixture,
    world_fixture,
)
from tests.functional.lambda_events import (
    FakeLambdaContext,
    control_document,
    lambda_event,
    mariadb_event,
    mariadb_lines,
    numbered,
)

EMAILS = 11  # the whole MariaDB log's e-mail alerts (see test_cloudwatch_lambda)
SLACK_MESSAGES = 13  # and its Slack alerts (a failed DROP TABLE / CREATE USER is an alert of its own)
# Cheaper: the refused logins of app, admin_user and four unknown users (a spray), then admin_user's
# session of DROP / TRUNCATE / GRANT / CREATE USER statements, as the real server logged them.
SESSION_CONNECTIONS = frozenset({"7", "8", "9", "10", "11", "12", "36"})
SESSION_EMAILS = 8
SESSION_SLACK_MESSAGES = 9


def real_event() -> dict[str, Any]:
    """The whole real MariaDB audit log in one subscription event."""
    return mariadb_event(numbered(mariadb_lines()))


def session_event() -> dict[str, Any]:
    """The real MariaDB log's lines of SESSION_CONNECTIONS (connection id is the fifth field)."""
    lines = numbered(mariadb_lines())
    return mariadb_event([line for line in lines if line.message.split(",")[4] in SESSION_CONNECTIONS])


def invoke(event: dict[str, Any], remaining_millis: int = 60_000) -> dict[str, Any]:
    """Call the handler the way Lambda does."""
    return lambda_handler(event, FakeLambdaContext(remaining_millis=remaining_millis))


def assert_everything_delivered_once(
    world: AwsWorld, emails: int = EMAILS, slack_messages: int = SLACK_MESSAGES
) -> None:
    """Every alert arrived exactly once on each of its channels."""
    subjects = [email.subject for email in world.emails()]
    assert len(subjects) == len(set(subjects)) == emails
    headers = [message["blocks"][0]["text"]["text"] for message in world.slack_messages()]
    assert len(headers) == len(set(headers)) == slack_messages


def test_sns_throttling_fails_the_invocation_after_the_rest_was_sent_and_the_retry_fills_the_gap(
    world: AwsWorld, logs: CapturedLogs
) -> None:
    """GIVEN SNS throttling every PublishBatch that holds an alert about `victim`
    WHEN the real log is handled, then handled again (Lambda's retry) once SNS recovered
    THEN the first invocation sends all Slack messages and the unthrottled e-mails, then raises; the
    retry sends only the missing e-mails and nothing twice."""
    throttle = fail_calls(
        get_runtime().sns,
        "PublishBatch",
        client_error("ThrottlingException"),
        publishes_subject_with("victim"),
    )

    with pytest.raises(RetryableDeliveryError, match=r"^10 alert deliveries failed and will be retried$"):
        invoke(real_event())

    assert len(throttle.failed) == 1
    first_emails = world.emails()
    assert len(first_emails) == 1
    assert len(world.slack_messages()) == SLACK_MESSAGES
    assert logs.summaries()[0]["delivery_failures_retryable"] == 10

    throttle.remove()
    result = invoke(real_event())

    assert result == {"status": "ok", "alerts_sent": 10}
    assert_everything_delivered_once(world)
    assert logs.summaries()[1]["already_delivered"] == {"email": 1, "slack": SLACK_MESSAGES}


def answer_500(world: AwsWorld) -> Callable[[], None]:
    """Slack answers 500 to everything; the returned function makes it healthy again."""
    world.slack.clear()
    world.slack.expect_request(HOOK_PATH).respond_with_data("internal_error", 500)

    def recover() -> None:
        """Answer `ok` again (keeping the request log)."""
        world.slack.clear_all_handlers()
        world.slack.expect_request(HOOK_PATH).respond_with_data("ok")

    return recover


def refuse_connections(world: AwsWorld) -> Callable[[], None]:
    """The secret points at a closed port; the returned function points it back at the server."""
    world.point_slack_at(closed_port_url())

    def recover() -> None:
        """Point the secret at the live server and rebuild the runtime (a new container)."""
        world.point_slack_at(world.slack.url_for(HOOK_PATH))
        world.install_runtime()

    return recover


@pytest.mark.parametrize(
    ("break_slack", "requests_while_down"),
    [(answer_500, 3 * SESSION_SLACK_MESSAGES), (refuse_connections, 0)],
    ids=["http-500", "connection-refused"],
)
def test_slack_down_fails_the_invocation_after_every_email_and_the_retry_sends_only_slack(
    world: AwsWorld,
    logs: CapturedLogs,
    break_slack: Callable[[AwsWorld], Callable[[], None]],
    requests_while_down: int,
) -> None:
    """GIVEN Slack answering 500 (or its port closed)
    WHEN the session excerpt is handled, then retried once Slack is back
    THEN each Slack alert is tried three times with two backoffs, every e-mail goes out, the
    invocation raises; the retry delivers the Slack messages (the spray's too, though its findings
    changed: the first try already counted the refused logins) and no e-mail again."""
    recover = break_slack(world)
    world.install_runtime()

    with pytest.raises(RetryableDeliveryError, match=rf"^{SESSION_SLACK_MESSAGES} alert deliveries failed"):
        invoke(session_event())

    assert len(world.emails()) == SESSION_EMAILS
    assert len(world.slack_bodies()) == requests_while_down
    assert world.slack_sleeps == [SLACK_BACKOFF] * (2 * SESSION_SLACK_MESSAGES)
    retryable = [m for m in logs.messages(logging.WARNING) if "(retryable)" in m]
    assert len(retryable) == SESSION_SLACK_MESSAGES
    assert all(m.endswith("after 3 attempts") for m in retryable)

    recover()
    result = invoke(session_event())

    assert result == {"status": "ok", "alerts_sent": SESSION_SLACK_MESSAGES}
    assert_everything_delivered_once(world, SESSION_EMAILS, SESSION_SLACK_MESSAGES)


def suppression_read_of(rule: str) -> Callable[[dict[str, Any]], bool]:
    """A GetItem condition: the suppression window of `rule`."""
    return lambda params: params["Key"]["pk"]["S"].startswith(f"sup#{rule}|")


def suppression_batch_read_of(rule: str) -> Callable[[dict[str, Any]], bool]:
    """A BatchGetItem condition: it reads suppression windows of `rule` (an alert's object windows)."""
    return lambda params: any(
        key["pk"]["S"].startswith(f"sup#{rule}|")
        for request in params["RequestItems"].values()
        for key in request["Keys"]
    )


def test_dynamodb_throttling_one_suppression_window_holds_back_only_that_alert(
    world: AwsWorld, logs: CapturedLogs
) -> None:
    """GIVEN DynamoDB throttling reads of the drop-table suppression window
    WHEN the real log is handled, then retried with DynamoDB healthy
    THEN every other alert goes out first, the invocation raises, and the retry sends only the two
    drop-table Slack messages (the drops, and the failed DROP TABLE t_does_not_exist on its own)."""
    throttles = [
        fail_calls(
            get_runtime().dynamodb,
            "GetItem",
            client_error("ProvisionedThroughputExceededException"),
            suppression_read_of("drop-table"),
        ),
        fail_calls(
            get_runtime().dynamodb,
            "BatchGetItem",
            client_error("ProvisionedThroughputExceededException"),
            suppression_batch_read_of("drop-table"),
        ),
    ]

    with pytest.raises(RetryableDeliveryError, match=r"^2 alert deliveries failed and will be retried$"):
        invoke(real_event())

    assert len(world.emails()) == EMAILS
    assert len(world.slack_messages()) == SLACK_MESSAGES - 2
    warnings = [m for m in logs.messages(logging.WARNING) if "noise-control state unavailable" in m]
    assert len(warnings) == 2
    # one alert names a single table (one GetItem), the other eleven (their windows read together)
    assert sorted(warning.split("DynamoDB ")[1].split(" ")[0] for warning in warnings) == [
        "BatchGetItem",
        "GetItem",
    ]
    assert all(
        warning.endswith(
            "on table 'audit-alerts-state' failed: ProvisionedThroughputExceededException (HTTP 400)"
        )
        for warning in warnings
    )

    for throttle in throttles:
        throttle.remove()
    result = invoke(real_event())

    assert result == {"status": "ok", "alerts_sent": 2}
    assert sorted(m["blocks"][0]["text"]["text"] for m in world.slack_messages()[-2:]) == [
        "Attempted DROP TABLE t_does_not_exist (failed: 1051) by admin_user on mariadb-prod",
        "DROP TABLE appdb.t_upper by admin_user on mariadb-prod (+10 more)",
    ]
    assert_everything_delivered_once(world)


def test_dynamodb_throttling_rule_state_fails_before_sending_and_the_retry_sends_everything_once(
    world: AwsWorld, logs: CapturedLogs
) -> None:
    """GIVEN DynamoDB throttling the 2nd rule-window write (one key already written, the rest not)
    WHEN the real log is handled, then retried
    THEN the invocation raises before anything is sent (a partial burst would under-count), and the
    retry — reading the windows without its own earlier contribution — sends every alert exactly
    once with the full counts."""
    writes: list[int] = []

    def second_write(_params: dict[str, Any]) -> bool:
        writes.append(1)
        return len(writes) == 2

    fail_calls(get_runtime().dynamodb, "UpdateItem", client_error("ThrottlingException"), second_write)

    with pytest.raises(StateStoreError, match=r"^DynamoDB UpdateItem on table 'audit-alerts-state' failed"):
        invoke(real_event())

    assert (world.emails(), world.slack_bodies()) == ([], [])
    [summary] = logs.summaries()  # still logged: the counts up to the failure
    # 243 lines: 109 no rule can match (DISCONNECTs, keyword-free queries, READ/WRITE lines beyond
    # their group's first) are pre-filtered unparsed
    assert (summary["alerts_sent"], summary["events"], summary["prefiltered"]) == (
        {},
        {"mysql_audit": 134},
        109,
    )

    invoke(real_event())

    assert_everything_delivered_once(world)
    assert any(email.subject.endswith("(1045) ×22") for email in world.emails())
    # the failed attempt counted every finding it made before the windows could not be written
    [_, retried] = logs.summaries()
    assert summary["findings"] == retried["findings"]
    assert summary["findings"]["failed-login"] >= 22


def test_a_delivered_alert_whose_record_cannot_be_written_is_not_failed(
    world: AwsWorld, logs: CapturedLogs
) -> None:
    """GIVEN DynamoDB refusing every delivery-record write
    WHEN the real log is handled
    THEN every alert is sent, the invocation succeeds (failing would only repeat alerts on a retry),
    and each unrecorded delivery is logged."""
    fail_calls(
        get_runtime().dynamodb,
        "PutItem",
        client_error("ThrottlingException"),
        lambda params: params["Item"]["pk"]["S"].startswith("dlv#"),
    )

    result = invoke(session_event())

    assert result == {"status": "ok", "alerts_sent": SESSION_EMAILS + SESSION_SLACK_MESSAGES}
    assert_everything_delivered_once(world, SESSION_EMAILS, SESSION_SLACK_MESSAGES)
    unrecorded = [m for m in logs.messages(logging.WARNING) if "delivered on" in m and "not recorded" in m]
    assert len(unrecorded) == SESSION_EMAILS + SESSION_SLACK_MESSAGES


def test_a_dead_webhook_is_logged_and_counted_without_failing_the_invocation(
    world: AwsWorld, logs: CapturedLogs
) -> None:
    """GIVEN Slack answering 404 no_service (the webhook was removed)
    WHEN the real log is handled
    THEN each Slack alert is tried once, logged as an error and counted, e-mails go out, and the
    invocation succeeds (a retry cannot fix a dead webhook)."""
    world.slack.clear()
    world.slack.expect_request(HOOK_PATH).respond_with_data("no_service", 404)
    world.install_runtime()

    result = invoke(session_event())

    assert result == {"status": "ok", "alerts_sent": SESSION_EMAILS}
    assert len(world.slack_bodies()) == SESSION_SLACK_MESSAGES
    assert world.slack_sleeps == []
    errors = [m for m in logs.messages(logging.ERROR) if "not delivered on slack" in m]
    assert len(errors) == SESSION_SLACK_MESSAGES
    assert all(m.endswith(": Slack webhook answered HTTP 404 no_service after 1 attempt") for m in errors)
    [summary] = logs.summaries()
    assert summary["delivery_failures_permanent"] == SESSION_SLACK_MESSAGES
    assert summary["delivery_failures_retryable"] == 0
    metrics = [json.loads(line) for line in logs.text().splitlines() if line.startswith('{"_aws"')]
    assert [m["DeliveryFailures"] for m in metrics] == [[float(SESSION_SLACK_MESSAGES)]]
    assert HOOK_PATH not in "\n".join(logs.messages())


def gzip_b64(data: bytes) -> str:
    """base64(gzip(data))."""
    return base64.b64encode(gzip.compress(data, mtime=0)).decode("ascii")


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        ({}, "the event has no awslogs.data string"),
        (
            {"awslogs": {"data": "S3cr3t-app! is not base64"}},
            "payload is not valid base64 (characters outside the base64 alphabet)",
        ),
        (
            {"awslogs": {"data": base64.b64encode(b"\x1f\x8bS3cr3t-app!").decode("ascii")}},
            "payload is not a valid gzip/zlib stream (",
        ),
        (
            {"awslogs": {"data": gzip_b64(b'{"password": "S3cr3t-app!" oops')}},
            "decoded payload is not JSON (Expecting ',' delimiter at line 1 column 28)",
        ),
        (
            {"awslogs": {"data": gzip_b64(b'{"messageType": "DATA_MESSAGE", "note": "S3cr3t-app!"}')}},
            "payload JSON has no logEvents list",
        ),
    ],
    ids=["no-data", "bad-base64", "bad-gzip", "bad-json", "no-log-events"],
)
def test_an_invalid_payload_is_acknowledged_and_logged_without_its_content(
    world: AwsWorld, logs: CapturedLogs, event: dict[str, Any], reason: str
) -> None:
    """GIVEN a payload that cannot be decoded  WHEN handled
    THEN it is acknowledged (no raise: retrying cannot fix it), logged with the reason only, counted."""
    result = invoke(event)

    assert result == {"status": "invalid_payload"}
    [logged] = logs.messages(logging.ERROR)
    assert logged.startswith(f"invalid CloudWatch Logs payload acknowledged: {reason}")
    assert "S3cr3t" not in logs.text()
    assert logs.summaries()[0]["invalid_payloads"] == 1
    assert (world.emails(), world.slack_bodies()) == ([], [])


def test_a_control_message_is_acknowledged_and_sends_nothing(world: AwsWorld, logs: CapturedLogs) -> None:
    """GIVEN CloudWatch's CONTROL_MESSAGE  WHEN handled  THEN acknowledged, counted, nothing sent."""
    result = invoke(lambda_event(control_document()))

    assert result == {"status": "ok", "alerts_sent": 0}
    assert "CloudWatch Logs control message acknowledged" in logs.messages(logging.INFO)
    assert logs.summaries()[0]["control_messages"] == 1
    assert (world.emails(), world.slack_bodies()) == ([], [])


def test_no_time_left_fails_retryably_without_sending_and_the_retry_sends_everything(
    world: AwsWorld,
) -> None:
    """GIVEN an invocation with less time left than the 3 s kept in reserve
    WHEN the session excerpt is handled, then retried with time to spare
    THEN nothing is sent and the invocation raises; the retry sends every alert once."""
    with pytest.raises(
        RetryableDeliveryError, match=rf"^{SESSION_EMAILS + SESSION_SLACK_MESSAGES} alert deliveries failed"
    ):
        invoke(session_event(), remaining_millis=2_000)

    assert (world.emails(), world.slack_bodies()) == ([], [])

    invoke(session_event())

    assert_everything_delivered_once(world, SESSION_EMAILS, SESSION_SLACK_MESSAGES)
