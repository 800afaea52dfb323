"""The demo's Database Activity Stream producer: encrypts records as RDS does and puts them on the stream.

RDS asks KMS for a data key under the encryption context `{"aws:rds:dbc-id": <cluster resource id>}`,
gzips the record's JSON, encrypts it with the AWS Encryption SDK (raw AES-256-GCM master key "BC" /
"DataKey" over the plaintext data key, a non-committing suite) and puts the envelope
`{"type":"DatabaseActivityMonitoringRecords","version":…,"databaseActivityEvents":b64,"key":b64}` on
`aws-rds-das-<resource id>` (FORMATS 4.1–4.2). The decrypting side is the pipeline's own
(parsers/das_decrypt.py); only the master-key provider is shared, as the AWS examples share it.
"""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Mapping
from functools import cache
from typing import TYPE_CHECKING, Any

import aws_encryption_sdk
from aws_encryption_sdk.identifiers import Algorithm, CommitmentPolicy

from parsers.activity_stream import ENVELOPE_TYPE
from parsers.das_decrypt import DataKeyProvider
from parsers.das_envelope import encryption_context

if TYPE_CHECKING:
    from mypy_boto3_kinesis import KinesisClient
    from mypy_boto3_kms import KMSClient

ENVELOPE_VERSION = "1.1"  # Aurora PostgreSQL 10.10+/11.5+
_SUITE = Algorithm.AES_256_GCM_IV12_TAG16_HKDF_SHA384_ECDSA_P384


@cache
def _encrypting_client() -> aws_encryption_sdk.EncryptionSDKClient:
    """An ESDK client that writes non-committing messages, as DAS does."""
    return aws_encryption_sdk.EncryptionSDKClient(
        commitment_policy=CommitmentPolicy.FORBID_ENCRYPT_ALLOW_DECRYPT
    )


def encrypt_record(record: Mapping[str, Any], kms: KMSClient, key_id: str, resource_id: str) -> bytes:
    """The Kinesis record data of one decrypted record: new data key → gzip → ESDK → base64 envelope."""
    data_key = kms.generate_data_key(
        KeyId=key_id, KeySpec="AES_256", EncryptionContext=encryption_context(resource_id)
    )
    payload = gzip.compress(json.dumps(record, separators=(",", ":")).encode("utf-8"))
    ciphertext, _header = _encrypting_client().encrypt(
        source=payload, key_provider=DataKeyProvider(data_key["Plaintext"]), algorithm=_SUITE
    )
    envelope = {
        "type": ENVELOPE_TYPE,
        "version": ENVELOPE_VERSION,
        "databaseActivityEvents": base64.b64encode(bytes(ciphertext)).decode("ascii"),
        "key": base64.b64encode(data_key["CiphertextBlob"]).decode("ascii"),
    }
    return json.dumps(envelope).encode("utf-8")


def put_activity_record(
    kinesis: KinesisClient,
    *,
    stream_name: str,
    record: Mapping[str, Any],
    kms: KMSClient,
    key_id: str,
    resource_id: str,
) -> str:
    """Encrypt one record and put it on the activity stream; its sequence number."""
    data = encrypt_record(record, kms, key_id, resource_id)
    response = kinesis.put_record(StreamName=stream_name, Data=data, PartitionKey=resource_id)
    return response["SequenceNumber"]
