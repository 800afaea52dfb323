"""Decrypt Database Activity Stream records: KMS data key (cached) → Encryption SDK → bounded gunzip → JSON.

Follows the AWS decryption procedure (FORMATS 4.2): KMS Decrypt of the envelope `key` under the
resource's encryption context, then an AWS Encryption SDK message decrypted with that AES-256 key as a
raw master key (provider "BC", key "DataKey"), then gzip. Every public consumer calls KMS once per
record; the data key is reused across many records, so it is cached here (in memory only).
"""

from __future__ import annotations

import json
import logging
import struct
import time
import zlib
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import aws_encryption_sdk
from aws_encryption_sdk.exceptions import AWSEncryptionSDKClientError
from aws_encryption_sdk.identifiers import CommitmentPolicy, EncryptionKeyType, WrappingAlgorithm
from aws_encryption_sdk.internal.crypto.wrapping_keys import WrappingKey
from aws_encryption_sdk.key_providers.raw import RawMasterKeyProvider
from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotocoreConnectionError
from cryptography.exceptions import InvalidSignature, InvalidTag

from parsers.cloudwatch_logs import json_type_name
from parsers.das_envelope import DasEnvelope, EnvelopeError, encryption_context, parse_envelope
from parsers.das_errors import DecryptError
from parsers.das_materials import NativePointMaterialsManager

__all__ = ["ActivityStreamDecryptor", "DataKeyCache", "DataKeyProvider", "DecryptError", "gunzip_bounded"]

if TYPE_CHECKING:
    from mypy_boto3_kms import KMSClient

PROVIDER_ID = "BC"
MASTER_KEY_ID = "DataKey"
DATA_KEY_BYTES = 32  # AES-256
# Far above a real record (a Kinesis record is at most 1 MiB, gzip'd JSON rarely inflates 20x);
# guards against decompression bombs.
MAX_DECOMPRESSED_BYTES = 64 * 1024 * 1024

# KMS error codes worth retrying (the record goes back to Kinesis): throttling and service-side trouble.
_RETRYABLE_KMS_CODES = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "KMSInternalException",
        "InternalFailure",
        "ServiceUnavailable",
        "DependencyTimeoutException",
        "KeyUnavailableException",
        "RequestTimeout",
        "RequestTimeoutException",
    }
)
_KMS_CODE_MEANINGS = {
    "InvalidCiphertextException": "wrong encryption context for this resource, or a tampered data key",
    "AccessDeniedException": "this role may not kms:Decrypt with the stream's key",
    "DisabledException": "the stream's KMS key is disabled",
    "KMSInvalidStateException": "the stream's KMS key is pending deletion or otherwise unusable",
    "NotFoundException": "the stream's KMS key does not exist",
    "IncorrectKeyException": "the data key was encrypted under another KMS key",
}
# What the Encryption SDK raises on a tampered, truncated or foreign message (observed by fuzzing 4.0.7:
# its own errors, cryptography's tag/signature failures, and UnicodeDecodeError from header fields).
_ESDK_FAILURES = (AWSEncryptionSDKClientError, InvalidTag, InvalidSignature, ValueError, struct.error)
_GZIP_MAGIC = b"\x1f\x8b"
_ESDK_STREAM_LOGGER = "aws_encryption_sdk.streaming_client"


class DataKeyProvider(RawMasterKeyProvider):  # type: ignore[misc]  # the ESDK ships no type hints
    """The raw AES-256-GCM master key provider the AWS DAS examples use, over one plaintext data key."""

    provider_id = PROVIDER_ID

    def __new__(cls, data_key: bytes) -> DataKeyProvider:
        """Create without passing the key to the ESDK's config machinery (as the AWS example does)."""
        provider: DataKeyProvider = super().__new__(cls)
        return provider

    def __init__(self, data_key: bytes) -> None:
        """Wrap the plaintext data key and register the one master key DAS messages name."""
        self._wrapping_key = WrappingKey(
            wrapping_algorithm=WrappingAlgorithm.AES_256_GCM_IV12_TAG16_NO_PADDING,
            wrapping_key=data_key,
            wrapping_key_type=EncryptionKeyType.SYMMETRIC,
        )
        self.add_master_key(MASTER_KEY_ID)

    def _get_raw_key(self, key_id: bytes) -> WrappingKey:
        """The ESDK asks for the wrapping key by id; there is only one."""
        return self._wrapping_key

    def __repr__(self) -> str:
        """Name the provider, never the key."""
        return f"DataKeyProvider(provider_id={PROVIDER_ID!r}, key_id={MASTER_KEY_ID!r})"


@dataclass(frozen=True, slots=True)
class _CachedDataKey:
    """A decrypted data key with its ESDK provider and expiry (monotonic seconds); key never in repr."""

    plaintext: bytes = field(repr=False)
    provider: DataKeyProvider = field(repr=False)
    expires_at: float


class DataKeyCache:
    """In-process LRU+TTL cache of KMS-decrypted DAS data keys, keyed by (encrypted key, resource id).

    Plaintext keys live only in this object's memory: never logged, persisted or shown by repr/str.
    """

    def __init__(
        self,
        kms_client: KMSClient,
        *,
        ttl_seconds: float = 300,
        max_entries: int = 1000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Cache keys from `kms_client` for `ttl_seconds`, keeping at most `max_entries` (LRU)."""
        if ttl_seconds <= 0:
            raise ValueError("ttl_seconds must be positive")
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self._kms = kms_client
        self._ttl_seconds = ttl_seconds
        self._max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[tuple[bytes, str], _CachedDataKey] = OrderedDict()
        self.kms_calls = 0  # KMS Decrypt requests made, failed ones included

    def plaintext_key(self, encrypted_key: bytes, resource_id: str) -> bytes:
        """The AES-256 data key for this record, from the cache or one KMS Decrypt."""
        return self._entry(encrypted_key, resource_id).plaintext

    def key_provider(self, encrypted_key: bytes, resource_id: str) -> DataKeyProvider:
        """The ESDK master key provider over the data key, cached alongside it."""
        return self._entry(encrypted_key, resource_id).provider

    def clear(self) -> None:
        """Forget every cached key."""
        self._entries.clear()

    def __len__(self) -> int:
        """How many keys are cached (expired ones included until touched or evicted)."""
        return len(self._entries)

    def __repr__(self) -> str:
        """Sizes and counters only."""
        return (
            f"DataKeyCache(entries={len(self._entries)}, max_entries={self._max_entries}, "
            f"ttl_seconds={self._ttl_seconds}, kms_calls={self.kms_calls})"
        )

    def _entry(self, encrypted_key: bytes, resource_id: str) -> _CachedDataKey:
        """Look up a live entry (refreshing its LRU position) or fetch, cache and evict."""
        cache_key = (bytes(encrypted_key), resource_id)
        now = self._clock()
        entry = self._entries.get(cache_key)
        if entry is not None:
            if now < entry.expires_at:
                self._entries.move_to_end(cache_key)
                return entry
            del self._entries[cache_key]
        plaintext = self._decrypt_data_key(cache_key[0], resource_id)
        entry = _CachedDataKey(plaintext, DataKeyProvider(plaintext), now + self._ttl_seconds)
        self._entries[cache_key] = entry
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)
        return entry

    def _decrypt_data_key(self, encrypted_key: bytes, resource_id: str) -> bytes:
        """One KMS Decrypt under the resource's encryption context, failures mapped to DecryptError."""
        try:
            context = encryption_context(resource_id)
        except EnvelopeError as exc:
            raise DecryptError(str(exc), retryable=False) from exc
        self.kms_calls += 1
        try:
            response = self._kms.decrypt(CiphertextBlob=encrypted_key, EncryptionContext=context)
        except ClientError as exc:
            raise _kms_client_failure(exc, resource_id) from exc
        except (HTTPClientError, BotocoreConnectionError) as exc:
            raise DecryptError(
                f"KMS Decrypt for {resource_id} did not complete ({type(exc).__name__})", retryable=True
            ) from exc
        except BotoCoreError as exc:
            raise DecryptError(
                f"KMS Decrypt for {resource_id} could not be sent ({type(exc).__name__})", retryable=False
            ) from exc
        plaintext = response.get("Plaintext")
        if not isinstance(plaintext, bytes) or len(plaintext) != DATA_KEY_BYTES:
            size = len(plaintext) if isinstance(plaintext, bytes) else 0
            raise DecryptError(
                f"KMS returned a {size}-byte data key for {resource_id}; DAS uses AES-256 ({DATA_KEY_BYTES})",
                retryable=False,
            )
        return plaintext


class ActivityStreamDecryptor:
    """Turn one Kinesis record's bytes into the decrypted DatabaseActivityMonitoringRecord dict."""

    def __init__(
        self, key_cache: DataKeyCache, *, max_decompressed_bytes: int = MAX_DECOMPRESSED_BYTES
    ) -> None:
        """Decrypt with keys from `key_cache`; one Encryption SDK client serves every record."""
        self._key_cache = key_cache
        self._max_decompressed_bytes = max_decompressed_bytes
        # DAS messages use a non-committing suite; FORBID_ENCRYPT_ALLOW_DECRYPT reads both kinds.
        self._client = aws_encryption_sdk.EncryptionSDKClient(
            commitment_policy=CommitmentPolicy.FORBID_ENCRYPT_ALLOW_DECRYPT
        )
        _drop_esdk_close_noise()

    def decrypt_record(self, data: bytes, resource_id: str) -> dict[str, object]:
        """Envelope → KMS data key (cached) → ESDK decrypt → gunzip → JSON object, or DecryptError."""
        try:
            envelope = parse_envelope(data)
        except EnvelopeError as exc:
            raise DecryptError(str(exc), retryable=False) from exc
        return self.decrypt_envelope(envelope, resource_id)

    def decrypt_envelope(self, envelope: DasEnvelope, resource_id: str) -> dict[str, object]:
        """Decrypt an already parsed envelope (see decrypt_record)."""
        provider = self._key_cache.key_provider(envelope.encrypted_key, resource_id)
        try:
            compressed, _header = self._client.decrypt(
                source=envelope.encrypted_events,
                materials_manager=NativePointMaterialsManager(master_key_provider=provider),
            )
        except _ESDK_FAILURES as exc:
            raise DecryptError(
                f"Encryption SDK rejected the activity events of {resource_id} "
                f"({type(exc).__name__}: tampered, truncated or not encrypted with this record's key)",
                retryable=False,
            ) from exc
        return decode_activity_json(gunzip_bounded(compressed, self._max_decompressed_bytes))


def gunzip_bounded(data: bytes, max_bytes: int = MAX_DECOMPRESSED_BYTES) -> bytes:
    """Inflate gzip (one or more members) without ever producing more than `max_bytes`."""
    if not data.startswith(_GZIP_MAGIC):
        raise DecryptError("decrypted activity events are not gzip (no 1f 8b header)", retryable=False)
    output = bytearray()
    remaining = data
    while remaining:
        inflater = zlib.decompressobj(zlib.MAX_WBITS | 16)
        try:
            # One byte over the budget is enough to know the budget is exceeded.
            output += inflater.decompress(remaining, max_bytes - len(output) + 1)
        except zlib.error as exc:
            raise DecryptError("decrypted activity events are corrupt gzip", retryable=False) from exc
        if len(output) > max_bytes:
            raise DecryptError(
                f"decrypted activity events inflate beyond {max_bytes} bytes (gzip bomb?)", retryable=False
            )
        if not inflater.eof:
            raise DecryptError("decrypted activity events end inside the gzip stream", retryable=False)
        remaining = inflater.unused_data
        if remaining and not remaining.startswith(_GZIP_MAGIC):
            raise DecryptError(
                "decrypted activity events have trailing bytes after the gzip", retryable=False
            )
    return bytes(output)


def decode_activity_json(document: bytes) -> dict[str, object]:
    """The inflated bytes as a JSON object (UTF-8), or a non-retryable DecryptError."""
    try:
        decoded = json.loads(document)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise DecryptError("decrypted activity events are not JSON", retryable=False) from exc
    if not isinstance(decoded, dict):
        raise DecryptError(
            f"decrypted activity events are a JSON {json_type_name(decoded)}, not an object", retryable=False
        )
    return decoded


def _kms_client_failure(exc: ClientError, resource_id: str) -> DecryptError:
    """Map a KMS error response to a DecryptError: throttling and 5xx retryable, the rest not."""
    error = exc.response.get("Error", {})
    code = str(error.get("Code", "")) or "UnknownError"
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    retryable = code in _RETRYABLE_KMS_CODES or (isinstance(status, int) and status >= 500)
    meaning = _KMS_CODE_MEANINGS.get(code, "retry later" if retryable else "not retryable")
    return DecryptError(
        f"KMS Decrypt of the data key for {resource_id} failed: {code} (HTTP {status}; {meaning})",
        retryable=retryable,
    )


class _EsdkCloseNoiseFilter(logging.Filter):
    """Drop the ESDK's 'Error on closing' traceback: the failure it repeats is already a DecryptError."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Keep every record but that one."""
        return record.msg != "Error on closing"


def _drop_esdk_close_noise() -> None:
    """Install the filter once: EncryptionSDKClient.decrypt logs a full traceback per bad message."""
    logger = logging.getLogger(_ESDK_STREAM_LOGGER)
    if not any(isinstance(existing, _EsdkCloseNoiseFilter) for existing in logger.filters):
        logger.addFilter(_EsdkCloseNoiseFilter())
