"""ActivityStreamDecryptor and DataKeyCache on genuine DAS records under a moto KMS key."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from parsers.activity_stream import parse_activity_stream_record
from parsers.das_decrypt import ActivityStreamDecryptor, DataKeyCache, DecryptError
from parsers.das_envelope import resource_id_from_stream_arn
from parsers.event import AuditEvent
from parsers.kinesis_records import deaggregate, record_data, sequence_number, sub_sequence_number
from tests import das_fixtures as das
from tests.functional.das_decrypt_kms import (  # noqa: F401 - fixtures are used by name
    PG,
    fake_aws_credentials_fixture,
    key_id_fixture,
    kms_fixture,
)


def actions(record: dict[str, object]) -> tuple[str, ...]:
    """The actions parse_activity_stream_record reads from a decrypted record (no failure allowed)."""
    results = list(parse_activity_stream_record(record))
    assert all(isinstance(result, AuditEvent) for result in results), results
    return tuple(result.action.value for result in results if isinstance(result, AuditEvent))


def one_event_record(index: int) -> dict[str, Any]:
    """A small distinct Aurora PostgreSQL record (for volume tests)."""
    return das.postgres_record([{**das.aurora_postgresql_events()[0], "statementId": index}])


@dataclass(frozen=True)
class RoundTrip:
    """One round-trip case: a record builder, the stream's resource id, envelope version, ESDK suite."""

    build: Callable[[], dict[str, Any]]
    resource_id: str
    version: str
    suite: Any
    actions: tuple[str, ...]


SIGNED, UNSIGNED = das.SIGNED_SUITE, das.UNSIGNED_SUITE
APG_ACTIONS, AMS_ACTIONS, AMS = das.AURORA_POSTGRESQL_ACTIONS, das.AURORA_MYSQL_ACTIONS, das.MYSQL_CLUSTER_ID
ROUND_TRIPS = {
    "apg-signed": RoundTrip(das.postgres_record, PG, "1.1", SIGNED, APG_ACTIONS),
    "apg-unsigned": RoundTrip(das.postgres_record, PG, "1.1", UNSIGNED, APG_ACTIONS),
    "ams-signed": RoundTrip(das.mysql_record, AMS, "1.2", SIGNED, AMS_ACTIONS),
    "ams-unsigned": RoundTrip(das.mysql_record, AMS, "1.2", UNSIGNED, AMS_ACTIONS),
    "heartbeats-only": RoundTrip(
        lambda: das.postgres_record(das.heartbeat_events()), PG, "1.1", UNSIGNED, ()
    ),
    "unknown-version-and-fields": RoundTrip(
        lambda: das.mysql_record(das.with_unknown_event_fields(das.aurora_mysql_events())),
        AMS,
        "2.0",
        UNSIGNED,
        AMS_ACTIONS,
    ),
    "instance-stream-db-id-context": RoundTrip(
        das.postgres_record, das.POSTGRES_INSTANCE_ID, "1.3", UNSIGNED, APG_ACTIONS
    ),
}


@pytest.mark.parametrize("case", ROUND_TRIPS.values(), ids=ROUND_TRIPS.keys())
def test_genuine_record_round_trips(kms: Any, key_id: str, case: RoundTrip) -> None:
    """GIVEN a record encrypted as RDS does WHEN decrypted THEN the same dict, with the expected actions."""
    record = case.build()
    data_key = das.generate_das_data_key(kms, key_id, case.resource_id)
    data = das.das_record_data(record, data_key, version=case.version, algorithm=case.suite)

    decrypted = ActivityStreamDecryptor(DataKeyCache(kms)).decrypt_record(data, case.resource_id)

    assert decrypted == record
    assert actions(decrypted) == case.actions


def test_decrypted_events_carry_the_failed_login_details(kms: Any, key_id: str) -> None:
    """GIVEN the Aurora PostgreSQL failed login WHEN decrypted and parsed THEN its details are exact."""
    data = das.das_record_data(das.postgres_record(), das.generate_das_data_key(kms, key_id, PG))

    events = list(
        parse_activity_stream_record(ActivityStreamDecryptor(DataKeyCache(kms)).decrypt_record(data, PG))
    )

    failed = events[1]
    assert isinstance(failed, AuditEvent)
    assert (failed.user, failed.status, failed.cluster, failed.client_host) == (
        "admin",
        "28P01",
        PG,
        "10.0.0.9",
    )
    assert failed.error_message == 'password authentication failed for user "admin"'


def test_lambda_kinesis_event_with_kpl_aggregate_decrypts_end_to_end(kms: Any, key_id: str) -> None:
    """GIVEN a Lambda event of plain and KPL-aggregated DAS records WHEN processed THEN all decrypt."""
    data_key = das.generate_das_data_key(kms, key_id, PG)
    records = [das.postgres_record(das.aurora_postgresql_events()[index : index + 1]) for index in range(3)]
    datas = [das.das_record_data(record, data_key, algorithm=das.UNSIGNED_SUITE) for record in records]
    event = das.kinesis_event(
        [
            das.kinesis_record(datas[0], resource_id=PG, index=0),
            das.kinesis_record(das.kpl_aggregate(datas[1:]), resource_id=PG, index=1),
        ]
    )
    cache = DataKeyCache(kms)
    decryptor = ActivityStreamDecryptor(cache)

    user_records = deaggregate(event["Records"])
    decrypted = [
        decryptor.decrypt_record(record_data(user), resource_id_from_stream_arn(user["eventSourceARN"]))
        for user in user_records
    ]

    assert decrypted == records
    assert [(sequence_number(user), sub_sequence_number(user)) for user in user_records] == [
        (das.sequence_number_at(0), None),
        (das.sequence_number_at(1), 0),
        (das.sequence_number_at(1), 1),
    ]
    assert [actions(record) for record in decrypted] == [("CONNECT",), ("FAILED_CONNECT",), ("QUERY_DDL",)]
    assert cache.kms_calls == 1


def test_500_records_under_3_data_keys_make_exactly_3_kms_calls(kms: Any, key_id: str) -> None:
    """GIVEN 500 records spread over 3 data keys WHEN decrypted THEN KMS is called once per data key."""
    data_keys = [das.generate_das_data_key(kms, key_id, PG) for _ in range(3)]
    records = [one_event_record(index) for index in range(500)]
    datas = [
        das.das_record_data(record, data_keys[index % 3], algorithm=das.UNSIGNED_SUITE)
        for index, record in enumerate(records)
    ]
    counting = das.CountingKms(kms)
    cache = DataKeyCache(counting)  # type: ignore[arg-type]
    decryptor = ActivityStreamDecryptor(cache)

    decrypted = [decryptor.decrypt_record(data, PG) for data in datas]

    assert decrypted == records
    assert (cache.kms_calls, counting.decrypt_calls, len(cache)) == (3, 3, 3)


def test_expired_key_is_fetched_again_once(kms: Any, key_id: str) -> None:
    """GIVEN a cached key WHEN the TTL passes THEN exactly one more KMS call, and none before."""
    data = das.das_record_data(
        one_event_record(1), das.generate_das_data_key(kms, key_id, PG), algorithm=das.UNSIGNED_SUITE
    )
    now = [1000.0]
    cache = DataKeyCache(kms, ttl_seconds=300, clock=lambda: now[0])
    decryptor = ActivityStreamDecryptor(cache)
    calls_after: list[int] = []

    for moment in (1000.0, 1299.9, 1300.0, 1400.0, 1600.0):
        now[0] = moment
        decryptor.decrypt_record(data, PG)
        calls_after.append(cache.kms_calls)

    assert calls_after == [1, 1, 2, 2, 3]


def test_least_recently_used_key_is_evicted(kms: Any, key_id: str) -> None:
    """GIVEN a 2-entry cache holding A and B, A used last WHEN C arrives THEN B is evicted, A kept."""
    keys = {name: das.generate_das_data_key(kms, key_id, PG) for name in "ABC"}
    cache = DataKeyCache(kms, max_entries=2)
    calls: list[int] = []

    for name in "ABACAB":
        assert cache.plaintext_key(keys[name].ciphertext, PG) == keys[name].plaintext
        calls.append(cache.kms_calls)

    # A, B fetched; A hit; C fetched (evicts B); A hit; B fetched again (evicts C).
    assert calls == [1, 2, 2, 3, 3, 4]
    assert len(cache) == 2


def test_same_key_blob_under_another_resource_is_a_separate_entry(kms: Any, key_id: str) -> None:
    """GIVEN a cached key WHEN the same blob arrives from another stream THEN KMS decides (and refuses)."""
    data_key = das.generate_das_data_key(kms, key_id, PG)
    cache = DataKeyCache(kms)
    cache.plaintext_key(data_key.ciphertext, PG)

    with pytest.raises(DecryptError) as caught:
        cache.plaintext_key(data_key.ciphertext, das.OTHER_CLUSTER_ID)

    assert caught.value.retryable is False
    assert "InvalidCiphertextException" in caught.value.reason
    assert cache.plaintext_key(data_key.ciphertext, PG) == data_key.plaintext
    assert cache.kms_calls == 2
