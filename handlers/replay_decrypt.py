"""Decryption of encrypted activity-stream records for replay, with the caller's AWS credentials."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from functools import cached_property
from typing import TYPE_CHECKING

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError

from parsers.activity_stream import SOURCE_SLUG, parse_activity_stream_record
from parsers.das_decrypt import ActivityStreamDecryptor, DataKeyCache, DecryptError
from parsers.das_envelope import EnvelopeError, parse_envelope
from parsers.event import ParseFailure, ParseResult
from parsers.json_documents import EncryptedActivityBatch

if TYPE_CHECKING:
    from mypy_boto3_kms import KMSClient

RESOURCE_ID_OPTION = "--resource-id"
# The client's own retries run first; what still fails becomes a counted parse failure.
KMS_CLIENT_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 3}, connect_timeout=5, read_timeout=20
)


class ReplayDecryptError(Exception):
    """Encrypted records cannot be decrypted at all (no resource id, no usable KMS client)."""


class ReplayDecryptor:
    """Turns encrypted activity-stream batches into parse results; KMS is asked once per data key."""

    def __init__(
        self,
        *,
        endpoint_url: str | None = None,
        resource_id: str | None = None,
        session: boto3.Session | None = None,
    ) -> None:
        """Decrypt through KMS at `endpoint_url` (None: the default), for records naming no resource."""
        self.endpoint_url = endpoint_url
        self.resource_id = resource_id
        self._session = session
        # Data keys KMS failed to decrypt retryably (after the client's retries) → the reason.
        self._unavailable_keys: dict[tuple[bytes, str], str] = {}

    @cached_property
    def kms(self) -> KMSClient:
        """The KMS client, created on the first encrypted record (the boto3 default session)."""
        # At DEBUG botocore.parsers logs response bodies, and KMS Decrypt's holds the plaintext data key.
        body_logger = logging.getLogger("botocore.parsers")
        if body_logger.getEffectiveLevel() < logging.INFO:
            body_logger.setLevel(logging.INFO)
        try:
            client: KMSClient = (self._session or boto3.Session()).client(
                "kms", endpoint_url=self.endpoint_url, config=KMS_CLIENT_CONFIG
            )
        except (BotoCoreError, ValueError) as exc:  # NoRegionError; a malformed endpoint URL
            raise ReplayDecryptError(
                f"cannot create a KMS client to decrypt activity-stream records: {exc} "
                "(set AWS_REGION or AWS_DEFAULT_REGION, or configure a profile)"
            ) from exc
        return client

    @cached_property
    def decryptor(self) -> ActivityStreamDecryptor:
        """The decryptor with its data-key cache (same as the Lambda function's)."""
        return ActivityStreamDecryptor(DataKeyCache(self.kms))

    def parse(self, batch: EncryptedActivityBatch) -> Iterator[ParseResult]:
        """Decrypt and parse one record; a record that cannot be decrypted is one counted ParseFailure."""
        resource_id = batch.resource_id or self.resource_id
        if resource_id is None:
            raise ReplayDecryptError(
                f"{batch.location}: encrypted activity-stream record without an eventSourceARN naming its "
                f"stream; pass {RESOURCE_ID_OPTION} cluster-… (or db-…): the resource id its data key is "
                "bound to"
            )
        try:
            envelope = parse_envelope(batch.data)
        except EnvelopeError as exc:
            yield self._failure(f"not decrypted: {exc}", batch)
            return
        data_key = (envelope.encrypted_key, resource_id)
        if data_key in self._unavailable_keys:
            yield self._failure(self._unavailable_keys[data_key], batch)
            return
        try:
            document = self.decryptor.decrypt_envelope(envelope, resource_id)
        except DecryptError as exc:
            reason = f"not decrypted: {exc}" + (" (retryable: replay again later)" if exc.retryable else "")
            if exc.retryable:  # only the KMS step fails retryably: spare a throttled KMS the other records
                self._unavailable_keys[data_key] = reason
            yield self._failure(reason, batch)
            return
        yield from parse_activity_stream_record(document, batch.location)

    @staticmethod
    def _failure(reason: str, batch: EncryptedActivityBatch) -> ParseFailure:
        """The parse failure of an undecryptable record, keeping the envelope text for --rejects."""
        raw = batch.data.decode("utf-8", errors="replace")
        return ParseFailure(source=SOURCE_SLUG, reason=reason, raw=raw, location=batch.location)
