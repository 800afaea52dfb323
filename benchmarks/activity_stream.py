"""Activity Stream path: decrypt + parse + detect through the handler vs ESDK decrypt + gunzip + json.

Records are built as RDS builds them (written here from FORMATS 4.2, independently of the code under
test): a moto KMS data key per resource under its encryption context, an Encryption SDK message of
the gzip'd record under that key as raw master key ("BC"/"DataKey"), and the base64 JSON envelope.
"""

from __future__ import annotations

import base64
import gzip
import json
import os
from dataclasses import dataclass
from typing import Any

import aws_encryption_sdk
import boto3
from aws_encryption_sdk.identifiers import CommitmentPolicy, EncryptionKeyType, WrappingAlgorithm
from aws_encryption_sdk.internal.crypto.wrapping_keys import WrappingKey
from aws_encryption_sdk.key_providers.raw import RawMasterKeyProvider
from moto import mock_aws

from benchmarks.quiet import clear_handler_env, count_api_calls, quiet_handlers
from benchmarks.workloads import ACCOUNT, CPU, BenchContext, bench_time, best_of

REGION = "us-east-1"


class _DataKey(RawMasterKeyProvider):  # type: ignore[misc]  # the ESDK ships no type hints
    """The raw master key RDS encrypts activity records with."""

    provider_id = "BC"

    def __new__(cls, data_key: bytes) -> _DataKey:
        """Bypass the ESDK config kwargs, as the AWS example does."""
        provider: _DataKey = super().__new__(cls)
        return provider

    def __init__(self, data_key: bytes) -> None:
        """Wrap the plaintext data key as AES-256-GCM master key "DataKey"."""
        self._key = WrappingKey(
            wrapping_algorithm=WrappingAlgorithm.AES_256_GCM_IV12_TAG16_NO_PADDING,
            wrapping_key=data_key,
            wrapping_key_type=EncryptionKeyType.SYMMETRIC,
        )
        self.add_master_key("DataKey")

    def _get_raw_key(self, key_id: bytes) -> WrappingKey:
        """The only wrapping key."""
        return self._key


@dataclass(frozen=True, slots=True)
class ActivityFigures:
    """Events per second through the handler and the decrypt floor, and KMS calls made."""

    events_per_s: float
    floor_events_per_s: float
    kms_calls: int
    records: int
    distinct_data_keys: int

    @property
    def ratio(self) -> float:
        """The handler's rate as a fraction of the floor's."""
        return self.events_per_s / self.floor_events_per_s


def activity_record(resource: str, n: int, events: int) -> dict[str, Any]:
    """A decrypted Aurora MySQL activity record: connects, queries and an occasional failed login."""
    listed = []
    for i in range(events):
        k = n * events + i
        failed = k % 25 == 0
        listed.append(
            {
                "logTime": bench_time(k),
                "type": "record",
                "dbUserName": "app",
                "databaseName": "shop",
                "remoteHost": f"10.0.{k % 7}.{k % 200}",
                "remotePort": "40000",
                "command": "CONNECT" if failed else "QUERY",
                "commandText": "" if failed else f"SELECT * FROM orders WHERE id = {k}",
                "objectType": "TABLE",
                "objectName": "" if failed else "orders",
                "statementId": k,
                "substatementId": 1,
                "exitCode": "1045" if failed else "0",
                "sessionId": str(1000 + k % 50),
                "serverHost": "bench-instance-1",
                "serverType": "MySQL",
                "serviceName": "Amazon Aurora MySQL",
                "class": "MAIN",
            }
        )
    return {
        "type": "DatabaseActivityMonitoringRecord",
        "clusterId": resource,
        "instanceId": "db-BENCH",
        "databaseActivityEventList": listed,
    }


def _kinesis_record(data: bytes, resource: str, index: int) -> dict[str, Any]:
    """One Lambda Kinesis record of stream aws-rds-das-<resource>."""
    sequence = str(49590338271490256608559692538361571095921575989136588898 + index)
    return {
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": "das-0",
            "sequenceNumber": sequence,
            "data": base64.b64encode(data).decode("ascii"),
            "approximateArrivalTimestamp": 1795000000.0 + index,
        },
        "eventSource": "aws:kinesis",
        "eventID": f"shardId-000000000000:{sequence}",
        "awsRegion": REGION,
        "eventSourceARN": f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/aws-rds-das-{resource}",
    }


def measure_activity_stream(
    records: int = 60, events_per_record: int = 20, data_keys: int = 3, repeat: int = 3
) -> ActivityFigures:
    """Best-of-`repeat` rates of the Activity Stream handler and of the decrypt floor, interleaved."""
    clear_handler_env()
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        kms = boto3.client("kms", region_name=REGION)
        key_id = kms.create_key(KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"]["KeyId"]
        resources = [f"cluster-BENCH{k}" for k in range(data_keys)]
        keys = {
            r: kms.generate_data_key(KeyId=key_id, KeySpec="AES_256", EncryptionContext={"aws:rds:dbc-id": r})
            for r in resources
        }
        client = aws_encryption_sdk.EncryptionSDKClient(
            commitment_policy=CommitmentPolicy.FORBID_ENCRYPT_ALLOW_DECRYPT
        )
        kinesis, floor_inputs = [], []
        for n in range(records):
            resource = resources[n % data_keys]
            plaintext = gzip.compress(
                json.dumps(activity_record(resource, n, events_per_record)).encode(), mtime=0
            )
            provider = _DataKey(keys[resource]["Plaintext"])
            ciphertext, _ = client.encrypt(source=plaintext, key_provider=provider)
            envelope = {
                "type": "DatabaseActivityMonitoringRecords",
                "version": "1.1",
                "databaseActivityEvents": base64.b64encode(ciphertext).decode("ascii"),
                "key": base64.b64encode(keys[resource]["CiphertextBlob"]).decode("ascii"),
            }
            kinesis.append(_kinesis_record(json.dumps(envelope).encode(), resource, n))
            floor_inputs.append((ciphertext, provider))
        kms_calls = _count_kms_decrypts()
        from handlers.activity_stream import lambda_handler  # noqa: PLC0415 - after the environment is set
        from handlers.runtime import get_runtime, reset_runtime  # noqa: PLC0415

        event = {"Records": kinesis}
        context = BenchContext()
        calls_in_one_run = 0

        def handler() -> None:
            nonlocal calls_in_one_run
            # A warm container (clients built) with a cold data-key cache: KMS once per data key.
            get_runtime().__dict__.pop("decryptor", None)
            before = kms_calls[0]
            lambda_handler(event, context)
            calls_in_one_run = kms_calls[0] - before

        def floor() -> None:
            for ciphertext, provider in floor_inputs:
                plaintext, _ = client.decrypt(source=ciphertext, key_provider=provider)
                json.loads(gzip.decompress(plaintext))

        with quiet_handlers():
            reset_runtime()
            lambda_handler(event, context)  # warm up: clients, rules catalogue, regexes
            floor_s = handler_s = float("inf")
            for _ in range(repeat):
                floor_s = min(floor_s, best_of(1, floor, CPU))
                handler_s = min(handler_s, best_of(1, handler, CPU))
            reset_runtime()
    total = records * events_per_record
    return ActivityFigures(total / handler_s, total / floor_s, calls_in_one_run, records, data_keys)


def _count_kms_decrypts() -> list[int]:
    """A one-cell counter of KMS Decrypt calls made by any client created from now on."""
    return count_api_calls("before-call.kms.Decrypt")
