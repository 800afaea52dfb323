"""Tests for decoding CloudWatch Logs subscription payloads (parsers/cloudwatch_logs.py)."""

from __future__ import annotations

import base64
import gzip
import json
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parsers import cloudwatch_logs
from parsers.cloudwatch_logs import LogBatch, PayloadError, decode_cloudwatch_payload, log_batch_from_json
from parsers.records import RawRecord

SAMPLES = Path(__file__).resolve().parents[2] / "data" / "samples"

DECODED_SAMPLES = [
    "cwlogs-account-policy.decoded.aws-doc.json",
    "cwlogs-cloudWatchLogEvent.powertools.decoded.json",
    "cwlogs-cloudWatchLogEventWithPolicyLevel.powertools.decoded.json",
    "cwlogs-control-message.vector.json",
    "cwlogs-lambda-event.decoded.aws-lambda-doc.json",
    "cwlogs-subscription-kinesis.decoded.aws-doc.json",
    "cwlogs-subscription-lambda.decoded.aws-doc.json",
]


def sample_bytes(name: str) -> bytes:
    """The bytes of a stored sample."""
    return (SAMPLES / name).read_bytes()


def b64(data: bytes) -> str:
    """Base64 text as CloudWatch puts it in awslogs.data / Kinesis data."""
    return base64.b64encode(data).decode("ascii")


# How a payload may reach decode_cloudwatch_payload, built from the readable decoded sample.
ENVELOPES: dict[str, Callable[[bytes], str | bytes]] = {
    "base64(gzip)": lambda raw: b64(gzip.compress(raw)),
    "base64(zlib)": lambda raw: b64(zlib.compress(raw)),
    "base64(json)": b64,
    "gzip bytes": gzip.compress,
    "zlib bytes": zlib.compress,
    "json bytes": lambda raw: raw,
    "json text": lambda raw: raw.decode("utf-8"),
    "base64 bytes, line-wrapped": lambda raw: base64.encodebytes(gzip.compress(raw)),
}


def test_decodes_powertools_gzip_fixture_to_exact_batch() -> None:
    """GIVEN the Powertools awslogs fixture (base64 gzip) WHEN decoded THEN every field is exact."""
    event = json.loads(sample_bytes("cwlogs-cloudWatchLogEvent.powertools.json"))

    batch = decode_cloudwatch_payload(event["awslogs"]["data"])

    assert batch == LogBatch(
        owner="123456789123",
        log_group="testLogGroup",
        log_stream="testLogStream",
        subscription_filters=("testFilter",),
        message_type="DATA_MESSAGE",
        policy_level="",
        records=(
            RawRecord(
                text="[ERROR] First test message",
                location="testLogGroup/testLogStream#eventId1",
                event_id="eventId1",
                timestamp_ms=1440442987000,
            ),
            RawRecord(
                text="[ERROR] Second test message",
                location="testLogGroup/testLogStream#eventId2",
                event_id="eventId2",
                timestamp_ms=1440442987001,
            ),
        ),
    )
    assert batch.is_control_message is False


def test_decodes_zlib_policy_level_fixture() -> None:
    """GIVEN the Powertools policyLevel fixture, which is base64(zlib) not gzip WHEN decoded
    THEN it equals its decoded sibling and carries the account-level policy."""
    event = json.loads(sample_bytes("cwlogs-cloudWatchLogEventWithPolicyLevel.powertools.json"))
    decoded = json.loads(sample_bytes("cwlogs-cloudWatchLogEventWithPolicyLevel.powertools.decoded.json"))

    batch = decode_cloudwatch_payload(event["awslogs"]["data"])

    assert batch == log_batch_from_json(decoded)
    assert batch.policy_level == "ACCOUNT_LEVEL_POLICY"
    assert [record.event_id for record in batch.records] == ["eventId1", "eventId2"]


def test_decodes_each_kinesis_delivered_record() -> None:
    """GIVEN a Lambda Kinesis event fed by a subscription filter WHEN each record's data is decoded
    THEN each equals the matching line of the decoded .jsonl sample."""
    event = json.loads(sample_bytes("cwlogs-kinesisStreamCloudWatchLogsEvent.powertools.json"))
    decoded_lines = sample_bytes(
        "cwlogs-kinesisStreamCloudWatchLogsEvent.powertools.decoded.jsonl"
    ).splitlines()

    batches = [decode_cloudwatch_payload(record["kinesis"]["data"]) for record in event["Records"]]

    assert batches == [log_batch_from_json(json.loads(line)) for line in decoded_lines]
    assert [batch.log_stream for batch in batches] == [
        "2022/11/10/[$LATEST]26b6a45d574f442ea28438923cbf7bf7",
        "2022/11/10/[$LATEST]6749cb3ec3b34895986d592d7421cab2",
    ]
    assert batches[0].records[0] == RawRecord(
        text="START RequestId: 06e46194-f277-454e-88d3-1dd7e3860eaa Version: $LATEST\n",
        location=(
            "/aws/lambda/pt-1488-DummyLogDataFunction-gnWXPvL6jJyG/2022/11/10/[$LATEST]26b6a45d574f442ea28438923cbf7bf7"
            "#37199717562907174288355125807040114704837640994633613312"
        ),
        event_id="37199717562907174288355125807040114704837640994633613312",
        timestamp_ms=1668093027015,
    )


@pytest.mark.parametrize("envelope", list(ENVELOPES))
@pytest.mark.parametrize("sample", DECODED_SAMPLES)
def test_every_envelope_of_every_decoded_sample_round_trips(sample: str, envelope: str) -> None:
    """GIVEN a decoded sample wrapped in gzip/zlib/plain, base64 or raw WHEN decoded
    THEN the batch equals the one built from the readable JSON."""
    raw = sample_bytes(sample)

    batch = decode_cloudwatch_payload(ENVELOPES[envelope](raw))

    assert batch == log_batch_from_json(json.loads(raw))


def test_account_policy_sample_fields() -> None:
    """GIVEN the account-level policy doc sample WHEN read THEN the policy name and level are kept
    and the 56-digit event ids stay strings."""
    batch = log_batch_from_json(json.loads(sample_bytes("cwlogs-account-policy.decoded.aws-doc.json")))

    assert (batch.owner, batch.log_group, batch.log_stream) == ("123456789012", "Example1", "logStream1")
    assert batch.subscription_filters == ("ExamplePolicy",)
    assert batch.policy_level == "ACCOUNT_LEVEL_POLICY"
    assert [record.event_id for record in batch.records] == [
        "31953106606966983378809025079804211143289615424298221568",
        "31953106606966983378809025079804211143289615424298221569",
        "31953106606966983378809025079804211143289615424298221570",
    ]
    assert batch.records[0].text == '{"eventVersion":"1.03","userIdentity":{"type":"Root"}'


def test_control_message_is_flagged() -> None:
    """GIVEN the CONTROL_MESSAGE health check WHEN decoded THEN it is flagged and keeps its one event."""
    raw = sample_bytes("cwlogs-control-message.vector.json")

    batch = decode_cloudwatch_payload(b64(gzip.compress(raw)))

    assert batch.is_control_message is True
    assert (batch.owner, batch.log_group, batch.log_stream, batch.subscription_filters) == (
        "CloudwatchLogs",
        "",
        "",
        (),
    )
    assert batch.records == (
        RawRecord(
            text="CWL CONTROL MESSAGE: Checking health of destination Firehose.",
            location="/#",
            event_id="",
            timestamp_ms=1600110003794,
        ),
    )


def test_truncated_lambda_doc_sample_is_a_payload_error() -> None:
    """GIVEN the Lambda doc sample, whose data is cut with '...' WHEN decoded THEN a clear PayloadError."""
    event = json.loads(sample_bytes("cwlogs-lambda-event.aws-lambda-doc.json"))

    with pytest.raises(PayloadError) as caught:
        decode_cloudwatch_payload(event["awslogs"]["data"])

    assert str(caught.value) == "payload is not valid base64 (characters outside the base64 alphabet)"
    assert caught.value.retryable is False


def test_tolerates_unknown_keys_and_missing_optional_fields() -> None:
    """GIVEN a payload with future keys (emitSystemFields) and no owner/filters/timestamp
    WHEN read THEN it decodes; absent values become "" / () / None and int ids become text."""
    document = {
        "messageType": "DATA_MESSAGE",
        "logGroup": "/aws/rds/cluster/c1/audit",
        "logStream": "c1-instance-1",
        "logEvents": [{"id": 7, "message": "m", "@aws.account": "123"}],
        "@aws.region": "eu-west-1",
    }

    batch = log_batch_from_json(document)

    assert batch == LogBatch(
        owner="",
        log_group="/aws/rds/cluster/c1/audit",
        log_stream="c1-instance-1",
        subscription_filters=(),
        message_type="DATA_MESSAGE",
        policy_level="",
        records=(RawRecord(text="m", location="/aws/rds/cluster/c1/audit/c1-instance-1#7", event_id="7"),),
    )


@pytest.mark.parametrize(
    ("timestamp", "expected"),
    [(1432826855000, 1432826855000), (1432826855000.0, 1432826855000), ("1432826855000", 1432826855000)],
)
def test_timestamp_type_drift(timestamp: object, expected: int) -> None:
    """GIVEN a timestamp as int, integral float or digit string WHEN read THEN epoch ms as int."""
    document = {
        "messageType": "DATA_MESSAGE",
        "logEvents": [{"id": "1", "timestamp": timestamp, "message": ""}],
    }

    assert log_batch_from_json(document).records[0].timestamp_ms == expected


SECRET = "hunter2-secret-statement"
VALID_JSON = json.dumps(
    {"messageType": "DATA_MESSAGE", "logEvents": [{"id": "1", "timestamp": 1, "message": SECRET}]}
).encode()
GZIPPED = gzip.compress(VALID_JSON)

CORRUPT_PAYLOADS: list[tuple[str, str | bytes, str]] = [
    ("empty text", "", "payload is empty"),
    ("blank text", "  \n", "payload is empty"),
    ("empty bytes", b"", "payload is empty"),
    ("not base64", f"{SECRET}!", "payload is not valid base64 (characters outside the base64 alphabet)"),
    ("bad padding", "abc", "payload is not valid base64 (incorrect padding)"),
    ("one char over", "abcde", "payload is not valid base64 (truncated)"),
    ("non-ASCII text", "é" + SECRET, "payload is not valid base64 (non-ASCII characters)"),
    ("random bytes", b"\x00\x01" + SECRET.encode(), "payload is neither gzip, zlib, JSON nor base64 text"),
    (
        "base64 of random bytes",
        b64(b"\x00\x01" + SECRET.encode()),
        "decoded payload is neither gzip, zlib nor JSON",
    ),
    ("truncated gzip", b64(GZIPPED[:-12]), "compressed payload is truncated"),
    ("gzip + trailing bytes", b64(GZIPPED + b"junk"), "unexpected bytes after the compressed payload"),
    (
        "gzip bad header",
        b64(b"\x1f\x8b\x09" + GZIPPED[3:]),
        "payload is not a valid gzip/zlib stream"
        " (Error -3 while decompressing data: unknown compression method)",
    ),
    (
        "gzip not JSON",
        b64(gzip.compress(SECRET.encode())),
        "decoded payload is not JSON (Expecting value at line 1 column 1)",
    ),
    (
        "gzip not UTF-8",
        b64(gzip.compress(b'{"m": "\xff' + SECRET.encode())),
        "decoded payload is not UTF-8 (invalid byte at position 7)",
    ),
    ("JSON array", b64(gzip.compress(b"[1, 2]")), "payload JSON is not an object (got array)"),
    (
        "no messageType",
        b64(gzip.compress(json.dumps({"logEvents": [], "x": SECRET}).encode())),
        "payload JSON has no string messageType (not a CloudWatch Logs subscription)",
    ),
    (
        "no logEvents",
        b64(gzip.compress(b'{"messageType": "DATA_MESSAGE"}')),
        "payload JSON has no logEvents list",
    ),
    (
        "event not an object",
        b64(gzip.compress(b'{"messageType": "DATA_MESSAGE", "logEvents": ["x"]}')),
        "logEvents[0] is not an object (got string)",
    ),
    (
        "event without message",
        b64(gzip.compress(b'{"messageType": "DATA_MESSAGE", "logEvents": [{"id": "1"}]}')),
        "logEvents[0] has no string message",
    ),
    (
        "event id is a list",
        b64(gzip.compress(b'{"messageType": "DATA_MESSAGE", "logEvents": [{"id": [], "message": ""}]}')),
        "logEvents[0].id is not a string (got array)",
    ),
    (
        "bad timestamp",
        b64(
            gzip.compress(
                b'{"messageType": "DATA_MESSAGE", "logEvents": [{"timestamp": "soon", "message": ""}]}'
            )
        ),
        "logEvents[0].timestamp is not an integer (epoch milliseconds)",
    ),
    (
        "boolean timestamp",
        b64(
            gzip.compress(
                b'{"messageType": "DATA_MESSAGE", "logEvents": [{"timestamp": true, "message": ""}]}'
            )
        ),
        "logEvents[0].timestamp is a boolean, expected epoch milliseconds",
    ),
    (
        "logGroup not text",
        b64(gzip.compress(b'{"messageType": "DATA_MESSAGE", "logGroup": 5, "logEvents": []}')),
        "logGroup is not a string (got number)",
    ),
    (
        "filters not a list of text",
        b64(gzip.compress(b'{"messageType": "DATA_MESSAGE", "subscriptionFilters": [1], "logEvents": []}')),
        "subscriptionFilters is not a list of strings",
    ),
]


@pytest.mark.parametrize(
    ("payload", "message"),
    [pytest.param(payload, message, id=case) for case, payload, message in CORRUPT_PAYLOADS],
)
def test_corrupt_payload_raises_one_clear_reason(payload: str | bytes, message: str) -> None:
    """GIVEN a corrupt payload WHEN decoded THEN PayloadError with one reason and no payload text."""
    with pytest.raises(PayloadError) as caught:
        decode_cloudwatch_payload(payload)

    assert str(caught.value) == message
    assert SECRET not in str(caught.value)
    assert caught.value.retryable is False


def test_decompression_bomb_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """GIVEN a payload that inflates past the limit WHEN decoded THEN PayloadError."""
    monkeypatch.setattr(cloudwatch_logs, "MAX_DECOMPRESSED_BYTES", 1000)

    with pytest.raises(PayloadError) as caught:
        decode_cloudwatch_payload(gzip.compress(b" " * 5000 + VALID_JSON))

    assert str(caught.value) == "decompressed payload exceeds 1000 bytes"


def test_non_text_non_bytes_input_is_a_payload_error() -> None:
    """GIVEN something that is neither text nor bytes WHEN decoded THEN PayloadError naming the type."""
    with pytest.raises(PayloadError) as caught:
        decode_cloudwatch_payload(42)  # type: ignore[arg-type]

    assert str(caught.value) == "payload must be text or bytes, not int"


def test_log_batch_from_json_refuses_non_object() -> None:
    """GIVEN a decoded value that is not an object WHEN read as a batch THEN PayloadError."""
    with pytest.raises(PayloadError) as caught:
        log_batch_from_json([])  # type: ignore[arg-type]

    assert str(caught.value) == "payload JSON is not an object (got array)"


def decode_outcome(data: str | bytes) -> LogBatch | PayloadError:
    """The batch, or the PayloadError raised instead; any other exception escapes."""
    try:
        return decode_cloudwatch_payload(data)
    except PayloadError as exc:
        return exc


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300) | st.binary(max_size=300).map(gzip.compress) | st.binary().map(zlib.compress))
def test_arbitrary_bytes_raise_only_payload_error(data: bytes) -> None:
    """GIVEN arbitrary (maybe compressed) bytes WHEN decoded THEN a LogBatch or a PayloadError only."""
    assert isinstance(decode_outcome(data), LogBatch | PayloadError)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_arbitrary_text_raises_only_payload_error(data: str) -> None:
    """GIVEN arbitrary text WHEN decoded THEN a LogBatch or a PayloadError only."""
    assert isinstance(decode_outcome(data), LogBatch | PayloadError)


@settings(max_examples=300, deadline=None)
@given(
    JSON_VALUES
    | st.fixed_dictionaries(
        {"messageType": JSON_VALUES, "logEvents": st.lists(JSON_VALUES, max_size=3)},
        optional={"logGroup": JSON_VALUES, "subscriptionFilters": JSON_VALUES, "owner": JSON_VALUES},
    )
)
def test_arbitrary_gzipped_json_raises_only_payload_error(document: object) -> None:
    """GIVEN any gzip'd JSON value (incl. subscription-like ones) WHEN decoded THEN batch or PayloadError."""
    assert isinstance(
        decode_outcome(b64(gzip.compress(json.dumps(document).encode()))), LogBatch | PayloadError
    )
