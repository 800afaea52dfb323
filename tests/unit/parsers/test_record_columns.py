"""A CloudWatch payload's records held as columns (parsers/records.py RecordColumns) and how
decoding fills them (parsers/cloudwatch_logs.py): they read exactly as the tuple of RawRecords the
decoder built one event at a time."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parsers.cloudwatch_logs import PayloadError, _raw_record, _record_columns, log_batch_from_json
from parsers.records import RawRecord, RecordColumns

RECORDS = (
    RawRecord("one", "g/s#a", "a", 5),
    RawRecord("two", "g/s#b", "b", None),
    RawRecord("", "g/s#", "", 7),
)


def _columns() -> RecordColumns:
    """RECORDS as columns."""
    return RecordColumns(["one", "two", ""], ["a", "b", ""], [5, None, 7], "g/s#")


def test_columns_read_as_the_tuple_of_their_records() -> None:
    # GIVEN three records held as columns
    columns = _columns()
    # WHEN read by length, index, slice, iteration and membership
    # THEN each answer is the tuple's
    assert len(columns) == 3
    assert bool(columns) is True
    assert [columns[0], columns[-1]] == [RECORDS[0], RECORDS[-1]]
    assert columns[1:] == RECORDS[1:]
    assert list(columns) == list(RECORDS)
    assert RECORDS[1] in columns
    assert columns.index(RECORDS[2]) == 2
    assert repr(columns) == f"RecordColumns{RECORDS!r}"
    with pytest.raises(IndexError):
        columns[3]


def test_columns_equal_their_tuple_and_other_columns_of_the_same_records() -> None:
    # GIVEN the same records as columns twice, and as a tuple
    columns, again = _columns(), _columns()
    # WHEN compared THEN equal both ways; other records, a list or empty columns are not equal
    assert columns == RECORDS
    assert RECORDS == columns  # noqa: SIM300 - the tuple on the left: its reflected comparison
    assert columns == again
    assert columns != RECORDS[:2]
    assert columns != list(RECORDS)
    assert RecordColumns([], [], [], "g/s#") == ()
    assert RecordColumns([], [], [], "g/s#") != columns


def test_picked_builds_the_flagged_records_only_in_order() -> None:
    # GIVEN three records as columns
    columns = _columns()
    # WHEN records are picked by flags THEN exactly the flagged ones come back, in order
    assert columns.picked([True, False, True]) == [RECORDS[0], RECORDS[2]]
    assert columns.picked([False, False, False]) == []
    assert columns.picked([True, True, True]) == list(RECORDS)
    assert all(type(record) is RawRecord for record in columns.picked([True, True, True]))


MESSAGES = st.one_of(st.text(max_size=5), st.integers(), st.none())
IDS = st.one_of(st.text(max_size=4), st.integers(-5, 10**30), st.booleans(), st.none(), st.floats(0, 9))
TIMESTAMPS = st.one_of(
    st.integers(-(10**20), 10**20),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(alphabet="0123456789x٣", max_size=22),
    st.booleans(),
    st.none(),
)
EVENTS = st.one_of(
    st.fixed_dictionaries({}, optional={"message": MESSAGES, "id": IDS, "timestamp": TIMESTAMPS}),
    st.fixed_dictionaries(
        {"message": st.text(max_size=5), "id": st.text(max_size=3), "timestamp": st.integers()}
    ),
    st.sampled_from(["text", 3, None, [], True]),
)


def _one_at_a_time(events: list[object], stream_path: str) -> tuple[RawRecord, ...] | str:
    """The careful per-event reading, or the message of the PayloadError it raises."""
    try:
        return tuple(_raw_record(event, index, stream_path) for index, event in enumerate(events))
    except PayloadError as exc:
        return str(exc)


@settings(max_examples=400, deadline=None)
@given(events=st.lists(EVENTS, max_size=6))
def test_columns_hold_what_the_careful_reading_gives_for_any_events(events: list[object]) -> None:
    # GIVEN log events of every shape: what CloudWatch sends, drifted types, missing keys, non-objects
    expected = _one_at_a_time(events, "g/s")
    # WHEN read into columns
    try:
        got: tuple[RawRecord, ...] | str = tuple(_record_columns(events, "g/s"))
    except PayloadError as exc:
        got = str(exc)
    # THEN the records, or the first bad event's error, are the careful reading's
    assert got == expected


def test_exact_types_only_take_the_column_path() -> None:
    # GIVEN events CloudWatch sends, and the same with a boolean timestamp and a float one
    good = [{"id": "1", "timestamp": 5, "message": "m"}, {"id": "2", "timestamp": 6, "message": "n"}]
    document = {"messageType": "DATA_MESSAGE", "logGroup": "g", "logStream": "s", "logEvents": good}
    # WHEN read THEN the records are exact and a boolean timestamp is still refused by index
    assert log_batch_from_json(document).records == (
        RawRecord("m", "g/s#1", "1", 5),
        RawRecord("n", "g/s#2", "2", 6),
    )
    with pytest.raises(PayloadError, match=r"^logEvents\[1\]\.timestamp is a boolean"):
        log_batch_from_json({**document, "logEvents": [good[0], {**good[1], "timestamp": True}]})
    float_stamp = log_batch_from_json({**document, "logEvents": [good[0], {**good[1], "timestamp": 6.0}]})
    assert float_stamp.records[1].timestamp_ms == 6
    assert type(float_stamp.records[1].timestamp_ms) is int


def test_columns_hash_as_the_tuple_they_equal_so_a_batch_stays_hashable() -> None:
    # GIVEN records held as columns, and two batches decoded from one subscription document
    columns = _columns()
    document = {
        "messageType": "DATA_MESSAGE",
        "logGroup": "/aws/rds/cluster/c1/audit",
        "logStream": "i-1",
        "logEvents": [{"id": "1", "timestamp": 5, "message": "x"}],
    }
    first, second = log_batch_from_json(document), log_batch_from_json(document)
    # WHEN hashed
    # THEN the columns hash as the equal tuple, and a batch (a frozen value) is hashable as before
    assert hash(columns) == hash(RECORDS)
    assert {columns: 1}[RECORDS] == 1
    assert hash(first) == hash(second)
