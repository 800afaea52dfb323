"""Tests for recognising Kinesis-delivered and stand-alone Database Activity Stream documents
(parsers/json_documents.py): encrypted envelopes, resource ids, decrypted records, KPL refusal."""

from __future__ import annotations

import base64
import gzip
import json

import pytest

from parsers.json_documents import (
    ActivityStreamBatch,
    DocumentError,
    EncryptedActivityBatch,
    LogRecordsBatch,
    batches_from_json,
)
from tests.unit.parsers.json_document_builders import (
    AURORA_LINE,
    SAMPLES,
    kinesis_event,
    load,
    rds_subscription,
)

V14_FRAGMENT = (SAMPLES / "das-envelope-rds-v1.4.fragment.txt").read_bytes()
ENVELOPES = {
    "aurora v1.1": (SAMPLES / "das-envelope-aurora-v1.1.json").read_bytes(),
    "rds v1.3": (SAMPLES / "das-envelope-rds-v1.3.json").read_bytes(),
    "rds v1.4 fragment in braces": b"{" + V14_FRAGMENT + b"}",
}
DAS_STREAM_ARN = "arn:aws:kinesis:us-east-1:123456789012:stream/aws-rds-das-cluster-ABCD123456"


@pytest.mark.parametrize("envelope", ENVELOPES.values(), ids=ENVELOPES.keys())
def test_encrypted_das_in_kinesis_is_an_encrypted_batch(envelope: bytes) -> None:
    """GIVEN a Kinesis event whose second record is a DAS envelope (no eventSourceARN) WHEN recognised
    THEN an EncryptedActivityBatch of the record's exact bytes, its resource id left to the caller."""
    cloudwatch = gzip.compress(json.dumps(rds_subscription([AURORA_LINE])).encode())

    batches = batches_from_json(kinesis_event(cloudwatch, envelope), "das.json")

    assert [type(b).__name__ for b in batches] == ["LogRecordsBatch", "EncryptedActivityBatch"]
    assert batches[1] == EncryptedActivityBatch(data=envelope, resource_id=None, location="das.json[1]")


@pytest.mark.parametrize(
    ("arn", "resource_id"),
    [
        (DAS_STREAM_ARN, "cluster-ABCD123456"),
        (f"{DAS_STREAM_ARN}/consumer/replay:1714557600", "cluster-ABCD123456"),
        ("arn:aws:kinesis:us-east-1:123456789012:stream/aws-rds-das-db-EFGH7890", "db-EFGH7890"),
        ("arn:aws:kinesis:us-east-1:123456789012:stream/copied-das-records", None),
        (42, None),
    ],
    ids=["cluster stream", "fan-out consumer", "instance stream", "other stream", "not text"],
)
def test_lambda_event_stream_arn_names_the_resource(arn: object, resource_id: str | None) -> None:
    """GIVEN a Lambda Kinesis event record with an eventSourceARN WHEN recognised
    THEN the resource id of an aws-rds-das-<id> stream is kept with the batch; any other ARN gives None."""
    envelope = ENVELOPES["aurora v1.1"]
    event = kinesis_event(envelope)
    event["Records"][0]["eventSourceARN"] = arn  # type: ignore[index]

    assert batches_from_json(event, "e.json") == [EncryptedActivityBatch(envelope, resource_id, "e.json[0]")]


def test_get_records_output_gives_its_records_in_order() -> None:
    """GIVEN `aws kinesis get-records` output holding a DAS envelope and a CloudWatch Logs payload
    WHEN recognised THEN an EncryptedActivityBatch (no resource id) then the log batch, by record index."""
    envelope = ENVELOPES["rds v1.3"]
    cloudwatch = gzip.compress(json.dumps(rds_subscription([AURORA_LINE])).encode())
    output = {
        "Records": [
            {
                "SequenceNumber": "49590338271490256608559692538361571095921575989136588898",
                "ApproximateArrivalTimestamp": 1714557600.123,
                "Data": base64.b64encode(payload).decode("ascii"),
                "PartitionKey": "das-partition-0",
            }
            for payload in (envelope, cloudwatch)
        ],
        "NextShardIterator": "AAAAAAAAAAH",
        "MillisBehindLatest": 0,
    }

    batches = batches_from_json(output, "get-records.json")

    assert batches[0] == EncryptedActivityBatch(envelope, None, "get-records.json[0]")
    assert isinstance(batches[1], LogRecordsBatch)
    assert batches[1].records[0].text == AURORA_LINE


def test_encrypted_das_envelope_document_is_an_encrypted_batch() -> None:
    """GIVEN the envelope itself as a document WHEN recognised THEN an EncryptedActivityBatch of its JSON."""
    document = load("das-envelope-aurora-v1.1.json")

    batches = batches_from_json(document, "env.json")

    assert batches == [EncryptedActivityBatch(json.dumps(document).encode("utf-8"), None, "env.json")]


def test_decrypted_das_record_in_kinesis_is_accepted() -> None:
    """GIVEN a Kinesis record holding a decrypted DAS record (plain JSON) WHEN recognised
    THEN an ActivityStreamBatch located by record index."""
    record = load("das-aurora-mysql-connect.json")

    batches = batches_from_json(kinesis_event(json.dumps(record).encode()), "k.json")

    assert batches == [ActivityStreamBatch(record=record, location="k.json[0]")]  # type: ignore[arg-type]


def test_kpl_aggregated_kinesis_record_is_refused() -> None:
    """GIVEN a KPL-aggregated Kinesis record WHEN recognised THEN DocumentError naming de-aggregation."""
    with pytest.raises(DocumentError) as caught:
        batches_from_json(kinesis_event(b"\xf3\x89\x9a\xc2" + b"\x00" * 20), "k.json")

    assert str(caught.value) == "k.json[0]: KPL-aggregated Kinesis record (de-aggregate it first)"


@pytest.mark.parametrize(
    "sample",
    [
        "das-aurora-mysql-connect.json",
        "das-sqlserver-login-failed.fixed.json",
        "das-aurora-postgresql-connect.json",
    ],
)
def test_decrypted_das_documents(sample: str) -> None:
    """GIVEN a decrypted DAS record (or the docs' envelope with the record printed inside) WHEN recognised
    THEN one ActivityStreamBatch holding the document as is."""
    document = load(sample)

    assert batches_from_json(document, sample) == [ActivityStreamBatch(record=document, location=sample)]  # type: ignore[arg-type]
