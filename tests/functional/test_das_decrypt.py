"""ActivityStreamDecryptor and DataKeyCache on genuine DAS records under a moto KMS key, and KMS faults."""

from __future__ import annotations

import base64
import gzip
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from botocore.exceptions import EndpointConnectionError, NoCredentialsError, ReadTimeoutError
from moto import mock_aws

from parsers.activity_stream import parse_activity_stream_record
from parsers.das_decrypt import ActivityStreamDecryptor, DataKeyCache, DecryptError, gunzip_bounded
from parsers.das_envelope import resource_id_from_stream_arn
from parsers.event import AuditEvent
from parsers.kinesis_records import deaggregate, record_data, sequence_number, sub_sequence_number
from tests import das_fixtures as das

REGION = das.REGION
PG = das.POSTGRES_CLUSTER_ID


@pytest.fixture(autouse=True)
def fake_aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials and region, so no test can reach or sign for a real account."""
    for name, value in {
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@pytest.fixture
def kms() -> Iterator[Any]:
    """A moto KMS client (the mock is active for the whole test)."""
    with mock_aws():
        yield boto3.client("kms", region_name=REGION)


@pytest.fixture
def key_id(kms: Any) -> str:
    """The activity stream's customer-managed KMS key."""
    return das.create_das_kms_key(kms)


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


BadRecord = tuple[bytes, str, das.DasDataKey]  # Kinesis data, stream resource id, the data key
BadRecordBuilder = Callable[[Any, str], BadRecord]


def _keyed(make_data: Callable[[das.DasDataKey], bytes]) -> BadRecordBuilder:
    """A bad-record builder over a fresh data key for the Aurora PostgreSQL cluster."""

    def build(kms: Any, key_id: str) -> BadRecord:
        """Generate the data key, then the record."""
        data_key = das.generate_das_data_key(kms, key_id, PG)
        return make_data(data_key), PG, data_key

    return build


def _wrong_context(kms: Any, key_id: str) -> BadRecord:
    """A data key bound to another cluster's context, delivered on this cluster's stream."""
    data_key = das.generate_das_data_key(kms, key_id, PG, context_resource_id=das.OTHER_CLUSTER_ID)
    return das.das_record_data(das.postgres_record(), data_key), PG, data_key


def _good(data_key: das.DasDataKey) -> bytes:
    """A valid signed record."""
    return das.das_record_data(das.postgres_record(), data_key)


def _plaintext(content: bytes) -> BadRecordBuilder:
    """A record whose encrypted payload is exactly `content` (unsigned suite)."""
    return _keyed(lambda data_key: das.encrypted_plaintext_data(content, data_key, algorithm=UNSIGNED))


ESDK = f"Encryption SDK rejected the activity events of {PG}"
KMS_REFUSED = f"KMS Decrypt of the data key for {PG} failed: InvalidCiphertextException"
EVENTS_B64 = "envelope databaseActivityEvents is not valid base64 (length"
BAD_RECORDS = {
    "wrong-context": (_wrong_context, f"{KMS_REFUSED} (HTTP 400; wrong encryption context"),
    "tampered-key": (_keyed(lambda k: das.flip_key_byte(_good(k))), KMS_REFUSED),
    "tampered-signature": (
        _keyed(lambda k: das.flip_events_byte(_good(k), offset=-20)),
        f"{ESDK} (InvalidSignature:",
    ),
    "tampered-body": (_keyed(lambda k: das.flip_events_byte(_good(k), offset=-200)), f"{ESDK} (InvalidTag:"),
    "tampered-header": (
        _keyed(lambda k: das.flip_events_byte(_good(k), offset=5)),
        f"{ESDK} (SerializationError:",
    ),
    "truncated-base64": (_keyed(lambda k: das.truncate_base64(_good(k))), EVENTS_B64),
    "truncated-message": (
        _keyed(lambda k: das.truncate_base64(_good(k), chars=8)),
        f"{ESDK} (SerializationError:",
    ),
    "truncated-key": (
        _keyed(lambda k: das.truncate_base64(_good(k), field_name="key", chars=2)),
        "envelope key is not valid base64",
    ),
    "version-0.9": (
        _keyed(lambda k: das.with_version(_good(k), "0.9")),
        "envelope version '0.9' predates the documented 1.0",
    ),
    "corrupt-gzip": (
        _plaintext(b"\x1f\x8b\x08\x00corrupt-gzip-body"),
        "decrypted activity events are corrupt gzip",
    ),
    "truncated-gzip": (
        _plaintext(das.gzip_json({"a": 1})[:-12]),
        "decrypted activity events end inside the gzip stream",
    ),
    "not-gzip": (
        _plaintext(b'{"type":"DatabaseActivityMonitoringRecord"}'),
        "decrypted activity events are not gzip (no 1f 8b header)",
    ),
    "non-json": (
        _plaintext(gzip.compress(b"DROP TABLE secret_orders")),
        "decrypted activity events are not JSON",
    ),
    "non-utf8": (_plaintext(gzip.compress(b"\xff\xfe\x00garbage")), "decrypted activity events are not JSON"),
    "json-array": (
        _plaintext(das.gzip_json([1, 2])),
        "decrypted activity events are a JSON array, not an object",
    ),
    "trailing-bytes": (
        _plaintext(das.gzip_json({}) + b"trailing"),
        "decrypted activity events have trailing bytes after the gzip",
    ),
}


@pytest.mark.parametrize(("build", "reason"), BAD_RECORDS.values(), ids=BAD_RECORDS.keys())
def test_bad_records_fail_without_retry_and_without_secrets(
    kms: Any, key_id: str, build: BadRecordBuilder, reason: str
) -> None:
    """GIVEN a tampered or malformed record WHEN decrypted THEN a non-retryable DecryptError, no secrets."""
    data, resource_id, data_key = build(kms, key_id)

    with pytest.raises(DecryptError) as caught:
        ActivityStreamDecryptor(DataKeyCache(kms)).decrypt_record(data, resource_id)

    assert caught.value.retryable is False
    assert str(caught.value).startswith(reason)
    assert_no_key_material(data_key.plaintext, str(caught.value), repr(caught.value))
    assert "secret_orders" not in str(caught.value)


def test_resource_id_that_is_not_an_rds_id_fails_before_kms(kms: Any, key_id: str) -> None:
    """GIVEN a cluster *name* instead of its resource id WHEN decrypting THEN refused without a KMS call."""
    cache = DataKeyCache(kms)
    data = das.das_record_data(das.postgres_record(), das.generate_das_data_key(kms, key_id, PG))

    with pytest.raises(
        DecryptError, match=r"^resource id 'my-aurora' is neither cluster-… nor db-…$"
    ) as caught:
        ActivityStreamDecryptor(cache).decrypt_record(data, "my-aurora")

    assert (caught.value.retryable, cache.kms_calls) == (False, 0)


def test_aes_128_data_key_is_refused(kms: Any, key_id: str) -> None:
    """GIVEN a key blob KMS decrypts to 16 bytes WHEN used THEN refused: DAS data keys are AES-256."""
    blob = kms.generate_data_key(KeyId=key_id, KeySpec="AES_128", EncryptionContext={"aws:rds:dbc-id": PG})[
        "CiphertextBlob"
    ]

    with pytest.raises(DecryptError) as caught:
        DataKeyCache(kms).plaintext_key(blob, PG)

    assert (caught.value.reason, caught.value.retryable) == (
        f"KMS returned a 16-byte data key for {PG}; DAS uses AES-256 (32)",
        False,
    )


KMS_URL = "https://kms.us-east-1.amazonaws.com"
KMS_FAULTS = {
    "throttled": (
        das.kms_error("ThrottlingException", 400),
        True,
        "ThrottlingException (HTTP 400; retry later)",
    ),
    "kms-internal": (
        das.kms_error("KMSInternalException", 500),
        True,
        "KMSInternalException (HTTP 500; retry later)",
    ),
    "any-5xx": (
        das.kms_error("ServiceUnavailableException", 503),
        True,
        "ServiceUnavailableException (HTTP 503;",
    ),
    "key-unavailable": (
        das.kms_error("KeyUnavailableException", 500),
        True,
        "KeyUnavailableException (HTTP 500;",
    ),
    "no-connection": (
        EndpointConnectionError(endpoint_url=KMS_URL),
        True,
        "not complete (EndpointConnectionError)",
    ),
    "read-timeout": (ReadTimeoutError(endpoint_url=KMS_URL), True, "did not complete (ReadTimeoutError)"),
    "access-denied": (
        das.kms_error("AccessDeniedException", 400),
        False,
        "(HTTP 400; this role may not kms:Decrypt",
    ),
    "key-disabled": (
        das.kms_error("DisabledException", 400),
        False,
        "(HTTP 400; the stream's KMS key is disabled)",
    ),
    "pending-deletion": (
        das.kms_error("KMSInvalidStateException", 400),
        False,
        "KMS key is pending deletion",
    ),
    "no-credentials": (NoCredentialsError(), False, "could not be sent (NoCredentialsError)"),
}


@pytest.mark.parametrize(("fault", "retryable", "reason"), KMS_FAULTS.values(), ids=KMS_FAULTS.keys())
def test_kms_faults_map_to_retryable_or_not_and_are_not_cached(
    kms: Any, key_id: str, fault: Exception, retryable: bool, reason: str
) -> None:
    """GIVEN KMS failing once WHEN decrypting THEN DecryptError(retryable?) and a later retry succeeds."""
    record = das.postgres_record()
    data_key = das.generate_das_data_key(kms, key_id, PG)
    data = das.das_record_data(record, data_key, algorithm=das.UNSIGNED_SUITE)
    faulty = das.CountingKms(kms)
    faulty.queued_failures.append(fault)
    cache = DataKeyCache(faulty)  # type: ignore[arg-type]
    decryptor = ActivityStreamDecryptor(cache)

    with pytest.raises(DecryptError) as caught:
        decryptor.decrypt_record(data, PG)

    assert caught.value.retryable is retryable
    assert reason in caught.value.reason
    assert_no_key_material(data_key.plaintext, str(caught.value), repr(caught.value))
    assert decryptor.decrypt_record(data, PG) == record
    assert (cache.kms_calls, faulty.decrypt_calls) == (2, 2)


def test_plaintext_key_never_shows_in_repr_str_or_logs(
    kms: Any, key_id: str, caplog: pytest.LogCaptureFixture
) -> None:
    """GIVEN keys cached after good and bad records WHEN the cache is shown or logs read THEN no key material.

    botocore itself logs KMS response bodies (the plaintext key included) at DEBUG on `botocore.parsers`;
    that logger is the operator's to keep above DEBUG, so it is left out here.
    """
    data_key = das.generate_das_data_key(kms, key_id, PG)
    cache = DataKeyCache(kms)
    decryptor = ActivityStreamDecryptor(cache)
    good = das.das_record_data(das.postgres_record(), data_key)

    with caplog.at_level(logging.DEBUG):
        decryptor.decrypt_record(good, PG)
        with pytest.raises(DecryptError):
            decryptor.decrypt_record(das.flip_events_byte(good, offset=-200), PG)
    provider = cache.key_provider(data_key.ciphertext, PG)

    logs = [record.getMessage() for record in caplog.records if record.name != "botocore.parsers"]
    shown = [repr(cache), str(cache), repr(vars(cache)), repr(provider), str(provider), *logs]
    assert_no_key_material(data_key.plaintext, *shown)
    assert repr(cache) == "DataKeyCache(entries=1, max_entries=1000, ttl_seconds=300, kms_calls=1)"
    assert repr(provider) == "DataKeyProvider(provider_id='BC', key_id='DataKey')"


def test_esdk_close_traceback_is_not_logged(kms: Any, key_id: str, caplog: pytest.LogCaptureFixture) -> None:
    """GIVEN a tampered record WHEN decryption fails THEN the ESDK's duplicate close traceback is dropped."""
    data = das.flip_events_byte(
        das.das_record_data(das.postgres_record(), das.generate_das_data_key(kms, key_id, PG)), offset=-200
    )

    with caplog.at_level(logging.WARNING), pytest.raises(DecryptError):
        ActivityStreamDecryptor(DataKeyCache(kms)).decrypt_record(data, PG)

    assert [record.getMessage() for record in caplog.records] == []


def test_gzip_bomb_is_stopped_at_the_default_64_mib(kms: Any, key_id: str) -> None:
    """GIVEN a record inflating to 64 MiB + 1 byte WHEN decrypted THEN refused before holding more."""
    bomb = gzip.compress(bytes(64 * 1024 * 1024 + 1), compresslevel=9, mtime=0)
    data = das.encrypted_plaintext_data(
        bomb, das.generate_das_data_key(kms, key_id, PG), algorithm=das.UNSIGNED_SUITE
    )

    with pytest.raises(DecryptError) as caught:
        ActivityStreamDecryptor(DataKeyCache(kms)).decrypt_record(data, PG)

    assert (caught.value.reason, caught.value.retryable) == (
        "decrypted activity events inflate beyond 67108864 bytes (gzip bomb?)",
        False,
    )


@pytest.mark.parametrize(
    ("compressed", "limit", "expected"),
    [
        pytest.param(gzip.compress(b"x" * 100), 100, b"x" * 100, id="exactly-at-limit"),
        pytest.param(gzip.compress(b'{"a":') + gzip.compress(b"1}"), 100, b'{"a":1}', id="multi-member"),
    ],
)
def test_gunzip_bounded_reads_up_to_the_limit(compressed: bytes, limit: int, expected: bytes) -> None:
    """GIVEN gzip within the limit (one or several members) WHEN inflated THEN the whole content."""
    assert gunzip_bounded(compressed, limit) == expected


def test_gunzip_bounded_refuses_one_byte_over() -> None:
    """GIVEN gzip inflating to limit + 1 WHEN inflated THEN refused."""
    with pytest.raises(
        DecryptError, match=r"^decrypted activity events inflate beyond 100 bytes \(gzip bomb\?\)$"
    ):
        gunzip_bounded(gzip.compress(b"x" * 101), 100)


def test_cache_settings_are_validated(kms: Any) -> None:
    """GIVEN a non-positive TTL or size WHEN building the cache THEN ValueError."""
    with pytest.raises(ValueError, match="ttl_seconds must be positive"):
        DataKeyCache(kms, ttl_seconds=0)
    with pytest.raises(ValueError, match="max_entries must be at least 1"):
        DataKeyCache(kms, max_entries=0)


def assert_no_key_material(key: bytes, *texts: str) -> None:
    """No text holds the key as repr, hex (either case) or base64."""
    forms = [repr(key), key.hex(), key.hex().upper(), base64.b64encode(key).decode("ascii"), str(key)]
    for text in texts:
        for form in forms:
            assert form not in text
