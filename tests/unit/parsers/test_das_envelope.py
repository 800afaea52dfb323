"""Tests for the activity-stream envelope, the stream-name → resource id rule and the KMS context."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parsers.das_envelope import (
    DasEnvelope,
    EnvelopeError,
    encryption_context,
    parse_envelope,
    resource_id_from_stream_arn,
    resource_id_from_stream_name,
)
from tests.das_fixtures import envelope_bytes, kpl_aggregate, with_unknown_envelope_fields

SAMPLES = Path(__file__).resolve().parents[2] / "data" / "samples"
EVENTS = b"\x02\x05esdk-message-bytes"
KEY = b"\x01\x02\x03kms-ciphertext-blob"
SECRET = "SECRET-PAYLOAD-MARKER"


def envelope_with(**fields: object) -> bytes:
    """A well-formed v1.1 envelope with some fields replaced (a None value removes the field)."""
    document: dict[str, object] = json.loads(envelope_bytes(EVENTS, KEY))
    for name, value in fields.items():
        if value is None:
            document.pop(name, None)
        else:
            document[name] = value
    return json.dumps(document).encode("utf-8")


@pytest.mark.parametrize(
    ("version", "known"),
    [
        ("1.0", True),
        ("1.1", True),
        ("1.2", True),
        ("1.3", True),
        ("1.4", True),
        ("1.5", False),
        ("1.10", False),
        ("2.0", False),
        ("2.0.1", False),
    ],
)
def test_documented_and_later_versions_are_accepted(version: str, known: bool) -> None:
    """GIVEN an envelope of a documented or later version WHEN parsed THEN both base64 fields decode."""
    envelope = parse_envelope(envelope_bytes(EVENTS, KEY, version=version))

    assert envelope == DasEnvelope(version=version, encrypted_events=EVENTS, encrypted_key=KEY)
    assert envelope.is_known_version is known


def test_unknown_envelope_fields_are_ignored() -> None:
    """GIVEN an envelope with fields no documented version has WHEN parsed THEN they are ignored."""
    data = with_unknown_envelope_fields(envelope_bytes(EVENTS, KEY, version="1.2"))

    assert parse_envelope(data) == DasEnvelope("1.2", EVENTS, KEY)


def test_line_wrapped_base64_is_tolerated() -> None:
    """GIVEN base64 wrapped at 76 columns WHEN parsed THEN the payload is intact."""
    wrapped = base64.encodebytes(EVENTS * 10).decode("ascii")  # has "\n" every 76 characters

    assert parse_envelope(envelope_with(databaseActivityEvents=wrapped)) == DasEnvelope(
        "1.1", EVENTS * 10, KEY
    )


def test_bytearray_and_memoryview_inputs_are_read() -> None:
    """GIVEN the envelope as a bytearray / memoryview WHEN parsed THEN they read like bytes."""
    data = envelope_bytes(EVENTS, KEY, version="1.2")

    assert parse_envelope(bytearray(data)) == parse_envelope(memoryview(data)) == parse_envelope(data)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "envelope is empty"),
        (b"  \n", "envelope is empty"),
        (b"\xff\xfe{}", "envelope is not UTF-8 (bad byte at offset 0)"),
        (b"{not json " + SECRET.encode(), "envelope is not JSON (Expecting property name enclosed in double"),
        (b"[1, 2]", "envelope is a JSON array, not an object"),
        (b'"text"', "envelope is a JSON string, not an object"),
        (b"{}", "envelope type is missing, expected 'DatabaseActivityMonitoringRecords'"),
        (
            envelope_with(type="Other"),
            "envelope type is 'Other', expected 'DatabaseActivityMonitoringRecords'",
        ),
        (envelope_with(type=SECRET * 4), "envelope type is a 84-character string, expected"),
        (envelope_with(type=["x"]), "envelope type is a JSON array, expected"),
        (
            envelope_with(type="DatabaseActivityMonitoringRecord"),
            "record is an already decrypted DatabaseActivityMonitoringRecord, not an envelope",
        ),
        (envelope_with(version=None), "envelope has no version"),
        (envelope_with(version=1.1), "envelope version is a JSON number, expected a string"),
        (envelope_with(version="v1"), "envelope version 'v1' is not a dotted number such as '1.1'"),
        (envelope_with(version="1"), "envelope version '1' is not a dotted number such as '1.1'"),
        (envelope_with(version=""), "envelope version '' is not a dotted number"),
        (envelope_with(version="0.9"), "envelope version '0.9' predates the documented 1.0"),
        (envelope_with(databaseActivityEvents=None), "envelope has no databaseActivityEvents"),
        (envelope_with(databaseActivityEvents=""), "envelope databaseActivityEvents is empty"),
        (envelope_with(databaseActivityEvents=7), "envelope databaseActivityEvents is a JSON number"),
        (
            envelope_with(databaseActivityEvents={"type": "DatabaseActivityMonitoringRecord"}),
            "envelope databaseActivityEvents is a JSON object (the decrypted layout of the AWS doc samples)",
        ),
        (
            envelope_with(databaseActivityEvents=SECRET),
            "envelope databaseActivityEvents is not valid base64 (characters outside the base64 alphabet)",
        ),
        (
            envelope_with(databaseActivityEvents=base64.b64encode(EVENTS).decode()[:-1]),
            "envelope databaseActivityEvents is not valid base64 "
            "(length 27 is not a multiple of 4: truncated?)",
        ),
        (
            envelope_with(databaseActivityEvents="AB=C"),
            "envelope databaseActivityEvents is not valid base64 (misplaced padding)",
        ),
        (envelope_with(key=None), "envelope has no key"),
        (envelope_with(key="%%%%"), "envelope key is not valid base64 (characters outside the base64"),
        (
            b"\xf3\x89\x9a\xc2" + b"\x00" * 20,
            "envelope is a KPL-aggregated Kinesis record (de-aggregate it first)",
        ),
    ],
)
def test_unusable_envelopes_raise_a_clear_reason_without_the_payload(data: bytes, reason: str) -> None:
    """GIVEN a malformed envelope WHEN parsed THEN EnvelopeError names why, never echoing the payload."""
    with pytest.raises(EnvelopeError) as caught:
        parse_envelope(data)

    assert str(caught.value).startswith(reason)
    assert SECRET not in str(caught.value)
    assert caught.value.retryable is False


def test_non_bytes_input_is_refused() -> None:
    """GIVEN text instead of bytes WHEN parsed THEN the type is named."""
    with pytest.raises(EnvelopeError, match=r"^envelope must be bytes, not str$"):
        parse_envelope("{}")  # type: ignore[arg-type]


def test_kpl_aggregate_built_by_aws_kinesis_agg_is_refused() -> None:
    """GIVEN a genuine KPL aggregate of envelopes WHEN parsed as one envelope THEN it says de-aggregate."""
    aggregate = kpl_aggregate([envelope_bytes(EVENTS, KEY), envelope_bytes(EVENTS, KEY)])

    with pytest.raises(EnvelopeError, match="de-aggregate it first"):
        parse_envelope(aggregate)


@pytest.mark.parametrize(
    ("sample", "reason"),
    [
        # The doc's wire-format example holds placeholder text, not base64.
        ("das-envelope-aurora-v1.1.json", "envelope databaseActivityEvents is not valid base64"),
        # The doc's Aurora PostgreSQL samples nest the decrypted record inside the envelope.
        ("das-aurora-postgresql-connect.json", "envelope databaseActivityEvents is a JSON object"),
        # The doc's Aurora MySQL samples are the decrypted record alone.
        ("das-aurora-mysql-connect.json", "record is an already decrypted DatabaseActivityMonitoringRecord"),
    ],
)
def test_aws_doc_samples_are_not_wire_envelopes(sample: str, reason: str) -> None:
    """GIVEN AWS doc samples verbatim WHEN parsed as wire envelopes THEN each is refused for its layout."""
    with pytest.raises(EnvelopeError) as caught:
        parse_envelope((SAMPLES / sample).read_bytes())

    assert str(caught.value).startswith(reason)


@pytest.mark.parametrize(
    ("arn", "resource_id"),
    [
        ("arn:aws:kinesis:us-east-1:123:stream/aws-rds-das-cluster-ABC", "cluster-ABC"),
        ("arn:aws:kinesis:us-east-1:123:stream/aws-rds-das-db-XYZ", "db-XYZ"),
        (
            "arn:aws:kinesis:eu-west-1:123456789012:stream/aws-rds-das-cluster-NHVOV4PCLWHGF52NP",
            "cluster-NHVOV4PCLWHGF52NP",
        ),
        ("arn:aws-cn:kinesis:cn-north-1:123456789012:stream/aws-rds-das-db-ABCD123456", "db-ABCD123456"),
        ("arn:aws-us-gov:kinesis:us-gov-west-1:1:stream/aws-rds-das-cluster-some_id", "cluster-some_id"),
        # Enhanced fan-out consumer ARN: the stream name comes first.
        (
            "arn:aws:kinesis:us-east-1:123:stream/aws-rds-das-cluster-ABC/consumer/alerts:1714557600",
            "cluster-ABC",
        ),
    ],
)
def test_resource_id_comes_from_the_stream_arn(arn: str, resource_id: str) -> None:
    """GIVEN an activity stream's ARN WHEN read THEN the resource id follows `aws-rds-das-`."""
    assert resource_id_from_stream_arn(arn) == resource_id


@pytest.mark.parametrize(
    ("arn", "reason"),
    [
        ("", "'' is not a Kinesis stream ARN"),
        ("aws-rds-das-cluster-ABC", "'aws-rds-das-cluster-ABC' is not a Kinesis stream ARN"),
        ("arn:aws:sqs:us-east-1:123:aws-rds-das-cluster-ABC", "is not a Kinesis stream ARN"),
        ("arn:aws:kinesis:us-east-1:123:consumer/aws-rds-das-cluster-ABC", "is not a Kinesis stream ARN"),
        (
            "arn:aws:kinesis:us-east-1:123:stream/app-logs",
            "stream 'app-logs' is not a database activity stream",
        ),
        ("arn:aws:kinesis:us-east-1:123:stream/aws-rds-das-", "stream 'aws-rds-das-' is not a database"),
        ("arn:aws:kinesis:us-east-1:123:stream/aws-rds-das-cluster-", "is not a database activity stream"),
        ("arn:aws:kinesis:us-east-1:123:stream/aws-rds-das-instance-X", "is not a database activity stream"),
        ("arn:aws:kinesis:us-east-1:123:stream/prefix-aws-rds-das-db-X", "is not a database activity stream"),
    ],
)
def test_non_activity_stream_arns_are_refused(arn: str, reason: str) -> None:
    """GIVEN an ARN of another service or stream WHEN read THEN EnvelopeError says which."""
    with pytest.raises(EnvelopeError) as caught:
        resource_id_from_stream_arn(arn)

    assert reason in str(caught.value)


def test_stream_name_alone_gives_the_resource_id() -> None:
    """GIVEN a bare stream name (DescribeDBClusters ActivityStreamKinesisStreamName) WHEN read THEN the id."""
    assert resource_id_from_stream_name("aws-rds-das-cluster-ABC") == "cluster-ABC"


@pytest.mark.parametrize(
    ("resource_id", "context"),
    [
        ("cluster-ABCD123456", {"aws:rds:dbc-id": "cluster-ABCD123456"}),
        ("db-ABCD123456", {"aws:rds:db-id": "db-ABCD123456"}),
    ],
)
def test_encryption_context_depends_on_the_resource_kind(resource_id: str, context: dict[str, str]) -> None:
    """GIVEN a cluster or instance resource id WHEN building the KMS context THEN dbc-id or db-id is used."""
    assert encryption_context(resource_id) == context


@pytest.mark.parametrize(
    "resource_id", ["", "cluster-", "db-", "my-aurora-cluster", "CLUSTER-ABC", "cluster ABC"]
)
def test_encryption_context_refuses_names_that_are_not_resource_ids(resource_id: str) -> None:
    """GIVEN a cluster name (not a resource id) WHEN building the context THEN EnvelopeError."""
    with pytest.raises(EnvelopeError, match=r"is neither cluster-… nor db-…$"):
        encryption_context(resource_id)


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=300))
def test_arbitrary_bytes_only_ever_raise_envelope_error(data: bytes) -> None:
    """GIVEN any bytes WHEN parsed THEN the result is an envelope or an EnvelopeError, nothing else."""
    try:
        envelope = parse_envelope(data)
    except EnvelopeError as exc:
        reason = str(exc)
    else:
        reason = ""
        assert isinstance(envelope, DasEnvelope)
    assert reason == "" or reason.startswith(("envelope", "record is an already decrypted"))


@settings(max_examples=150, deadline=None)
@given(
    events=st.binary(min_size=1, max_size=200),
    key=st.binary(min_size=1, max_size=200),
    version=st.tuples(st.integers(1, 99), st.integers(0, 99)).map(lambda parts: f"{parts[0]}.{parts[1]}"),
)
def test_any_envelope_round_trips(events: bytes, key: bytes, version: str) -> None:
    """GIVEN any payload, key and version ≥ 1.0 WHEN serialised and parsed THEN the same values return."""
    assert parse_envelope(envelope_bytes(events, key, version=version)) == DasEnvelope(version, events, key)
