"""Build genuine Database Activity Stream records the way RDS does, for tests at every layer.

A record is made from a real KMS data key (moto `generate_data_key` under the resource's encryption
context), a real AWS Encryption SDK message (raw AES-256-GCM master key "BC"/"DataKey" over the data
key, signed or unsigned suite) of gzip'd event JSON, a base64 JSON envelope and the Lambda Kinesis
event shape, optionally KPL-aggregated. Nothing here imports the code under test: the encryption side
is written independently from the AWS docs (FORMATS 4.2) so round trips prove interoperability.

Events start from the verbatim AWS doc samples (tests/data/samples/das-aurora-*-connect.json).
UNVERIFIED (FORMATS 4.4/4.5): the shape of failed-login events (Aurora PostgreSQL `MISC`/`AUTH FAILURE`
as a 2019 consumer saw it; Aurora MySQL `FAILED_CONNECT` with exitCode "1045") and of heartbeat items.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
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
from aws_kinesis_agg.aggregator import RecordAggregator
from botocore.exceptions import ClientError

SAMPLES = Path(__file__).resolve().parent / "data" / "samples"
REGION = "us-east-1"
ACCOUNT = "123456789012"
# Resource ids from the Aurora PostgreSQL doc sample; the MySQL ones follow the same pattern.
POSTGRES_CLUSTER_ID = "cluster-4HNY5V4RRNPKKYB7ICFKE5JBQQ"
POSTGRES_INSTANCE_ID = "db-FZJTMYKCXQBUUZ6VLU7NW3ITCM"
MYSQL_CLUSTER_ID = "cluster-MYSQLNHVOV4PCLWHGF52NP"
MYSQL_INSTANCE_ID = "db-MYSQLABCD123456EXAMPLE"
OTHER_CLUSTER_ID = "cluster-OTHERCLUSTER0000000000"

SIGNED_SUITE = Algorithm.AES_256_GCM_IV12_TAG16_HKDF_SHA384_ECDSA_P384  # ESDK default (non-committing)
UNSIGNED_SUITE = Algorithm.AES_256_GCM_IV12_TAG16_HKDF_SHA256
ENVELOPE_TYPE = "DatabaseActivityMonitoringRecords"
RECORD_TYPE = "DatabaseActivityMonitoringRecord"
FIRST_SEQUENCE_NUMBER = 49590338271490256608559692538361571095921575989136588898
ARRIVAL_TIMESTAMP = 1714557600.123


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


def activity_record(
    events: Sequence[Mapping[str, Any]], *, cluster_id: str, instance_id: str
) -> dict[str, Any]:
    """The decrypted DatabaseActivityMonitoringRecord holding `events`."""
    return {
        "type": RECORD_TYPE,
        "clusterId": cluster_id,
        "instanceId": instance_id,
        "databaseActivityEventList": [dict(event) for event in events],
    }


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


def with_unknown_event_fields(events: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Events carrying fields no documented version has (AWS: consumers must ignore them)."""
    return [{**event, "futureField": "x", "engineNativeAuditFields": {}} for event in events]


# ---------------------------------------------------------------- events


def _sample_event(name: str) -> dict[str, Any]:
    """The first event of a verbatim AWS doc sample (the PostgreSQL ones nest it in a doc-style envelope)."""
    document = json.loads((SAMPLES / name).read_text(encoding="utf-8"))
    record = document.get("databaseActivityEvents", document)
    return dict(record["databaseActivityEventList"][0])


def _postgres_event(**fields: Any) -> dict[str, Any]:
    """An Aurora PostgreSQL v1.1 event: the doc sample's connect event with `fields` changed."""
    event = _sample_event("das-aurora-postgresql-connect.json")
    event.update(
        startTime="2024-05-01 10:00:00.100000+00",
        logTime="2024-05-01 10:00:00.150000+00",
        dbUserName="app",
        remoteHost="10.0.0.9",
    )
    event.update(fields)
    return event


def aurora_postgresql_events() -> list[dict[str, Any]]:
    """Connect, failed login (MISC / AUTH FAILURE — UNVERIFIED shape), DROP TABLE (DDL)."""
    return [
        _postgres_event(),
        _postgres_event(
            logTime="2024-05-01 10:00:01.000000+00",
            startTime="2024-05-01 10:00:01.000000+00",
            command="AUTH FAILURE",
            dbUserName="admin",
            sessionId="5ce5f7f0.474c",
            pid=18252,
            exitCode="28P01",
            errorMessage='password authentication failed for user "admin"',
        ),
        _postgres_event(
            logTime="2024-05-01 10:00:02.000000+00",
            startTime="2024-05-01 10:00:02.000000+00",
            statementId=2,
            command="DROP TABLE",
            commandText="DROP TABLE orders;",
            objectType="TABLE",
            objectName="public.orders",
            exitCode=0,
            **{"class": "DDL"},
        ),
    ]


AURORA_POSTGRESQL_ACTIONS = ("CONNECT", "FAILED_CONNECT", "QUERY_DDL")


def _mysql_event(**fields: Any) -> dict[str, Any]:
    """An Aurora MySQL v1.2 event: the doc sample's connect event with `fields` changed."""
    event = _sample_event("das-aurora-mysql-connect.json")
    event.update(
        logTime="2024-05-01 10:00:00.267214+00",
        startTime="2024-05-01 10:00:00.267207+00",
        endTime="2024-05-01 10:00:00.267213+00",
        dbUserName="app",
        databaseName="shop",
        remoteHost="10.0.0.9",
    )
    event.update(fields)
    return event


def aurora_mysql_events() -> list[dict[str, Any]]:
    """CONNECT, FAILED_CONNECT (exitCode "1045" — UNVERIFIED field), DROP TABLE as a MAIN + AUX pair."""
    return [
        _mysql_event(),
        _mysql_event(
            logTime="2024-05-01 10:00:01.000000+00",
            command="FAILED_CONNECT",
            dbUserName="admin",
            pid=2831,
            sessionId="725122",
            exitCode="1045",
        ),
        _mysql_event(
            logTime="2024-05-01 10:00:02.250221+00",
            command="QUERY",
            commandText="DROP TABLE orders",
            objectName="orders",
            statementId=65459278,
        ),
        _mysql_event(
            logTime="2024-05-01 10:00:02.247182+00",
            command="DROP",
            commandText="orders",
            objectName="orders",
            statementId=65459278,
            substatementId=2,
            exitCode="",
            **{"class": "AUX"},
        ),
    ]


AURORA_MYSQL_ACTIONS = ("CONNECT", "FAILED_CONNECT", "QUERY", "TABLE")


def heartbeat_events() -> list[dict[str, Any]]:
    """Heartbeat items only (shape UNVERIFIED: the bare type, and one with a few record fields)."""
    return [
        {"type": "heartbeat"},
        {"type": "heartbeat", "logTime": "2024-05-01 10:00:05.000000+00", "serverHost": "master"},
    ]


def postgres_record(events: Sequence[Mapping[str, Any]] | None = None) -> dict[str, Any]:
    """A decrypted Aurora PostgreSQL record (default: aurora_postgresql_events)."""
    chosen = aurora_postgresql_events() if events is None else events
    return activity_record(chosen, cluster_id=POSTGRES_CLUSTER_ID, instance_id=POSTGRES_INSTANCE_ID)


def mysql_record(events: Sequence[Mapping[str, Any]] | None = None) -> dict[str, Any]:
    """A decrypted Aurora MySQL record (default: aurora_mysql_events)."""
    chosen = aurora_mysql_events() if events is None else events
    return activity_record(chosen, cluster_id=MYSQL_CLUSTER_ID, instance_id=MYSQL_INSTANCE_ID)


# ---------------------------------------------------------------- Kinesis


def stream_arn(resource_id: str) -> str:
    """The ARN of the stream RDS creates for a resource: `aws-rds-das-<resource id>`."""
    return f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/aws-rds-das-{resource_id}"


def sequence_number_at(index: int) -> str:
    """A realistic 56-digit Kinesis sequence number, increasing with `index`."""
    return str(FIRST_SEQUENCE_NUMBER + index)


def kinesis_record(
    data: bytes, *, resource_id: str, index: int = 0, partition_key: str = "das-partition-0"
) -> dict[str, Any]:
    """One record of a Lambda Kinesis event, as Lambda delivers it (data base64 text)."""
    sequence = sequence_number_at(index)
    return {
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": partition_key,
            "sequenceNumber": sequence,
            "data": base64.b64encode(data).decode("ascii"),
            "approximateArrivalTimestamp": ARRIVAL_TIMESTAMP + index,
        },
        "eventSource": "aws:kinesis",
        "eventVersion": "1.0",
        "eventID": f"shardId-000000000000:{sequence}",
        "eventName": "aws:kinesis:record",
        "invokeIdentityArn": f"arn:aws:iam::{ACCOUNT}:role/audit-alerts-das",
        "awsRegion": REGION,
        "eventSourceARN": stream_arn(resource_id),
    }


def kinesis_event(records: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """A Lambda Kinesis event."""
    return {"Records": list(records)}


def kpl_aggregate(
    payloads: Sequence[bytes],
    *,
    partition_keys: Sequence[str] | None = None,
    explicit_hash_keys: bool = False,
) -> bytes:
    """KPL-aggregate `payloads` into one record's data with aws-kinesis-agg's RecordAggregator."""
    aggregator = RecordAggregator()
    keys = partition_keys or [f"pk-{index}" for index in range(len(payloads))]
    for index, (payload, key) in enumerate(zip(payloads, keys, strict=True)):
        hash_key = str(2**127 + index) if explicit_hash_keys else None
        if aggregator.add_user_record(key, payload, hash_key) is not None:
            raise ValueError("payloads do not fit one aggregated record")
    aggregated = aggregator.clear_and_get()
    if aggregated is None:
        raise ValueError("nothing to aggregate")
    _partition_key, _hash_key, data = aggregated.get_contents()
    return bytes(data)


def corrupt_kpl_checksum(aggregate: bytes) -> bytes:
    """The aggregate with one bit of its MD5 trailer flipped."""
    return aggregate[:-1] + bytes([aggregate[-1] ^ 0x01])


def kpl_with_valid_checksum(message: bytes) -> bytes:
    """KPL magic + `message` + its correct MD5: for protobuf-level corruption."""
    return b"\xf3\x89\x9a\xc2" + message + hashlib.md5(message, usedforsecurity=False).digest()
