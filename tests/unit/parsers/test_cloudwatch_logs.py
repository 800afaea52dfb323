"""Tests for decoding CloudWatch Logs subscription payloads (parsers/cloudwatch_logs.py)."""

from __future__ import annotations

import base64
import gzip
import json
import zlib
from collections.abc import Callable

import pytest

from parsers.cloudwatch_logs import LogBatch, PayloadError, decode_cloudwatch_payload, log_batch_from_json
from parsers.records import RawRecord
from tests.unit.parsers.cloudwatch_payloads import b64, sample_bytes

DECODED_SAMPLES = [
    "cwlogs-account-policy.decoded.aws-doc.json",
    "cwlogs-cloudWatchLogEvent.powertools.decoded.json",
    "cwlogs-cloudWatchLogEventWithPolicyLevel.powertools.decoded.json",
    "cwlogs-control-message.vector.json",
    "cwlogs-lambda-event.decoded.aws-lambda-doc.json",
    "cwlogs-subscription-kinesis.decoded.aws-doc.json",
    "cwlogs-subscription-lambda.decoded.aws-doc.json",
]


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


def test_events_of_every_accepted_shape_mixed_in_one_batch_keep_their_order_and_values() -> None:
    """GIVEN common events (string id, int timestamp) mixed with drifted ones (int id, float or digit-string
    timestamp, none) WHEN read THEN each gets the same record it would alone, in order."""
    events: list[object] = [
        {"id": "a", "timestamp": 5, "message": "one"},
        {"id": 8, "timestamp": 6.0, "message": "two"},
        {"id": "c", "timestamp": "7", "message": "three"},
        {"message": "four"},
        {"id": "e", "timestamp": 9, "message": "five", "extra": True},
    ]
    document = {"messageType": "DATA_MESSAGE", "logGroup": "g", "logStream": "s", "logEvents": events}

    records = log_batch_from_json(document).records

    assert records == (
        RawRecord(text="one", location="g/s#a", event_id="a", timestamp_ms=5),
        RawRecord(text="two", location="g/s#8", event_id="8", timestamp_ms=6),
        RawRecord(text="three", location="g/s#c", event_id="c", timestamp_ms=7),
        RawRecord(text="four", location="g/s#", event_id="", timestamp_ms=None),
        RawRecord(text="five", location="g/s#e", event_id="e", timestamp_ms=9),
    )


@pytest.mark.parametrize(
    ("bad_event", "message"),
    [
        ("text", "logEvents[2] is not an object (got string)"),
        ({"id": "x", "timestamp": 1}, "logEvents[2] has no string message"),
        ({"id": True, "timestamp": 1, "message": "m"}, "logEvents[2].id is not a string (got boolean)"),
        (
            {"id": "x", "timestamp": True, "message": "m"},
            "logEvents[2].timestamp is a boolean, expected epoch milliseconds",
        ),
    ],
)
def test_a_bad_event_after_good_ones_is_named_by_its_index(bad_event: object, message: str) -> None:
    """GIVEN two well-formed events and then a bad one WHEN read THEN the PayloadError names logEvents[2]."""
    good = {"id": "a", "timestamp": 5, "message": "m"}
    document = {"messageType": "DATA_MESSAGE", "logEvents": [good, good, bad_event]}

    with pytest.raises(PayloadError) as caught:
        log_batch_from_json(document)

    assert str(caught.value) == message
