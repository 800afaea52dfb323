"""Encrypt decrypted Database Activity Stream records the way RDS does, and tamper with the result.

A record is made from a real KMS data key (moto `generate_data_key` under the resource's encryption
context), a real AWS Encryption SDK message (raw AES-256-GCM master key "BC"/"DataKey" over the data
key, signed or unsigned suite) of gzip'd event JSON and a base64 JSON envelope. Nothing here imports
the code under test: the encryption side is written independently from the AWS docs (FORMATS 4.2) so
round trips prove interoperability.
"""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import aws_encryption_sdk
from aws_encryption_sdk.identifiers import (
    Algorithm,
    CommitmentPolicy,
    EncryptionKeyType,
    WrappingAlgorithm,
)
from aws_encryption_sdk.internal.crypto.wrapping_keys import WrappingKey
from aws_encryption_sdk.key_providers.raw import RawMasterKeyProvider
from botocore.exceptions import ClientError

from tests.das_events import REGION

SIGNED_SUITE = Algorithm.AES_256_GCM_IV12_TAG16_HKDF_SHA384_ECDSA_P384  # ESDK default (non-committing)
UNSIGNED_SUITE = Algorithm.AES_256_GCM_IV12_TAG16_HKDF_SHA256
ENVELOPE_TYPE = "DatabaseActivityMonitoringRecords"


@dataclass(frozen=True)
class DasDataKey:
    """A KMS data key as RDS obtains it: plaintext for encrypting, ciphertext for the envelope."""

    resource_id: str
    plaintext: bytes = field(repr=False)
    ciphertext: bytes = field(repr=False)


class _DasRawKeyProvider(RawMasterKeyProvider):  # type: ignore[misc]
    """The AWS-documented raw master key provider ("BC", "DataKey", AES-256-GCM) — fixture copy."""

    provider_id = "BC"

    def __new__(cls, data_key: bytes) -> _DasRawKeyProvider:
        """Bypass the ESDK config kwargs, as the AWS example does."""
        provider: _DasRawKeyProvider = super().__new__(cls)
        return provider

    def __init__(self, data_key: bytes) -> None:
        """Wrap the data key and register the "DataKey" master key."""
        self._key = WrappingKey(
            wrapping_algorithm=WrappingAlgorithm.AES_256_GCM_IV12_TAG16_NO_PADDING,
            wrapping_key=data_key,
            wrapping_key_type=EncryptionKeyType.SYMMETRIC,
        )
        self.add_master_key("DataKey")

    def _get_raw_key(self, key_id: bytes) -> WrappingKey:
        """The only wrapping key."""
        return self._key


@cache
def _encrypting_client() -> aws_encryption_sdk.EncryptionSDKClient:
    """An ESDK client that still writes non-committing messages (as DAS does)."""
    return aws_encryption_sdk.EncryptionSDKClient(
        commitment_policy=CommitmentPolicy.FORBID_ENCRYPT_ALLOW_DECRYPT
    )


# ---------------------------------------------------------------- KMS


def das_encryption_context(resource_id: str) -> dict[str, str]:
    """The context RDS binds the data key to (written out here, not imported from the code under test)."""
    name = "aws:rds:dbc-id" if resource_id.startswith("cluster-") else "aws:rds:db-id"
    return {name: resource_id}


def create_das_kms_key(kms: Any) -> str:
    """A customer-managed symmetric KMS key, as an activity stream requires; returns its key id."""
    response = kms.create_key(Description="database activity stream key", KeyUsage="ENCRYPT_DECRYPT")
    return str(response["KeyMetadata"]["KeyId"])


def generate_das_data_key(
    kms: Any, key_id: str, resource_id: str, *, context_resource_id: str | None = None
) -> DasDataKey:
    """GenerateDataKey(AES_256) under the resource's context (or another one's, to tamper)."""
    response = kms.generate_data_key(
        KeyId=key_id,
        KeySpec="AES_256",
        EncryptionContext=das_encryption_context(context_resource_id or resource_id),
    )
    return DasDataKey(resource_id, response["Plaintext"], response["CiphertextBlob"])


class CountingKms:
    """A real (moto) KMS client wrapped to count Decrypt calls and fail the next ones on demand."""

    def __init__(self, client: Any) -> None:
        """Wrap `client`; queue exceptions in `queued_failures` to have the next Decrypts raise them."""
        self._client = client
        self.decrypt_calls = 0
        self.queued_failures: list[Exception] = []

    def decrypt(self, **kwargs: Any) -> Any:
        """Count, raise a queued failure if any, else ask the real client."""
        self.decrypt_calls += 1
        if self.queued_failures:
            raise self.queued_failures.pop(0)
        return self._client.decrypt(**kwargs)


def kms_error(code: str, status: int, operation: str = "Decrypt") -> ClientError:
    """A KMS error response as botocore raises it (ThrottlingException/400, KMSInternalException/500 …)."""
    return ClientError(
        {
            "Error": {"Code": code, "Message": "fault injected by test"},
            "ResponseMetadata": {"HTTPStatusCode": status},
        },
        operation,
    )


# ---------------------------------------------------------------- payload and envelope


def gzip_json(document: object) -> bytes:
    """Compact JSON, gzip'd with a fixed mtime (deterministic bytes)."""
    return gzip.compress(json.dumps(document, separators=(",", ":")).encode("utf-8"), mtime=0)


def encrypt_events(plaintext: bytes, data_key: DasDataKey, *, algorithm: Algorithm = SIGNED_SUITE) -> bytes:
    """An Encryption SDK message of `plaintext` under the data key as raw master key."""
    ciphertext, _header = _encrypting_client().encrypt(
        source=plaintext, key_provider=_DasRawKeyProvider(data_key.plaintext), algorithm=algorithm
    )
    return bytes(ciphertext)


def envelope_bytes(
    encrypted_events: bytes,
    encrypted_key: bytes,
    *,
    version: str = "1.1",
    extra_fields: Mapping[str, Any] | None = None,
) -> bytes:
    """The Kinesis record data: `{"type":…,"version":…,"databaseActivityEvents":b64,"key":b64}`."""
    envelope: dict[str, Any] = {
        "type": ENVELOPE_TYPE,
        "version": version,
        "databaseActivityEvents": base64.b64encode(encrypted_events).decode("ascii"),
        "key": base64.b64encode(encrypted_key).decode("ascii"),
    }
    envelope.update(extra_fields or {})
    return json.dumps(envelope).encode("utf-8")


def das_record_data(
    record: Mapping[str, Any],
    data_key: DasDataKey,
    *,
    version: str = "1.1",
    algorithm: Algorithm = SIGNED_SUITE,
) -> bytes:
    """Kinesis data for one decrypted record: gzip → ESDK encrypt → base64 envelope."""
    return encrypted_plaintext_data(gzip_json(record), data_key, version=version, algorithm=algorithm)


def encrypted_plaintext_data(
    plaintext: bytes, data_key: DasDataKey, *, version: str = "1.1", algorithm: Algorithm = SIGNED_SUITE
) -> bytes:
    """Kinesis data whose encrypted payload is exactly `plaintext` (for not-gzip / not-JSON cases)."""
    return envelope_bytes(
        encrypt_events(plaintext, data_key, algorithm=algorithm), data_key.ciphertext, version=version
    )


# ---------------------------------------------------------------- tampering


def _edit_envelope(data: bytes, **changes: Any) -> bytes:
    """Re-serialise an envelope with some top-level fields replaced."""
    envelope = json.loads(data)
    envelope.update(changes)
    return json.dumps(envelope).encode("utf-8")


def _field_bytes(data: bytes, name: str) -> bytes:
    """A base64 envelope field, decoded."""
    return base64.b64decode(json.loads(data)[name])


def flip_events_byte(data: bytes, *, offset: int) -> bytes:
    """Flip one bit of the encrypted payload at `offset` (negative counts from the end)."""
    payload = bytearray(_field_bytes(data, "databaseActivityEvents"))
    payload[offset] ^= 0x01
    return _edit_envelope(data, databaseActivityEvents=base64.b64encode(bytes(payload)).decode("ascii"))


def flip_key_byte(data: bytes, *, offset: int = -5) -> bytes:
    """Flip one bit of the KMS ciphertext of the data key."""
    key = bytearray(_field_bytes(data, "key"))
    key[offset] ^= 0x01
    return _edit_envelope(data, key=base64.b64encode(bytes(key)).decode("ascii"))


def truncate_base64(data: bytes, *, field_name: str = "databaseActivityEvents", chars: int = 1) -> bytes:
    """Cut `chars` characters off a base64 field (1–3 leave invalid base64; 4 a shorter valid one)."""
    text = json.loads(data)[field_name]
    return _edit_envelope(data, **{field_name: text[:-chars]})


def with_version(data: bytes, version: object) -> bytes:
    """The same envelope claiming another version (any JSON value)."""
    return _edit_envelope(data, version=version)


def with_unknown_envelope_fields(data: bytes) -> bytes:
    """The same envelope with fields no documented version has."""
    return _edit_envelope(data, futureField={"nested": [1, 2]}, region=REGION)
