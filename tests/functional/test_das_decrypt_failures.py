"""ActivityStreamDecryptor on tampered and malformed DAS records, and on KMS faults."""

from __future__ import annotations

import gzip
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import EndpointConnectionError, NoCredentialsError, ReadTimeoutError

from parsers.das_decrypt import ActivityStreamDecryptor, DataKeyCache, DecryptError
from tests import das_fixtures as das
from tests.functional.das_decrypt_kms import (  # noqa: F401 - fixtures are used by name
    PG,
    assert_no_key_material,
    fake_aws_credentials_fixture,
    key_id_fixture,
    kms_fixture,
)

UNSIGNED = das.UNSIGNED_SUITE
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
