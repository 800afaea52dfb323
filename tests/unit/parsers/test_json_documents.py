"""Tests for recognising CloudWatch Logs and AWS CLI documents for replay (parsers/json_documents.py)."""

from __future__ import annotations

import base64
import gzip

import pytest

from parsers.cloudwatch_logs import PayloadError
from parsers.event import Source
from parsers.json_documents import (
    EXPECTED_DOCUMENTS,
    ActivityStreamBatch,
    DocumentError,
    LogRecordsBatch,
    batches_from_json,
)
from parsers.records import Origin, RawRecord
from tests.unit.parsers.json_document_builders import (
    AURORA_LINE,
    gzip_b64,
    kinesis_event,
    load,
    rds_subscription,
)

POWERTOOLS_RECORDS = (
    RawRecord("[ERROR] First test message", "events.json#eventId1", "eventId1", 1440442987000),
    RawRecord("[ERROR] Second test message", "events.json#eventId2", "eventId2", 1440442987001),
)
POWERTOOLS_ORIGIN = Origin(log_group="testLogGroup", log_stream="testLogStream", cluster="")


@pytest.mark.parametrize(
    "sample",
    [
        "cwlogs-cloudWatchLogEvent.powertools.json",  # awslogs, gzip
        "cwlogs-cloudWatchLogEventWithPolicyLevel.powertools.json",  # awslogs, zlib
        "cwlogs-cloudWatchLogEvent.powertools.decoded.json",  # decoded subscription JSON
        "cwlogs-cloudWatchLogEventWithPolicyLevel.powertools.decoded.json",
    ],
)
def test_awslogs_and_decoded_forms_give_the_same_batch(sample: str) -> None:
    """GIVEN a Lambda CloudWatch event or its decoded payload WHEN recognised
    THEN one batch with the stream's origin, file-based record locations and no known dialect."""
    batches = batches_from_json(load(sample), "events.json")

    assert batches == [LogRecordsBatch(origin=POWERTOOLS_ORIGIN, records=POWERTOOLS_RECORDS, source=None)]


@pytest.mark.parametrize(
    ("sample", "log_group", "log_stream", "count"),
    [
        ("cwlogs-account-policy.decoded.aws-doc.json", "Example1", "logStream1", 3),
        (
            "cwlogs-subscription-kinesis.decoded.aws-doc.json",
            "CloudTrail/logs",
            "111111111111_CloudTrail/logs_us-east-1",
            3,
        ),
        (
            "cwlogs-subscription-lambda.decoded.aws-doc.json",
            "CloudTrail",
            "123456789012_CloudTrail_us-east-1",
            3,
        ),
        (
            "cwlogs-lambda-event.decoded.aws-lambda-doc.json",
            "/aws/lambda/echo-nodejs",
            "2019/03/13/[$LATEST]94fa867e5374431291a7fc14e2f56ae7",
            1,
        ),
    ],
)
def test_doc_subscription_samples(sample: str, log_group: str, log_stream: str, count: int) -> None:
    """GIVEN a decoded subscription doc sample WHEN recognised THEN one batch for its group and stream."""
    (batch,) = batches_from_json(load(sample), sample)

    assert isinstance(batch, LogRecordsBatch)
    assert batch.origin == Origin(log_group=log_group, log_stream=log_stream, cluster="")
    assert batch.source is None
    assert len(batch.records) == count
    assert batch.records[0].location == f"{sample}#{batch.records[0].event_id}"


def test_control_message_gives_no_batch() -> None:
    """GIVEN a CONTROL_MESSAGE, decoded or wrapped in awslogs WHEN recognised THEN no batch."""
    control = load("cwlogs-control-message.vector.json")

    assert batches_from_json(control, "c.json") == []
    assert batches_from_json({"awslogs": {"data": gzip_b64(control)}}, "c.json") == []


def test_rds_log_group_routes_to_its_dialect_and_cluster() -> None:
    """GIVEN an awslogs event from /aws/rds/cluster/<c>/audit WHEN recognised
    THEN the batch names the Aurora MySQL dialect and the cluster."""
    document = {"awslogs": {"data": gzip_b64(rds_subscription([AURORA_LINE]))}}

    (batch,) = batches_from_json(document, "lambda-event.json")

    assert batch == LogRecordsBatch(
        origin=Origin("/aws/rds/cluster/prod-aurora/audit", "database-1-instance-1", "prod-aurora"),
        records=(
            RawRecord(
                AURORA_LINE,
                "lambda-event.json#37000000000000000000000000000000000000000000000000000000",
                "37000000000000000000000000000000000000000000000000000000",
                1603439251354,
            ),
        ),
        source=Source.AURORA_MYSQL,
    )


def test_kinesis_event_gives_one_batch_per_record() -> None:
    """GIVEN the Powertools Lambda Kinesis event (real capture) WHEN recognised
    THEN one batch per Kinesis record, located by record index then event id."""
    batches = batches_from_json(load("cwlogs-kinesisStreamCloudWatchLogsEvent.powertools.json"), "k.json")

    assert [(b.origin.log_stream, len(b.records)) for b in batches if isinstance(b, LogRecordsBatch)] == [
        ("2022/11/10/[$LATEST]26b6a45d574f442ea28438923cbf7bf7", 3),
        ("2022/11/10/[$LATEST]6749cb3ec3b34895986d592d7421cab2", 3),
    ]
    first = batches[0]
    assert isinstance(first, LogRecordsBatch)
    assert first.records[0].location == "k.json[0]#37199717562907174288355125807040114704837640994633613312"
    assert first.source is None


def test_filter_log_events_output_groups_by_stream() -> None:
    """GIVEN `aws logs filter-log-events` output with interleaved streams WHEN recognised
    THEN one batch per stream in first-seen order; origin has only the stream; dialect sniffed later."""
    output = {
        "events": [
            {
                "logStreamName": "instance-1",
                "timestamp": 1,
                "message": "a",
                "ingestionTime": 5,
                "eventId": "e1",
            },
            {
                "logStreamName": "instance-2",
                "timestamp": 2,
                "message": "b",
                "ingestionTime": 5,
                "eventId": "e2",
            },
            {
                "logStreamName": "instance-1",
                "timestamp": 3,
                "message": "c",
                "ingestionTime": 5,
                "eventId": "e3",
            },
        ],
        "searchedLogStreams": [{"logStreamName": "instance-1", "searchedCompletely": True}],
        "nextToken": "abc",
    }

    batches = batches_from_json(output, "out.json")

    assert batches == [
        LogRecordsBatch(
            origin=Origin(log_stream="instance-1"),
            records=(RawRecord("a", "out.json#e1", "e1", 1), RawRecord("c", "out.json#e3", "e3", 3)),
            source=None,
        ),
        LogRecordsBatch(
            origin=Origin(log_stream="instance-2"),
            records=(RawRecord("b", "out.json#e2", "e2", 2),),
            source=None,
        ),
    ]


def test_get_log_events_output_is_one_batch_located_by_index() -> None:
    """GIVEN `aws logs get-log-events` output (no stream, no event id) WHEN recognised
    THEN one batch with an empty origin and records located by their index."""
    output = {
        "events": [
            {"timestamp": 1603439251354, "message": AURORA_LINE, "ingestionTime": 1603439252000},
            {"timestamp": 1603439251355, "message": "second", "ingestionTime": 1603439252000},
        ],
        "nextForwardToken": "f/1",
        "nextBackwardToken": "b/1",
    }

    assert batches_from_json(output, "get.json") == [
        LogRecordsBatch(
            origin=Origin(),
            records=(
                RawRecord(AURORA_LINE, "get.json#0", "", 1603439251354),
                RawRecord("second", "get.json#1", "", 1603439251355),
            ),
            source=None,
        )
    ]


def test_empty_events_output_gives_no_batch() -> None:
    """GIVEN CLI output with no events WHEN recognised THEN no batch."""
    assert batches_from_json({"events": [], "nextForwardToken": "f/1"}, "e.json") == []


def test_list_of_documents_keeps_order_and_indexes_locations() -> None:
    """GIVEN a JSON array mixing a subscription payload, a control message and a DAS record WHEN recognised
    THEN their batches in order, each located by array index."""
    das = load("das-aurora-mysql-connect.json")
    documents = [rds_subscription(["x"]), load("cwlogs-control-message.vector.json"), [das]]

    batches = batches_from_json(documents, "all.json")

    assert [type(b).__name__ for b in batches] == ["LogRecordsBatch", "ActivityStreamBatch"]
    assert batches[0].records[0].location.startswith("all.json[0]#")  # type: ignore[union-attr]
    assert batches[1] == ActivityStreamBatch(record=das, location="all.json[2][0]")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"foo": 1}, f"f.json: unrecognised JSON object; expected {EXPECTED_DOCUMENTS}"),
        (42, f"f.json: a JSON number is not a document; expected {EXPECTED_DOCUMENTS}"),
        ("text", f"f.json: a JSON string is not a document; expected {EXPECTED_DOCUMENTS}"),
        (None, f"f.json: a JSON null is not a document; expected {EXPECTED_DOCUMENTS}"),
        ({"type": "Something"}, f"f.json: unrecognised JSON object; expected {EXPECTED_DOCUMENTS}"),
        ({"awslogs": "x"}, "f.json: awslogs has no data string"),
        ({"Records": {}}, f"f.json: Records is not an array; expected {EXPECTED_DOCUMENTS}"),
        (
            {"Records": [{"body": "sqs"}]},
            "f.json[0]: Records[0] has neither kinesis.data (Lambda event) nor Data (get-records output) "
            "as a string",
        ),
        ({"events": "x"}, f"f.json: events is not an array; expected {EXPECTED_DOCUMENTS}"),
        ({"events": [1]}, "f.json: events[0] is not an object (got number)"),
        ({"events": [{"timestamp": 1}]}, "f.json: events[0] has no message string"),
        (
            {"events": [{"message": "m", "logStreamName": 5}]},
            "f.json: events[0] logStreamName/eventId must be strings",
        ),
        (
            {"events": [{"message": "m", "timestamp": "x"}]},
            "f.json: events[0].timestamp is not an integer (epoch milliseconds)",
        ),
        ({"messageType": "DATA_MESSAGE"}, "f.json: payload JSON has no logEvents list"),
        ([{"foo": 1}], f"f.json[0]: unrecognised JSON object; expected {EXPECTED_DOCUMENTS}"),
    ],
)
def test_unusable_documents_say_what_was_expected(document: object, message: str) -> None:
    """GIVEN a document replay cannot use WHEN recognised THEN DocumentError naming where and what."""
    with pytest.raises(DocumentError) as caught:
        batches_from_json(document, "f.json")

    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (
            load("cwlogs-lambda-event.aws-lambda-doc.json"),
            "payload is not valid base64 (characters outside the base64 alphabet)",
        ),
        (
            {"awslogs": {"data": base64.b64encode(gzip.compress(b"oops")).decode()}},
            "decoded payload is not JSON (Expecting value at line 1 column 1)",
        ),
        (kinesis_event(gzip.compress(b"oops")[:-4]), "compressed payload is truncated"),
        (
            {"Records": [{"kinesis": {"data": "%%%"}}]},
            "payload is not valid base64 (characters outside the base64 alphabet)",
        ),
    ],
    ids=[
        "truncated lambda doc sample",
        "gzip of non-JSON",
        "truncated gzip in kinesis",
        "bad base64 in kinesis",
    ],
)
def test_corrupt_payloads_become_document_errors(document: object, message: str) -> None:
    """GIVEN a recognised envelope with a corrupt payload WHEN recognised
    THEN DocumentError with the location and the payload reason, caused by the PayloadError."""
    with pytest.raises(DocumentError) as caught:
        batches_from_json(document, "p.json")

    assert str(caught.value).endswith(f": {message}")
    assert str(caught.value).startswith("p.json")
    assert isinstance(caught.value.__cause__, PayloadError)
