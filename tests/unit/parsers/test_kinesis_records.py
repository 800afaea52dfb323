"""Tests for Lambda Kinesis record helpers: strict data decoding and guarded KPL de-aggregation."""

from __future__ import annotations

import base64
import copy
from typing import Any

import pytest
from aws_kinesis_agg import deaggregator
from hypothesis import given, settings
from hypothesis import strategies as st

from parsers.kinesis_records import (
    AggregationError,
    KinesisRecordError,
    deaggregate,
    deaggregate_record,
    is_aggregated,
    record_data,
    sequence_number,
    sub_sequence_number,
)
from tests.das_fixtures import (
    POSTGRES_CLUSTER_ID,
    corrupt_kpl_checksum,
    kinesis_record,
    kpl_aggregate,
    kpl_with_valid_checksum,
    sequence_number_at,
    stream_arn,
)

PAYLOADS = [b'{"type":"DatabaseActivityMonitoringRecords","n":1}', b'{"n":2}', b"\x00\x01binary"]


def record_of(data: bytes, index: int = 0) -> dict[str, Any]:
    """A Lambda Kinesis record from an activity stream carrying `data`."""
    return kinesis_record(data, resource_id=POSTGRES_CLUSTER_ID, index=index)


def aggregate_message(**fields: Any) -> bytes:
    """A serialised KPL AggregatedRecord protobuf (required fields may be left out)."""
    message = deaggregator.messages_pb2.AggregatedRecord()
    message.partition_key_table.extend(fields.get("partition_keys", []))
    message.explicit_hash_key_table.extend(fields.get("hash_keys", []))
    for user in fields.get("records", []):
        added = message.records.add()
        for name, value in user.items():
            setattr(added, name, value)
    return bytes(message.SerializePartialToString())


def test_plain_record_is_returned_as_is() -> None:
    """GIVEN a record that is not a KPL aggregate WHEN de-aggregated THEN it comes back unchanged."""
    record = record_of(PAYLOADS[0])

    user_records = deaggregate([record])

    assert user_records == [record]
    assert user_records[0] is record
    assert record_data(user_records[0]) == PAYLOADS[0]
    assert sub_sequence_number(record) is None


def test_aggregate_splits_into_user_records_keeping_the_parent_sequence_number() -> None:
    """GIVEN a KPL aggregate of three payloads WHEN split THEN three records, parent seq + sub-index."""
    parent = record_of(kpl_aggregate(PAYLOADS, partition_keys=["pk-a", "pk-b", "pk-a"]), index=7)
    untouched = copy.deepcopy(parent)

    user_records = deaggregate([parent])

    assert [record_data(user) for user in user_records] == PAYLOADS
    assert [sequence_number(user) for user in user_records] == [sequence_number_at(7)] * 3
    assert [sub_sequence_number(user) for user in user_records] == [0, 1, 2]
    assert [user["kinesis"]["partitionKey"] for user in user_records] == ["pk-a", "pk-b", "pk-a"]
    assert [user["kinesis"]["explicitHashKey"] for user in user_records] == [None, None, None]
    assert all(isinstance(user["kinesis"]["data"], str) for user in user_records)
    assert {user["eventSourceARN"] for user in user_records} == {stream_arn(POSTGRES_CLUSTER_ID)}
    assert {user["kinesis"]["approximateArrivalTimestamp"] for user in user_records} == {
        parent["kinesis"]["approximateArrivalTimestamp"]
    }
    assert parent == untouched


def test_explicit_hash_keys_are_carried_per_user_record() -> None:
    """GIVEN an aggregate whose user records have explicit hash keys WHEN split THEN each keeps its own."""
    parent = record_of(kpl_aggregate(PAYLOADS[:2], explicit_hash_keys=True))

    user_records = deaggregate_record(parent)

    assert [user["kinesis"]["explicitHashKey"] for user in user_records] == [str(2**127), str(2**127 + 1)]


def test_batch_order_is_preserved_across_plain_and_aggregated_records() -> None:
    """GIVEN plain, aggregated, plain records WHEN de-aggregated THEN user records keep batch order."""
    batch = [record_of(b"first", 0), record_of(kpl_aggregate([b"a", b"b"]), 1), record_of(b"last", 2)]

    user_records = deaggregate(batch)

    assert [record_data(user) for user in user_records] == [b"first", b"a", b"b", b"last"]
    assert [(sequence_number(user), sub_sequence_number(user)) for user in user_records] == [
        (sequence_number_at(0), None),
        (sequence_number_at(1), 0),
        (sequence_number_at(1), 1),
        (sequence_number_at(2), None),
    ]


def test_parent_without_arrival_timestamp_still_splits() -> None:
    """GIVEN an aggregate record lacking the metadata the library indexes WHEN split THEN it still works."""
    parent = record_of(kpl_aggregate([b"a"]))
    del parent["kinesis"]["approximateArrivalTimestamp"]
    del parent["kinesis"]["kinesisSchemaVersion"]

    (user,) = deaggregate_record(parent)

    assert record_data(user) == b"a"
    assert user["kinesis"]["approximateArrivalTimestamp"] is None


def test_empty_aggregate_yields_no_user_records() -> None:
    """GIVEN a well-formed aggregate holding no user records WHEN split THEN nothing (nothing was lost)."""
    assert deaggregate_record(record_of(kpl_with_valid_checksum(b""))) == []
    assert (
        deaggregate_record(record_of(kpl_with_valid_checksum(aggregate_message(partition_keys=["a"])))) == []
    )


CHECKSUM_MISMATCH = "KPL aggregate MD5 checksum does not match (corrupt or truncated)"


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        pytest.param(corrupt_kpl_checksum(kpl_aggregate(PAYLOADS)), CHECKSUM_MISMATCH, id="flipped-md5"),
        pytest.param(kpl_aggregate(PAYLOADS)[:-30], CHECKSUM_MISMATCH, id="truncated-aggregate"),
        pytest.param(
            b"\xf3\x89\x9a\xc2" + b"\x00" * 10,
            "KPL aggregate is truncated (shorter than its MD5 checksum)",
            id="shorter-than-md5",
        ),
        pytest.param(
            kpl_with_valid_checksum(b"\xff\xff\xff not protobuf"),
            "KPL aggregate protobuf does not parse",
            id="garbage-protobuf",
        ),
        pytest.param(
            kpl_with_valid_checksum(aggregate_message(partition_keys=["a"], records=[{"data": b"x"}])),
            "KPL aggregate protobuf lacks required fields",
            id="missing-partition-key-index",
        ),
        pytest.param(
            kpl_with_valid_checksum(
                aggregate_message(partition_keys=["a"], records=[{"partition_key_index": 3, "data": b"x"}])
            ),
            "KPL user record 0 names partition key 3 of a 1-entry table",
            id="partition-key-out-of-range",
        ),
        pytest.param(
            kpl_with_valid_checksum(
                aggregate_message(
                    partition_keys=["a"],
                    hash_keys=["1"],
                    records=[
                        {"partition_key_index": 0, "data": b"x"},
                        {"partition_key_index": 0, "explicit_hash_key_index": 2, "data": b"y"},
                    ],
                )
            ),
            "KPL user record 1 names explicit hash key 2 of a 1-entry table",
            id="hash-key-out-of-range",
        ),
    ],
)
def test_corrupt_aggregate_raises_for_that_parent(
    data: bytes, reason: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """GIVEN a corrupt KPL aggregate WHEN split THEN AggregationError with the parent's sequence number.

    aws-kinesis-agg alone would pass it through as a plain record or print and drop it.
    """
    parent = record_of(data, index=4)

    with pytest.raises(AggregationError) as caught:
        deaggregate([record_of(b"fine", 3), parent])

    assert caught.value.reason == reason
    assert caught.value.sequence_number == sequence_number_at(4)
    assert str(caught.value) == f"{reason} (sequence number {sequence_number_at(4)})"
    assert caught.value.retryable is False
    assert capsys.readouterr() == ("", "")


def test_per_parent_loop_isolates_a_corrupt_aggregate() -> None:
    """GIVEN one corrupt aggregate among good records WHEN split parent by parent THEN only it fails."""
    batch = [
        record_of(kpl_aggregate([b"a", b"b"]), 0),
        record_of(corrupt_kpl_checksum(kpl_aggregate([b"c"])), 1),
        record_of(b"d", 2),
    ]
    user_data: list[bytes] = []
    failed: list[str] = []

    for parent in batch:
        try:
            user_data.extend(record_data(user) for user in deaggregate_record(parent))
        except KinesisRecordError as exc:
            failed.append(exc.sequence_number)

    assert user_data == [b"a", b"b", b"d"]
    assert failed == [sequence_number_at(1)]


@pytest.mark.parametrize(
    ("kinesis", "reason"),
    [
        ({"sequenceNumber": "42"}, "Kinesis record has no kinesis.data"),
        ({"sequenceNumber": "42", "data": 5}, "Kinesis record has no kinesis.data"),
        ({"sequenceNumber": "42", "data": "abc$"}, "Kinesis record data is not valid base64"),
        ({"sequenceNumber": "42", "data": "abcde"}, "Kinesis record data is not valid base64"),
    ],
)
def test_unreadable_record_raises_kinesis_record_error(kinesis: dict[str, Any], reason: str) -> None:
    """GIVEN a record without usable data WHEN read THEN KinesisRecordError with its sequence number."""
    with pytest.raises(KinesisRecordError) as caught:
        deaggregate_record({"kinesis": kinesis})

    assert not isinstance(caught.value, AggregationError)
    assert (caught.value.reason, caught.value.sequence_number) == (reason, "42")


def test_record_without_kinesis_section_names_an_unknown_sequence_number() -> None:
    """GIVEN a dict that is not a Kinesis record WHEN read THEN the error says the sequence is unknown."""
    with pytest.raises(
        KinesisRecordError, match=r"^Kinesis record has no kinesis.data \(sequence number unknown\)$"
    ):
        record_data({"Records": []})


def test_record_data_accepts_the_bytes_the_library_emits() -> None:
    """GIVEN data as base64 bytes (aws-kinesis-agg's own shape) WHEN read THEN it decodes the same."""
    assert record_data({"kinesis": {"data": base64.b64encode(b"xyz")}}) == b"xyz"


@pytest.mark.parametrize(
    ("data", "aggregated"),
    [(b"\xf3\x89\x9a\xc2rest", True), (b"\xf3\x89\x9a", False), (b'{"type":"x"}', False), (b"", False)],
)
def test_is_aggregated_checks_the_kpl_magic(data: bytes, aggregated: bool) -> None:
    """GIVEN decoded record data WHEN checked THEN only the KPL magic prefix counts as aggregated."""
    assert is_aggregated(data) is aggregated


@settings(max_examples=100, deadline=None)
@given(payloads=st.lists(st.binary(max_size=64), min_size=1, max_size=20))
def test_any_aggregate_round_trips(payloads: list[bytes]) -> None:
    """GIVEN any payloads aggregated by RecordAggregator WHEN split THEN the same payloads, in order."""
    user_records = deaggregate([record_of(kpl_aggregate(payloads), index=1)])

    assert [record_data(user) for user in user_records] == payloads
    assert [sub_sequence_number(user) for user in user_records] == list(range(len(payloads)))
