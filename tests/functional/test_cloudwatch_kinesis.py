"""CloudWatch Logs → Kinesis → Lambda (`kinesis_handler`): plain and KPL-aggregated records, failures."""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable
from typing import Any

import pytest

from handlers.cloudwatch_logs import kinesis_handler
from handlers.runtime import get_runtime
from tests.functional.lambda_env import (  # noqa: F401 - fixtures are used by name
    AwsWorld,
    CapturedLogs,
    client_error,
    fail_calls,
    logs_fixture,
    publishes_subject_with,
    slack_fixture,
    slack_server_fixture,
    world_fixture,
)
from tests.functional.lambda_events import (
    MARIADB_GROUP,
    MARIADB_STREAM,
    POSTGRES_GROUP,
    POSTGRES_STREAM,
    FakeLambdaContext,
    control_document,
    gzipped,
    kinesis_event,
    kinesis_record,
    kpl_aggregate,
    mariadb_lines,
    numbered,
    postgres_entries,
    sequence_number,
    subscription_document,
)


def mariadb_payload(keep: Callable[[str], bool] = lambda _line: True) -> bytes:
    """The gzip'd subscription payload of the real MariaDB log's lines that `keep` selects."""
    lines = [line for line in numbered(mariadb_lines()) if keep(line.message)]
    return gzipped(subscription_document(MARIADB_GROUP, MARIADB_STREAM, lines))


def postgres_payload() -> bytes:
    """The gzip'd subscription payload of the whole real PostgreSQL log (one message per entry)."""
    return gzipped(subscription_document(POSTGRES_GROUP, POSTGRES_STREAM, numbered(postgres_entries())))


def by_user(user: str) -> Callable[[str], bool]:
    """Select MariaDB audit lines written for `user` (the third field)."""
    return lambda line: line.split(",")[2] == user


def handle(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Call the Kinesis handler the way Lambda does."""
    return dict(kinesis_handler(kinesis_event(records), FakeLambdaContext()))


def plain_records(payloads: list[bytes]) -> list[dict[str, Any]]:
    """One Kinesis record per payload, as CloudWatch Logs puts them."""
    return [kinesis_record(payload, index) for index, payload in enumerate(payloads)]


def one_aggregate(payloads: list[bytes]) -> list[dict[str, Any]]:
    """All payloads as user records of one KPL aggregate."""
    return [kinesis_record(kpl_aggregate(payloads), 0)]


def unique(texts: list[str]) -> list[str]:
    """`texts` sorted, after checking none repeats."""
    assert len(texts) == len(set(texts)), f"repeated: {sorted(texts)}"
    return sorted(texts)


@pytest.mark.parametrize("wrap", [plain_records, one_aggregate], ids=["plain-records", "kpl-aggregate"])
def test_payloads_through_kinesis_give_the_same_alerts_as_the_lambda_subscription(
    world: AwsWorld, logs: CapturedLogs, wrap: Callable[[list[bytes]], list[dict[str, Any]]]
) -> None:
    """GIVEN the real MariaDB log's payload and a CONTROL_MESSAGE, as plain or KPL-aggregated records
    WHEN the Kinesis handler runs
    THEN no record fails, the 22 refused logins are one e-mail, and the e-mails and Slack messages are
    those the Lambda subscription path sends for the same log."""
    response = handle(wrap([mariadb_payload(), gzipped(control_document())]))

    assert response == {"batchItemFailures": []}
    emails = world.emails()
    assert len(unique([email.subject for email in emails])) == 11
    assert "[MEDIUM] Failed login for victim from 127.0.0.1 on mariadb-prod (1045) ×22" in [
        email.subject for email in emails
    ]
    headers = unique([message["blocks"][0]["text"]["text"] for message in world.slack_messages()])
    assert len(headers) == 13
    assert "DROP TABLE appdb.t_upper by admin_user on mariadb-prod (+10 more)" in headers
    [summary] = logs.summaries()
    assert (summary["records"], summary["control_messages"]) == (2, 1)
    assert summary["alerts_sent"] == {"email": 11, "slack": 13}


def test_sns_throttling_one_record_reports_exactly_that_record_and_its_retry_repeats_nothing(
    world: AwsWorld, logs: CapturedLogs
) -> None:
    """GIVEN three records (MariaDB victim lines; a KPL aggregate of the PostgreSQL log and a control
    message; MariaDB TRUNCATE lines) and SNS throttling every e-mail about the PostgreSQL cluster
    WHEN the Kinesis handler runs, then Lambda retries from the failed record with SNS healthy
    THEN batchItemFailures holds exactly the aggregate's sequence number; the retry sends only the
    PostgreSQL e-mails, and no alert of any record twice."""
    records = [
        kinesis_record(mariadb_payload(by_user("victim")), 0),
        kinesis_record(kpl_aggregate([postgres_payload(), gzipped(control_document())]), 1),
        kinesis_record(mariadb_payload(lambda line: "TRUNCATE" in line), 2),
    ]
    throttle = fail_calls(
        get_runtime().sns, "PublishBatch", client_error("Throttling"), publishes_subject_with("on pg-prod")
    )

    response = handle(records)

    assert response == {"batchItemFailures": [{"itemIdentifier": sequence_number(1)}]}
    first_emails = [email.subject for email in world.emails()]
    assert unique(first_emails) == [
        "[CRITICAL] Logged in after 22 failed logins in under 1 s: victim from 127.0.0.1 on mariadb-prod",
        "[HIGH] Brute force: 22 failed logins for victim from 127.0.0.1 on mariadb-prod in under 1 s",
        "[MEDIUM] Failed login for victim from 127.0.0.1 on mariadb-prod (1045) ×22",
    ]
    first_slack = [message["blocks"][0]["text"]["text"] for message in world.slack_messages()]
    # victim's two, PostgreSQL's fifteen (one: CREATE ROLE admin_user … CREATEROLE), the TRUNCATE
    assert len(unique(first_slack)) == 2 + 15 + 1
    assert "Privilege grant (CREATEROLE) to admin_user by postgres on pg-prod" in first_slack
    assert logs.summaries()[0]["retried_records"] == 1

    throttle.remove()
    retry = handle(records[1:])

    assert retry == {"batchItemFailures": []}
    emails = unique([email.subject for email in world.emails()])
    assert len(emails) == 3 + 11
    assert [subject for subject in emails if subject not in first_emails] == [
        subject for subject in emails if subject.find("on pg-prod") > 0
    ]
    assert unique([m["blocks"][0]["text"]["text"] for m in world.slack_messages()]) == sorted(first_slack)
    assert logs.summaries()[1]["already_delivered"] == {"slack": 16}


def test_unreadable_records_are_acknowledged_and_the_rest_is_delivered(
    world: AwsWorld, logs: CapturedLogs
) -> None:
    """GIVEN a record that is not base64, a corrupt KPL aggregate, a record that is not a CloudWatch
    payload, and one good record
    WHEN the Kinesis handler runs
    THEN none is reported as failed (retrying cannot fix them), each is logged without its content,
    and the good record's alerts are delivered."""
    corrupt = bytearray(kpl_aggregate([mariadb_payload(by_user("victim"))]))
    corrupt[-1] ^= 0xFF  # the MD5 trailer no longer matches
    records = [
        {"kinesis": {"sequenceNumber": sequence_number(0), "data": "S3cr3t!!not-base64"}},
        kinesis_record(bytes(corrupt), 1),
        kinesis_record(b"S3cr3t plain text, not a payload", 2),
        kinesis_record(mariadb_payload(lambda line: "TRUNCATE" in line), 3),
    ]

    response = handle(records)

    assert response == {"batchItemFailures": []}
    assert [m["blocks"][0]["text"]["text"] for m in world.slack_messages()] == [
        "TRUNCATE t_truncated by admin_user on mariadb-prod"
    ]
    errors = logs.messages(logging.ERROR)
    assert errors == [
        f"unreadable Kinesis aggregate acknowledged: Kinesis record data is not valid base64 "
        f"(sequence number {sequence_number(0)})",
        "unreadable Kinesis aggregate acknowledged: KPL aggregate MD5 checksum does not match "
        f"(corrupt or truncated) (sequence number {sequence_number(1)})",
        f"invalid payload in record {sequence_number(2)} acknowledged: "
        "payload is neither gzip, zlib, JSON nor base64 text",
    ]
    assert "S3cr3t" not in logs.text()
    assert base64.b64encode(b"S3cr3t plain text, not a payload").decode() not in logs.text()
    [summary] = logs.summaries()
    assert (summary["invalid_payloads"], summary["records"]) == (3, 2)
