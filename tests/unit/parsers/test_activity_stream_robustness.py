"""Tests for DAS type drift, timestamps, malformed items and arbitrary JSON (parsers/activity_stream.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parsers.activity_stream import parse_activity_stream_record
from parsers.event import AuditEvent, ParseFailure
from tests.unit.parsers.activity_stream_records import MYSQL_CONNECT, PG_CONNECT, parse_one, record_of

# (field, value as sent, normalised text) — FORMATS 4.7 pitfall 2.
TYPE_DRIFT: list[tuple[str, object, str]] = [
    ("exitCode", 0, "0"),
    ("exitCode", "0", "0"),
    ("exitCode", "", ""),
    ("exitCode", None, ""),
    ("exitCode", 0.0, "0"),
    ("sessionId", 725121, "725121"),
    ("sessionId", "725121", "725121"),
    ("sessionId", "5ce5f7f0.474b", "5ce5f7f0.474b"),
    ("sessionId", None, ""),
    ("remotePort", "11053", "11053"),
    ("remotePort", 11053, "11053"),
    ("remotePort", None, ""),
    ("dbUserName", None, ""),
    ("databaseName", "", ""),
    ("objectName", None, ""),
    ("commandText", None, ""),
    ("commandText", "", ""),
]
EVENT_FIELD = {
    "exitCode": "status",
    "sessionId": "session_id",
    "remotePort": "client_port",
    "dbUserName": "user",
    "databaseName": "database",
    "objectName": "object",
}


@pytest.mark.parametrize(("field", "value", "expected"), TYPE_DRIFT)
def test_type_drift_is_normalised(field: str, value: object, expected: str) -> None:
    """GIVEN a field sent as int, string, "" or null WHEN parsed THEN one comparable text form."""
    base = {**MYSQL_CONNECT, "command": "QUERY"}
    event = parse_one({**base, field: value})

    if field == "commandText":
        assert event.statement is None
    else:
        assert getattr(event, EVENT_FIELD[field]) == expected


@pytest.mark.parametrize(
    ("statement_id", "substatement_id", "expected_pg", "expected_mysql"),
    [
        (6, 1, "6.1", "2830:6"),
        ("6", "1", "6.1", "2830:6"),
        (
            "0x03baed90412f564fad640ebe51f89b99",
            1,
            "0x03baed90412f564fad640ebe51f89b99.1",
            "2830:0x03baed90412f564fad640ebe51f89b99",
        ),
        (44, None, "44", "2830:44"),
        (None, None, "", "2830:"),
    ],
)
def test_statement_id_drift(
    statement_id: object, substatement_id: object, expected_pg: str, expected_mysql: str
) -> None:
    """GIVEN statementId/substatementId as int, string, hex or null WHEN parsed THEN stable query ids."""
    ids = {"statementId": statement_id, "substatementId": substatement_id, "pid": 2830}

    assert parse_one({**PG_CONNECT, **ids}).query_id == expected_pg
    assert parse_one({**MYSQL_CONNECT, **ids}).query_id == expected_mysql


@pytest.mark.parametrize(
    ("log_time", "expected"),
    [
        ("2019-10-30 00:39:49.990579+00", datetime(2019, 10, 30, 0, 39, 49, 990579, tzinfo=UTC)),
        ("2022-10-06 21:24:59.9422268+00", datetime(2022, 10, 6, 21, 24, 59, 942226, tzinfo=UTC)),
        (
            "2021-01-15 00:25:18.850375",
            datetime(2021, 1, 15, 0, 25, 18, 850375, tzinfo=UTC),
        ),  # no offset → UTC
        ("2021-01-15T02:25:18+02:00", datetime(2021, 1, 15, 0, 25, 18, tzinfo=UTC)),
        ("2021-01-15T00:25:18Z", datetime(2021, 1, 15, 0, 25, 18, tzinfo=UTC)),
    ],
)
def test_log_time_forms(log_time: str, expected: datetime) -> None:
    """GIVEN logTime with +00, 7 fractional digits, no offset, another offset or Z WHEN parsed THEN UTC."""
    event = parse_one({**PG_CONNECT, "logTime": log_time})

    assert event.time == expected
    assert event.time.utcoffset() is not None


@pytest.mark.parametrize(
    ("item", "reason"),
    [
        ("not an object", "activity event is not an object (got string)"),
        (None, "activity event is not an object (got null)"),
        ([1, 2], "activity event is not an object (got array)"),
        ({"type": "record", "command": "CONNECT"}, "activity event has no logTime"),
        ({"type": "record", "logTime": ""}, "activity event has no logTime"),
        ({"type": "record", "logTime": 1590170833}, "activity event logTime is not a string"),
        ({"type": "record", "logTime": "  "}, "activity event logTime is not an ISO 8601 timestamp"),
        ({"type": "record", "logTime": "yesterday"}, "activity event logTime is not an ISO 8601 timestamp"),
        (
            {"type": "record", "logTime": "0001-01-01 00:00:00+05:00"},
            "activity event logTime is out of range",
        ),
    ],
)
def test_malformed_item_is_one_failure_and_the_rest_still_parse(item: object, reason: str) -> None:
    """GIVEN a malformed item between two good ones WHEN parsed THEN a ParseFailure for it only."""
    record = record_of(MYSQL_CONNECT, item, PG_CONNECT)

    results = list(parse_activity_stream_record(record, "file.json"))

    assert [type(r).__name__ for r in results] == ["AuditEvent", "ParseFailure", "AuditEvent"]
    failure = results[1]
    assert isinstance(failure, ParseFailure)
    assert (failure.source, failure.reason, failure.location) == ("activity_stream", reason, "file.json[1]")
    assert json.loads(failure.raw) == item


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        ("text", "activity-stream record is not an object (got string)"),
        ([1], "activity-stream record is not an object (got array)"),
        (
            {"type": "DatabaseActivityMonitoringRecord"},
            "activity-stream record has no databaseActivityEventList array",
        ),
        (
            {"type": "DatabaseActivityMonitoringRecord", "databaseActivityEventList": {"a": 1}},
            "activity-stream record has no databaseActivityEventList array",
        ),
        (
            {"type": "DatabaseActivityMonitoringRecords", "databaseActivityEvents": None},
            "activity-stream record is still encrypted (decrypt the envelope first)",
        ),
    ],
)
def test_unusable_record_is_one_failure(record: object, reason: str) -> None:
    """GIVEN a record that is not an object or has no event list WHEN parsed THEN exactly one ParseFailure."""
    results = list(parse_activity_stream_record(record, "kinesis:1"))  # type: ignore[arg-type]

    assert results == [
        ParseFailure(
            source="activity_stream",
            reason=reason,
            raw=json.dumps(record, separators=(",", ":")),
            location="kinesis:1",
        )
    ]


@pytest.mark.parametrize(
    ("cluster_id", "instance_id", "expected"),
    [("cluster-A", "db-B", "cluster-A"), ("", "db-B", "db-B"), (None, "db-B", "db-B"), (None, None, "")],
)
def test_cluster_falls_back_to_instance(cluster_id: object, instance_id: object, expected: str) -> None:
    """GIVEN clusterId empty/null (RDS instance streams) WHEN parsed THEN cluster is the instanceId."""
    results = list(
        parse_activity_stream_record(record_of(PG_CONNECT, cluster_id=cluster_id, instance_id=instance_id))
    )

    assert [r.cluster for r in results if isinstance(r, AuditEvent)] == [expected]
    assert results[0].location == "[0]"


def test_event_id_is_stable_across_parses() -> None:
    """GIVEN the same record parsed twice WHEN event ids are compared THEN equal (dedup key)."""
    record = record_of(MYSQL_CONNECT)

    first = [r.event_id for r in parse_activity_stream_record(record) if isinstance(r, AuditEvent)]
    second = [r.event_id for r in parse_activity_stream_record(record) if isinstance(r, AuditEvent)]

    assert first == second == ["cluster-ABC:2830:0:1:2020-05-22 18:07:13.267214+00"]


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=15), children, max_size=5)
    ),
    max_leaves=25,
)
FIELD_VALUES = JSON_VALUES | st.sampled_from(
    [
        "CONNECT",
        "FAILED_CONNECT",
        "AUTH FAILURE",
        "LOGIN FAILED",
        "MAIN",
        "AUX",
        "MISC",
        "CONNECT",
        "heartbeat",
        "PostgreSQL",
        "MySQL",
        "SQLSERVER",
        "oracle",
        "2020-05-22 18:07:13.267214+00",
        "9999-12-31 23:59:59-05:00",
    ]
)
ITEM_FIELDS = [
    "type",
    "logTime",
    "class",
    "command",
    "commandText",
    "exitCode",
    "errorMessage",
    "serverType",
    "serviceName",
    "statementId",
    "substatementId",
    "pid",
    "sessionId",
    "engineNativeAuditFields",
]
ITEMS = JSON_VALUES | st.dictionaries(st.sampled_from(ITEM_FIELDS), FIELD_VALUES, max_size=len(ITEM_FIELDS))
RECORDS = JSON_VALUES | st.fixed_dictionaries(
    {"databaseActivityEventList": st.lists(ITEMS, max_size=4)},
    optional={"type": FIELD_VALUES, "clusterId": FIELD_VALUES, "instanceId": FIELD_VALUES},
)


@settings(max_examples=300, deadline=None)
@given(RECORDS)
def test_arbitrary_json_never_raises(record: object) -> None:
    """GIVEN any JSON value (incl. record-like objects with drifting fields) WHEN parsed
    THEN only AuditEvents and ParseFailures come out, never an exception."""
    results = list(parse_activity_stream_record(record))  # type: ignore[arg-type]

    assert all(isinstance(r, AuditEvent | ParseFailure) for r in results)
    assert all(r.time.tzinfo is not None for r in results if isinstance(r, AuditEvent))
    # The isolation boundary must not be what keeps this quiet: every failure has a stated reason.
    assert not [
        r.reason for r in results if isinstance(r, ParseFailure) and r.reason.startswith("unexpected")
    ]
