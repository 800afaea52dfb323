"""Tests for mapping DAS class/command/exitCode to actions per engine, and heartbeats."""

from __future__ import annotations

import pytest

from parsers.activity_stream import parse_activity_stream_record
from parsers.event import Action
from tests.unit.parsers.activity_stream_records import (
    MYSQL_CONNECT,
    PG_CONNECT,
    parse_one,
    record_of,
    sample_item,
)

SQLSERVER_LOGIN_FAILED = sample_item("das-sqlserver-login-failed.fixed.json")


# (case, base item, overrides, expected (action, status, error_message, statement))
MAPPING_CASES: list[tuple[str, dict[str, object], dict[str, object], tuple[Action, str, str, str | None]]] = [
    # Aurora MySQL MAIN commands (FORMATS 4.4).
    ("mysql CONNECT", MYSQL_CONNECT, {}, (Action.CONNECT, "0", "", None)),
    ("mysql DISCONNECT", MYSQL_CONNECT, {"command": "DISCONNECT"}, (Action.DISCONNECT, "0", "", None)),
    ("mysql CHANGEUSER", MYSQL_CONNECT, {"command": "CHANGEUSER"}, (Action.CHANGE_USER, "0", "", None)),
    # UNVERIFIED which field carries 1045 on FAILED_CONNECT: exitCode wins, else a number in errorMessage.
    (
        "mysql FAILED_CONNECT exitCode",
        MYSQL_CONNECT,
        {"command": "FAILED_CONNECT", "exitCode": "1045"},
        (Action.FAILED_CONNECT, "1045", "", None),
    ),
    (
        "mysql FAILED_CONNECT int exitCode",
        MYSQL_CONNECT,
        {"command": "FAILED_CONNECT", "exitCode": 1045},
        (Action.FAILED_CONNECT, "1045", "", None),
    ),
    (
        "mysql FAILED_CONNECT errorMessage code",
        MYSQL_CONNECT,
        {"command": "FAILED_CONNECT", "exitCode": "", "errorMessage": "ERROR 1045 (28000): Access denied"},
        (Action.FAILED_CONNECT, "1045", "ERROR 1045 (28000): Access denied", None),
    ),
    (
        "mysql FAILED_CONNECT exitCode 0, bare errorMessage",
        MYSQL_CONNECT,
        {"command": "FAILED_CONNECT", "exitCode": "0", "errorMessage": "1045"},
        (Action.FAILED_CONNECT, "1045", "1045", None),
    ),
    (
        "mysql FAILED_CONNECT no code anywhere",
        MYSQL_CONNECT,
        {"command": "FAILED_CONNECT", "exitCode": "", "errorMessage": ""},
        (Action.FAILED_CONNECT, "", "", None),
    ),
    # A CONNECT that reports an error is a failed login, whatever the engine.
    (
        "mysql CONNECT with error code",
        MYSQL_CONNECT,
        {"exitCode": "1045"},
        (Action.FAILED_CONNECT, "1045", "", None),
    ),
    (
        "mysql MAIN unknown command",
        MYSQL_CONNECT,
        {"command": "PREPARE", "commandText": "SELECT ?"},
        (Action.QUERY, "0", "", "SELECT ?"),
    ),
    (
        "mysql AUX DROP",
        MYSQL_CONNECT,
        {"class": "AUX", "command": "DROP", "commandText": "", "exitCode": ""},
        (Action.TABLE, "", "", None),
    ),
    # Aurora PostgreSQL (FORMATS 4.3 / iann0036 consumer).
    ("pg MISC CONNECT", PG_CONNECT, {}, (Action.CONNECT, "", "", None)),
    ("pg class CONNECT", PG_CONNECT, {"class": "CONNECT"}, (Action.CONNECT, "", "", None)),
    ("pg MISC DISCONNECT", PG_CONNECT, {"command": "DISCONNECT"}, (Action.DISCONNECT, "", "", None)),
    (
        "pg class CONNECT DISCONNECT",
        PG_CONNECT,
        {"class": "CONNECT", "command": "DISCONNECT"},
        (Action.DISCONNECT, "", "", None),
    ),
    (
        "pg AUTH FAILURE",
        PG_CONNECT,
        {"command": "AUTH FAILURE"},
        (Action.FAILED_CONNECT, "", "", None),
    ),
    (
        "pg AUTH FAILURE with SQLSTATE and message",
        PG_CONNECT,
        {
            "command": "AUTH FAILURE",
            "exitCode": "28P01",
            "errorMessage": 'password authentication failed for user "x"',
        },
        (Action.FAILED_CONNECT, "28P01", 'password authentication failed for user "x"', None),
    ),
    (
        "pg CONNECT with exitCode",
        PG_CONNECT,
        {"class": "CONNECT", "exitCode": "28P01"},
        (Action.FAILED_CONNECT, "28P01", "", None),
    ),
    (
        "pg CONNECT with errorMessage only",
        PG_CONNECT,
        {"errorMessage": "FATAL: password authentication failed"},
        (Action.FAILED_CONNECT, "", "FATAL: password authentication failed", None),
    ),
    (
        "pg DDL",
        PG_CONNECT,
        {"class": "DDL", "command": "DROP TABLE", "commandText": "drop table t"},
        (Action.QUERY_DDL, "", "", "drop table t"),
    ),
    (
        "pg ROLE",
        PG_CONNECT,
        {"class": "ROLE", "command": "GRANT", "commandText": "grant x to y"},
        (Action.QUERY_DCL, "", "", "grant x to y"),
    ),
    (
        "pg WRITE",
        PG_CONNECT,
        {"class": "WRITE", "command": "TRUNCATE TABLE", "commandText": "truncate t"},
        (Action.QUERY_DML, "", "", "truncate t"),
    ),
    (
        "pg FUNCTION",
        PG_CONNECT,
        {"class": "FUNCTION", "command": "DO", "commandText": "do $$ $$"},
        (Action.QUERY, "", "", "do $$ $$"),
    ),
    (
        "pg failed statement",
        PG_CONNECT,
        {
            "class": "READ",
            "command": "SELECT",
            "commandText": "select 1/0",
            "exitCode": "22012",
            "errorMessage": "division by zero",
        },
        (Action.QUERY_DML, "22012", "division by zero", "select 1/0"),
    ),
    # RDS for SQL Server: exitCode is `succeeded`, 1 = success.
    (
        "sqlserver LOGIN FAILED",
        SQLSERVER_LOGIN_FAILED,
        {},
        (Action.FAILED_CONNECT, "18456", str(SQLSERVER_LOGIN_FAILED["commandText"]), None),
    ),
    (
        "sqlserver LOGIN FAILED without native error",
        SQLSERVER_LOGIN_FAILED,
        {"engineNativeAuditFields": {}},
        (Action.FAILED_CONNECT, "1", str(SQLSERVER_LOGIN_FAILED["commandText"]), None),
    ),
    (
        "sqlserver LOGIN SUCCEEDED",
        SQLSERVER_LOGIN_FAILED,
        {"command": "LOGIN SUCCEEDED", "exitCode": 1, "commandText": "Login succeeded for user 'test'."},
        (Action.CONNECT, "0", "", None),
    ),
    (
        "sqlserver LOGOUT",
        SQLSERVER_LOGIN_FAILED,
        {"command": "LOGOUT", "exitCode": 1},
        (Action.DISCONNECT, "0", "", None),
    ),
    (
        "sqlserver denied statement",
        SQLSERVER_LOGIN_FAILED,
        {
            "class": "TABLE",
            "command": "DELETE",
            "commandText": "delete from t",
            "exitCode": 0,
            "engineNativeAuditFields": {},
        },
        (Action.QUERY, "1", "", "delete from t"),
    ),
    # RDS for Oracle.
    (
        "oracle failed LOGON",
        {
            "command": "LOGON",
            "exitCode": 1017,
            "serverType": "oracle",
            "logTime": "2021-01-15 00:15:36.233787",
        },
        {},
        (Action.FAILED_CONNECT, "1017", "", None),
    ),
    (
        "oracle LOGOFF",
        {"command": "LOGOFF", "exitCode": 0, "serverType": "oracle", "logTime": "2021-01-15 00:15:36.233787"},
        {},
        (Action.DISCONNECT, "0", "", None),
    ),
    # An engine we cannot tell: generic verbs still map.
    (
        "unknown engine LOGON",
        {"command": "LOGON", "logTime": "2024-01-01 00:00:00+00"},
        {},
        (Action.CONNECT, "", "", None),
    ),
    (
        "unknown engine statement",
        {"command": "SELECT", "commandText": "select 1", "logTime": "2024-01-01 00:00:00+00"},
        {},
        (Action.QUERY, "", "", "select 1"),
    ),
]


@pytest.mark.parametrize(
    ("base", "overrides", "expected"),
    [pytest.param(base, overrides, expected, id=case) for case, base, overrides, expected in MAPPING_CASES],
)
def test_mapping(
    base: dict[str, object], overrides: dict[str, object], expected: tuple[Action, str, str, str | None]
) -> None:
    """GIVEN an activity event of some engine, class and command WHEN parsed
    THEN action, status, error message and statement follow the engine's conventions."""
    event = parse_one({**base, **overrides})

    assert (event.action, event.status, event.error_message, event.statement) == expected


def test_heartbeat_only_list_yields_nothing() -> None:
    """GIVEN a record holding only heartbeats (shape UNVERIFIED: any item typed heartbeat) WHEN parsed
    THEN no events and no failures."""
    record = record_of({"type": "heartbeat"}, {"type": "heartbeat", "logTime": "bad"}, {"type": "HEARTBEAT"})

    assert list(parse_activity_stream_record(record, "loc")) == []


def test_empty_list_yields_nothing() -> None:
    """GIVEN a record with an empty event list WHEN parsed THEN nothing."""
    assert list(parse_activity_stream_record(record_of(), "loc")) == []


def test_unknown_fields_types_and_versions_are_tolerated() -> None:
    """GIVEN a future event: unknown type value, unknown fields, a version key, engineNativeAuditFields {}
    WHEN parsed THEN it is read as a record like any other."""
    item = {
        **MYSQL_CONNECT,
        "type": "record-v9",
        "version": "9.9",
        "futureField": {"nested": [1, 2]},
        "engineNativeAuditFields": {},
    }
    record = {**record_of(item), "version": "1.9", "somethingNew": True}

    results = list(parse_activity_stream_record(record, "loc"))

    assert [(type(r).__name__, getattr(r, "action", None)) for r in results] == [
        ("AuditEvent", Action.CONNECT)
    ]
