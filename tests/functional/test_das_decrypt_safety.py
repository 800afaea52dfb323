"""ActivityStreamDecryptor and DataKeyCache: no key material shown, gzip bombs stopped, settings checked."""

from __future__ import annotations

import gzip
import logging
from typing import Any

import pytest

from parsers.das_decrypt import ActivityStreamDecryptor, DataKeyCache, DecryptError, gunzip_bounded
from tests import das_fixtures as das
from tests.functional.das_decrypt_kms import (  # noqa: F401 - fixtures are used by name
    PG,
    assert_no_key_material,
    fake_aws_credentials_fixture,
    key_id_fixture,
    kms_fixture,
)


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
