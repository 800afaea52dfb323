"""Tests for parsing decrypted Database Activity Stream records: every AWS doc sample, field by field."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from parsers.activity_stream import parse_activity_stream_record
from parsers.event import Action, AuditEvent, ParseFailure, Source

SAMPLES = Path(__file__).resolve().parents[2] / "data" / "samples"
ORACLE_INSTANCE = "db-ORACLEEXAMPLE"


def load_record(name: str) -> dict[str, object]:
    """A sample as a decrypted record; the RDS for Oracle samples are bare events, so wrap them."""
    document: dict[str, object] = json.loads((SAMPLES / name).read_text(encoding="utf-8"))
    if "databaseActivityEventList" in document or "databaseActivityEvents" in document:
        return document
    return {
        "type": "DatabaseActivityMonitoringRecord",
        "clusterId": "",
        "instanceId": ORACLE_INSTANCE,
        "databaseActivityEventList": [document],
    }


def event_items(record: dict[str, object]) -> list[object]:
    """The activity-event list of a record, looking inside a doc-style envelope."""
    inner = record.get("databaseActivityEvents", record)
    assert isinstance(inner, dict)
    items = inner["databaseActivityEventList"]
    assert isinstance(items, list)
    return items


def utc(text: str) -> datetime:
    """A UTC datetime from 'YYYY-MM-DD HH:MM:SS.ffffff'."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


APG_CLUSTER = "cluster-4HNY5V4RRNPKKYB7ICFKE5JBQQ"
SQLSERVER_INSTANCE = "db-4JCWQLUZVFYP7DIWP6JVQ77O3Q"

# sample file → the one event it must produce (raw checked separately).
EXPECTED: dict[str, AuditEvent] = {
    "das-aurora-postgresql-connect.json": AuditEvent(
        source=Source.ACTIVITY_STREAM,
        time=utc("2019-10-30 00:39:49.990579"),
        action=Action.CONNECT,
        engine="aurora-postgresql",
        cluster=APG_CLUSTER,
        server_host="172.31.3.192",
        user="rdsadmin",
        client_host="172.31.3.195",
        client_port="49804",
        session_id="5ce5f7f0.474b",
        query_id="1.1",
        command="CONNECT",
        database="postgres",
        statement=None,
        event_id=f"{APG_CLUSTER}:18251:1:1:2019-10-30 00:39:49.990579+00",
        location="das-aurora-postgresql-connect.json[0]",
    ),
    "das-aurora-postgresql-create-table.json": AuditEvent(
        source=Source.ACTIVITY_STREAM,
        time=utc("2019-05-24 00:36:54.494235"),
        action=Action.QUERY_DDL,
        engine="aurora-postgresql",
        cluster=APG_CLUSTER,
        server_host="172.31.3.192",
        user="rdsadmin",
        client_host="172.31.3.195",
        client_port="34534",
        session_id="5ce73c6f.7e64",
        query_id="2.1",
        command="CREATE TABLE",
        database="postgres",
        statement="create table my_table (id serial primary key, name varchar(32));",
        event_id=f"{APG_CLUSTER}:32356:2:1:2019-05-24 00:36:54.494235+00",
        location="das-aurora-postgresql-create-table.json[0]",
    ),
    "das-aurora-postgresql-select.json": AuditEvent(
        source=Source.ACTIVITY_STREAM,
        time=utc("2019-05-24 00:39:49.940668"),
        action=Action.QUERY_DML,
        engine="aurora-postgresql",
        cluster=APG_CLUSTER,
        server_host="172.31.3.192",
        user="rdsadmin",
        client_host="172.31.3.195",
        client_port="34534",
        session_id="5ce73c6f.7e64",
        query_id="6.1",
        command="SELECT",
        database="postgres",
        object="public.my_table",
        object_type="TABLE",
        statement="select * from my_table;",
        event_id=f"{APG_CLUSTER}:32356:6:1:2019-05-24 00:39:49.940668+00",
        location="das-aurora-postgresql-select.json[0]",
    ),
    "das-aurora-mysql-connect.json": AuditEvent(
        source=Source.ACTIVITY_STREAM,
        time=utc("2020-05-22 18:07:13.267214"),
        action=Action.CONNECT,
        engine="aurora-mysql",
        cluster="cluster-some_id",
        server_host="master",
        user="rdsadmin",
        client_host="localhost",
        client_port="11053",
        session_id="725121",
        query_id="2830:0",
        command="CONNECT",
        object_type="TABLE",
        statement=None,
        status="0",
        event_id="cluster-some_id:2830:0:1:2020-05-22 18:07:13.267214+00",
        location="das-aurora-mysql-connect.json[0]",
    ),
    "das-aurora-mysql-create-table-main.json": AuditEvent(
        source=Source.ACTIVITY_STREAM,
        time=utc("2020-05-22 18:07:12.250221"),
        action=Action.QUERY,
        engine="aurora-mysql",
        cluster="cluster-some_id",
        server_host="master",
        user="master",
        client_host="localhost",
        client_port="11054",
        session_id="725118",
        query_id="2830:65459278",
        command="QUERY",
        database="test",
        object="test1",
        object_type="TABLE",
        statement="CREATE TABLE test1 (id INT)",
        status="0",
        event_id="cluster-some_id:2830:65459278:1:2020-05-22 18:07:12.250221+00",
        location="das-aurora-mysql-create-table-main.json[0]",
    ),
    "das-aurora-mysql-create-table-aux.json": AuditEvent(
        source=Source.ACTIVITY_STREAM,
        time=utc("2020-05-22 18:07:12.247182"),
        action=Action.TABLE,
        engine="aurora-mysql",
        cluster="cluster-some_id",
        server_host="master",
        user="master",
        client_host="localhost",
        client_port="11054",
        session_id="725118",
        query_id="2830:65459278",
        command="CREATE",
        database="test",
        object="test1",
        object_type="TABLE",
        statement=None,  # AUX commandText is only the object name; the MAIN event has the SQL
        status="",
        event_id="cluster-some_id:2830:65459278:2:2020-05-22 18:07:12.247182+00",
        location="das-aurora-mysql-create-table-aux.json[0]",
    ),
    "das-aurora-mysql-select-main.json": AuditEvent(
        source=Source.ACTIVITY_STREAM,
        time=utc("2020-05-22 18:29:57.986467"),
        action=Action.QUERY,
        engine="aurora-mysql",
        cluster="cluster-some_id",
        server_host="master",
        user="master",
        client_host="localhost",
        client_port="11054",
        session_id="726571",
        query_id="2830:65469218",
        command="QUERY",
        database="test",
        object="test1",
        object_type="TABLE",
        statement="SELECT * FROM test1 WHERE id < 28",
        status="0",
        event_id="cluster-some_id:2830:65469218:1:2020-05-22 18:29:57.986467+00",
        location="das-aurora-mysql-select-main.json[0]",
    ),
    # This doc sample has no clusterId: the cluster falls back to instanceId.
    "das-aurora-mysql-select-aux.json": AuditEvent(
        source=Source.ACTIVITY_STREAM,
        time=utc("2020-05-22 18:29:57.986399"),
        action=Action.TABLE,
        engine="aurora-mysql",
        cluster="db-some_id",
        server_host="master",
        user="master",
        client_host="localhost",
        client_port="11054",
        session_id="726571",
        query_id="2830:65469218",
        command="READ",
        database="test",
        object="test1",
        object_type="TABLE",
        statement=None,
        status="",
        event_id="db-some_id:2830:65469218:2:2020-05-22 18:29:57.986399+00",
        location="das-aurora-mysql-select-aux.json[0]",
    ),
    "das-sqlserver-login-failed.fixed.json": AuditEvent(
        source=Source.ACTIVITY_STREAM,
        time=utc("2022-10-06 21:34:42.711307"),
        action=Action.FAILED_CONNECT,
        engine="sqlserver",
        cluster=SQLSERVER_INSTANCE,
        server_host="172.31.30.159",
        user="test",
        client_host="local machine",
        session_id="0",
        query_id="0x1eb0d1808d34a94b9d3dcf5432750f02.1",
        command="LOGIN FAILED",
        object_type="LOGIN",
        statement=None,
        status="18456",  # <error>0x00004818</error> from engineNativeAuditFields.additional_information
        error_message=(
            "Login failed for user 'test'. Reason: Password did not match that for the login provided."
            " [CLIENT: local-machine]"
        ),
        event_id=f"{SQLSERVER_INSTANCE}::0x1eb0d1808d34a94b9d3dcf5432750f02:1:2022-10-06 21:34:42.7113072+00",
        location="das-sqlserver-login-failed.fixed.json[0]",
    ),
    "das-sqlserver-select.json": AuditEvent(
        source=Source.ACTIVITY_STREAM,
        time=utc("2022-10-06 21:24:59.942226"),
        action=Action.QUERY,
        engine="sqlserver",
        cluster=SQLSERVER_INSTANCE,
        server_host="172.31.30.159",
        user="test",
        client_host="local machine",
        session_id="62",
        query_id="0x03baed90412f564fad640ebe51f89b99.1",
        command="SELECT",
        database="testDB",
        object="TestTable",
        object_type="TABLE",
        statement="select * from [testDB].[dbo].[TestTable]",
        status="0",  # exitCode 1 = succeeded on SQL Server
        event_id=f"{SQLSERVER_INSTANCE}::0x03baed90412f564fad640ebe51f89b99:1:2022-10-06 21:24:59.9422268+00",
        location="das-sqlserver-select.json[0]",
    ),
    "das-sqlserver-create-table.json": AuditEvent(
        source=Source.ACTIVITY_STREAM,
        time=utc("2022-10-06 21:44:38.412067"),
        action=Action.QUERY,
        engine="sqlserver",
        cluster=SQLSERVER_INSTANCE,
        server_host="172.31.30.159",
        user="test",
        client_host="local machine",
        session_id="84",
        query_id="0x5178d33d56e95e419558b9607158a5bd.1",
        command="ALTER",
        database="testDB",
        object="dbo",
        object_type="SCHEMA",
        statement=(
            "Create table [testDB].[dbo].[TestTable2](\r\ntextA varchar(6000),\r\n"
            "    textB varchar(6000)\r\n)"
        ),
        status="0",
        event_id=f"{SQLSERVER_INSTANCE}::0x5178d33d56e95e419558b9607158a5bd:1:2022-10-06 21:44:38.4120677+00",
        location="das-sqlserver-create-table.json[0]",
    ),
    # Oracle logTime has no offset: read as UTC. substatementId is null: query_id is statementId alone.
    "das-oracle-connect.fixed.json": AuditEvent(
        source=Source.ACTIVITY_STREAM,
        time=utc("2021-01-15 00:15:36.233787"),
        action=Action.CONNECT,
        engine="oracle",
        cluster=ORACLE_INSTANCE,
        server_host="987.654.321.098",
        user="TEST",
        client_host="123.456.789.012",
        client_port="25440",
        session_id="987654321",
        query_id="1",
        command="LOGON",
        database="ORCL",
        statement=None,
        status="0",
        event_id=f"{ORACLE_INSTANCE}:17904:1::2021-01-15 00:15:36.233787",
        location="das-oracle-connect.fixed.json[0]",
    ),
    "das-oracle-create-table.json": AuditEvent(
        source=Source.ACTIVITY_STREAM,
        time=utc("2021-01-15 00:22:49.535239"),
        action=Action.QUERY,
        engine="oracle",
        cluster=ORACLE_INSTANCE,
        server_host="987.654.321.01",
        user="TEST",
        client_host="123.456.789.0",
        session_id="1234567890",
        query_id="43",
        command="CREATE TABLE",
        database="ORCL",
        object="PERSONS",
        object_type="TEST",
        statement=(
            "CREATE TABLE persons(\n    person_id NUMBER GENERATED BY DEFAULT AS IDENTITY,\n"
            "    first_name VARCHAR2(50) NOT NULL,\n    last_name VARCHAR2(50) NOT NULL,\n"
            "    PRIMARY KEY(person_id)\n)"
        ),
        status="0",
        event_id=f"{ORACLE_INSTANCE}:17687:43::2021-01-15 00:22:49.535239",
        location="das-oracle-create-table.json[0]",
    ),
    "das-oracle-select.json": AuditEvent(
        source=Source.ACTIVITY_STREAM,
        time=utc("2021-01-15 00:25:18.850375"),
        action=Action.QUERY,
        engine="oracle",
        cluster=ORACLE_INSTANCE,
        server_host="987.654.321.09",
        user="TEST",
        client_host="123.456.789.0",
        session_id="1080639707",
        query_id="44",
        command="SELECT",
        database="1234567890",
        object="PERSONS",
        object_type="TEST",
        statement="select count(*) from persons",
        status="0",
        event_id=f"{ORACLE_INSTANCE}:17687:44::2021-01-15 00:25:18.850375",
        location="das-oracle-select.json[0]",
    ),
}


@pytest.mark.parametrize("sample", list(EXPECTED))
def test_every_doc_sample_parses_to_exact_fields(sample: str) -> None:
    """GIVEN a decrypted DAS doc sample WHEN parsed THEN exactly one event with every field as expected,
    and raw holds the event's JSON."""
    record = load_record(sample)

    results = list(parse_activity_stream_record(record, sample))

    assert len(results) == 1
    event = results[0]
    assert isinstance(event, AuditEvent)
    assert replace(event, raw="") == EXPECTED[sample]
    assert json.loads(event.raw) == event_items(record)[0]


def test_all_das_event_samples_are_covered() -> None:
    """GIVEN the stored das-* samples WHEN listed THEN each event sample has an expected event above."""
    stored = {path.name for path in SAMPLES.glob("das-*.json") if not path.name.startswith("das-envelope")}

    assert stored == set(EXPECTED)


def test_postgres_sample_parses_the_same_unwrapped() -> None:
    """GIVEN an Aurora PostgreSQL doc sample (printed nested inside the envelope) WHEN the inner record
    is parsed directly THEN the event is the same."""
    document = load_record("das-aurora-postgresql-select.json")

    nested = list(parse_activity_stream_record(document, "x"))
    inner = list(parse_activity_stream_record(document["databaseActivityEvents"], "x"))  # type: ignore[arg-type]

    assert nested == inner


def test_mysql_main_and_aux_share_query_id_across_records_in_any_order() -> None:
    """GIVEN the MAIN and AUX halves of one statement in separate records, AUX first
    WHEN each record is parsed THEN both carry pid:statementId as query_id and the same session."""
    aux = list(parse_activity_stream_record(load_record("das-aurora-mysql-create-table-aux.json"), "r1"))
    main = list(parse_activity_stream_record(load_record("das-aurora-mysql-create-table-main.json"), "r2"))

    assert [(e.action, e.query_id, e.session_id) for e in aux + main if isinstance(e, AuditEvent)] == [
        (Action.TABLE, "2830:65459278", "725118"),
        (Action.QUERY, "2830:65459278", "725118"),
    ]
    assert aux[0].event_id != main[0].event_id  # type: ignore[union-attr]


def test_many_events_in_one_record_keep_order_and_positions() -> None:
    """GIVEN one record listing SELECT MAIN, its AUX and a heartbeat WHEN parsed
    THEN two events in list order with their list positions, the heartbeat skipped."""
    main = event_items(load_record("das-aurora-mysql-select-main.json"))[0]
    aux = event_items(load_record("das-aurora-mysql-select-aux.json"))[0]
    record = {
        "type": "DatabaseActivityMonitoringRecord",
        "clusterId": "cluster-X",
        "instanceId": "db-Y",
        "databaseActivityEventList": [main, {"type": "heartbeat"}, aux],
    }

    results = list(parse_activity_stream_record(record, "shard-1:42"))

    assert [(type(r).__name__, r.location) for r in results] == [
        ("AuditEvent", "shard-1:42[0]"),
        ("AuditEvent", "shard-1:42[2]"),
    ]
    assert {r.cluster for r in results if isinstance(r, AuditEvent)} == {"cluster-X"}


@pytest.mark.parametrize(
    "envelope",
    ["das-envelope-aurora-v1.1.json", "das-envelope-rds-v1.3.json"],
)
def test_encrypted_envelope_is_one_failure(envelope: str) -> None:
    """GIVEN an envelope still holding ciphertext WHEN parsed THEN one ParseFailure: decrypt first."""
    document = json.loads((SAMPLES / envelope).read_text(encoding="utf-8"))

    results = list(parse_activity_stream_record(document, envelope))

    assert len(results) == 1
    failure = results[0]
    assert isinstance(failure, ParseFailure)
    assert (failure.source, failure.reason, failure.location) == (
        "activity_stream",
        "activity-stream record is still encrypted (decrypt the envelope first)",
        envelope,
    )
    assert json.loads(failure.raw) == document
