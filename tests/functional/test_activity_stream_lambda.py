"""handlers.activity_stream.lambda_handler on genuine DAS records: alerts delivered, KMS once per data key.

Records are encrypted as RDS does (moto KMS data key under the cluster's encryption context, a real
Encryption SDK message of gzip'd JSON, base64 envelope) by tests/das_fixtures.py; the alerts are read
back where they land: the SNS topic's subscribed SQS queue (email) and a local HTTP server (Slack).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from aws_encryption_sdk.identifiers import Algorithm

from tests import das_fixtures as das
from tests.functional.das_env import (  # noqa: F401 - fixtures are used by name
    DasWorld,
    Summaries,
    das_slack_server_fixture,
    das_world_fixture,
    summaries_fixture,
)

PG, AMS = das.POSTGRES_CLUSTER_ID, das.MYSQL_CLUSTER_ID
PG_FAILED_LOGIN = f"[MEDIUM] Failed login for admin from 10.0.0.9 on {PG} (28P01)"
AMS_FAILED_LOGIN = f"[MEDIUM] Failed login for admin from 10.0.0.9 on {AMS} (1045)"
PG_DROP = f"HIGH: DROP TABLE orders by app on {PG}"
AMS_DROP = f"HIGH: DROP TABLE shop.orders by app on {AMS}"


def slack_headlines(world: DasWorld) -> list[str]:
    """The first line of every message Slack accepted."""
    return [str(message["text"]).split("\n", 1)[0] for message in world.slack_messages()]


def email_subjects(world: DasWorld) -> list[str]:
    """The subject of every e-mail SNS delivered."""
    return [email.subject for email in world.emails()]


def seq(index: int) -> str:
    """The sequence number das_fixtures gives the record at `index`."""
    return das.sequence_number_at(index)


@dataclass(frozen=True)
class Genuine:
    """One engine's genuine record: how it is built and encrypted, and the alerts it must raise."""

    record: Any
    resource_id: str
    version: str
    suite: Algorithm
    email: str
    slack: str


GENUINE = {
    "aurora-postgresql-v1.1-unsigned": Genuine(
        das.postgres_record, PG, "1.1", das.UNSIGNED_SUITE, PG_FAILED_LOGIN, PG_DROP
    ),
    "aurora-postgresql-v1.1-signed": Genuine(
        das.postgres_record, PG, "1.1", das.SIGNED_SUITE, PG_FAILED_LOGIN, PG_DROP
    ),
    "aurora-mysql-v1.2-unsigned": Genuine(
        das.mysql_record, AMS, "1.2", das.UNSIGNED_SUITE, AMS_FAILED_LOGIN, AMS_DROP
    ),
    "aurora-mysql-v1.2-signed": Genuine(
        das.mysql_record, AMS, "1.2", das.SIGNED_SUITE, AMS_FAILED_LOGIN, AMS_DROP
    ),
}


@pytest.mark.parametrize("case", GENUINE.values(), ids=GENUINE.keys())
def test_genuine_record_delivers_failed_login_and_drop_table_alerts(
    das_world: DasWorld, summaries: Summaries, case: Genuine
) -> None:
    """GIVEN one genuine record (connect, failed login, DROP TABLE) WHEN the handler runs
    THEN the failed login goes out by e-mail, the drop by Slack, and the record is acknowledged."""
    data = das_world.record_data(case.record(), case.resource_id, version=case.version, algorithm=case.suite)

    failures = das_world.invoke([das.kinesis_record(data, resource_id=case.resource_id)])

    assert failures == []
    assert email_subjects(das_world) == [case.email]
    assert slack_headlines(das_world) == [case.slack]
    assert das_world.quarantined() == []
    assert summaries.last()["findings"] == {"failed-login": 1, "drop-table": 1}


def test_kpl_aggregated_records_are_split_decrypted_and_alerted(
    das_world: DasWorld, summaries: Summaries
) -> None:
    """GIVEN a batch of a plain record and a KPL aggregate of three records (one event each)
    WHEN the handler runs THEN every user record is decrypted and both engines' alerts go out once."""
    pg_events = das.aurora_postgresql_events()
    user_records = [das_world.record_data(das.postgres_record([event]), PG) for event in pg_events]
    mysql = das_world.record_data(das.mysql_record(), AMS, version="1.2")

    failures = das_world.invoke(
        [
            das.kinesis_record(mysql, resource_id=AMS, index=0),
            das.kinesis_record(das.kpl_aggregate(user_records), resource_id=PG, index=1),
        ]
    )

    assert failures == []
    assert sorted(email_subjects(das_world)) == sorted([PG_FAILED_LOGIN, AMS_FAILED_LOGIN])
    assert sorted(slack_headlines(das_world)) == sorted([PG_DROP, AMS_DROP])
    assert summaries.last()["records"] == 4
    assert summaries.last()["events"] == {"activity_stream": 7}


@pytest.mark.parametrize(
    "order",
    [("main", "aux"), ("aux", "main"), ("aux", "other", "main")],
    ids=["main-then-aux", "aux-then-main", "aux-other-record-main"],
)
def test_main_and_aux_in_different_records_give_one_drop_table_finding(
    das_world: DasWorld, summaries: Summaries, order: tuple[str, ...]
) -> None:
    """GIVEN the MAIN and AUX events of one Aurora MySQL DROP TABLE in different Kinesis records
    WHEN the handler runs on the batch THEN exactly one drop-table finding and one Slack message."""
    connect, _failed, main, aux = das.aurora_mysql_events()
    events = {"main": main, "aux": aux, "other": connect}
    records = [
        das.kinesis_record(
            das_world.record_data(das.mysql_record([events[name]]), AMS, version="1.2"),
            resource_id=AMS,
            index=i,
        )
        for i, name in enumerate(order)
    ]

    failures = das_world.invoke(records)

    assert failures == []
    assert summaries.last()["findings"] == {"drop-table": 1}
    assert slack_headlines(das_world) == [AMS_DROP]
    assert email_subjects(das_world) == []


def test_heartbeat_only_records_deliver_nothing_and_are_acknowledged(
    das_world: DasWorld, summaries: Summaries
) -> None:
    """GIVEN records holding only heartbeat items, one of them KPL-aggregated WHEN the handler runs
    THEN nothing is delivered or quarantined and no record is reported for retry."""
    heartbeats = das_world.record_data(das.postgres_record(das.heartbeat_events()), PG)

    failures = das_world.invoke(
        [
            das.kinesis_record(heartbeats, resource_id=PG, index=0),
            das.kinesis_record(das.kpl_aggregate([heartbeats, heartbeats]), resource_id=PG, index=1),
        ]
    )

    assert failures == []
    assert (email_subjects(das_world), das_world.slack_messages(), das_world.quarantined()) == ([], [], [])
    summary = summaries.last()
    assert (summary["records"], summary["events"], summary["parse_failures"]) == (3, {}, {})
    assert summary["alerts_sent"] == {}


def test_batch_of_only_an_empty_kpl_aggregate_is_acknowledged(das_world: DasWorld) -> None:
    """GIVEN a batch whose one record is a well-formed KPL aggregate of zero user records
    WHEN the handler runs THEN the batch is acknowledged (an exception would block the shard)."""
    empty = das.kpl_with_valid_checksum(b"")

    failures = das_world.invoke([das.kinesis_record(empty, resource_id=PG)])

    assert failures == []
    assert (das_world.emails(), das_world.slack_messages(), das_world.quarantined()) == ([], [], [])


def test_kms_is_called_once_per_data_key_for_a_batch_of_500(
    das_world: DasWorld, summaries: Summaries
) -> None:
    """GIVEN 500 records encrypted under 3 data keys (two clusters), interleaved WHEN the handler runs
    THEN exactly 3 KMS Decrypt calls; a warm re-invocation with the same keys makes none."""
    _runtime, kms = das_world.install_runtime()
    connect = das.aurora_postgresql_events()[0]
    keys = [(PG, "a"), (PG, "b"), (AMS, "a")]
    records = []
    for index in range(500):
        resource_id, key = keys[index % 3]
        event = {**connect, "statementId": index, "dbUserName": "rdsadmin" if index % 2 else "app"}
        record = das.activity_record([event], cluster_id=resource_id, instance_id=das.POSTGRES_INSTANCE_ID)
        records.append(
            das.kinesis_record(
                das_world.record_data(record, resource_id, key=key), resource_id=resource_id, index=index
            )
        )

    first = das_world.invoke(records)
    calls_after_first = kms.decrypt_calls
    second = das_world.invoke(records)

    assert (first, second) == ([], [])
    assert calls_after_first == 3
    assert kms.decrypt_calls == 3
    assert [summary["events"] for summary in summaries.all()] == [{"activity_stream": 500}] * 2


def test_plain_selects_are_prefiltered_and_the_drop_split_across_records_still_alerts(
    das_world: DasWorld, summaries: Summaries
) -> None:
    """GIVEN a record of plain SELECTs and a failed login, and two records holding the MAIN (a keyword-less
    CALL) and the AUX DROP of one statement WHEN the handler runs THEN the SELECTs are counted as
    pre-filtered, never parsed, while the failed login and the drop (from the AUX evidence) alert."""
    _connect, failed, main, aux = das.aurora_mysql_events()
    selects = [
        {**main, "commandText": f"SELECT * FROM orders WHERE id = {n}", "statementId": 100 + n}
        for n in range(5)
    ]
    batches = [[*selects, failed], [{**main, "commandText": "CALL purge_orders()"}], [aux]]
    records = [
        das.kinesis_record(
            das_world.record_data(das.mysql_record(events), AMS, version="1.2"), resource_id=AMS, index=i
        )
        for i, events in enumerate(batches)
    ]

    failures = das_world.invoke(records)

    assert failures == []
    assert summaries.last()["prefiltered"] == 5
    assert summaries.last()["events"] == {"activity_stream": 3}
    assert summaries.last()["findings"] == {"failed-login": 1, "drop-table": 1}
    assert email_subjects(das_world) == [AMS_FAILED_LOGIN]
    assert slack_headlines(das_world) == [AMS_DROP]
