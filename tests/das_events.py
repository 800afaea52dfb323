"""Decrypted Database Activity Stream records for tests: where they come from and the events they hold.

Events start from the verbatim AWS doc samples (tests/data/samples/das-aurora-*-connect.json).
UNVERIFIED (FORMATS 4.4/4.5): the shape of failed-login events (Aurora PostgreSQL `MISC`/`AUTH FAILURE`
as a 2019 consumer saw it; Aurora MySQL `FAILED_CONNECT` with exitCode "1045") and of heartbeat items.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

SAMPLES = Path(__file__).resolve().parent / "data" / "samples"
# The region and account of the streams the records travel on.
REGION = "us-east-1"
ACCOUNT = "123456789012"
# Resource ids from the Aurora PostgreSQL doc sample; the MySQL ones follow the same pattern.
POSTGRES_CLUSTER_ID = "cluster-4HNY5V4RRNPKKYB7ICFKE5JBQQ"
POSTGRES_INSTANCE_ID = "db-FZJTMYKCXQBUUZ6VLU7NW3ITCM"
MYSQL_CLUSTER_ID = "cluster-MYSQLNHVOV4PCLWHGF52NP"
MYSQL_INSTANCE_ID = "db-MYSQLABCD123456EXAMPLE"
OTHER_CLUSTER_ID = "cluster-OTHERCLUSTER0000000000"
RECORD_TYPE = "DatabaseActivityMonitoringRecord"


def activity_record(
    events: Sequence[Mapping[str, Any]], *, cluster_id: str, instance_id: str
) -> dict[str, Any]:
    """The decrypted DatabaseActivityMonitoringRecord holding `events`."""
    return {
        "type": RECORD_TYPE,
        "clusterId": cluster_id,
        "instanceId": instance_id,
        "databaseActivityEventList": [dict(event) for event in events],
    }


def with_unknown_event_fields(events: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Events carrying fields no documented version has (AWS: consumers must ignore them)."""
    return [{**event, "futureField": "x", "engineNativeAuditFields": {}} for event in events]


def _sample_event(name: str) -> dict[str, Any]:
    """The first event of a verbatim AWS doc sample (the PostgreSQL ones nest it in a doc-style envelope)."""
    document = json.loads((SAMPLES / name).read_text(encoding="utf-8"))
    record = document.get("databaseActivityEvents", document)
    return dict(record["databaseActivityEventList"][0])


def _postgres_event(**fields: Any) -> dict[str, Any]:
    """An Aurora PostgreSQL v1.1 event: the doc sample's connect event with `fields` changed."""
    event = _sample_event("das-aurora-postgresql-connect.json")
    event.update(
        startTime="2024-05-01 10:00:00.100000+00",
        logTime="2024-05-01 10:00:00.150000+00",
        dbUserName="app",
        remoteHost="10.0.0.9",
    )
    event.update(fields)
    return event


def aurora_postgresql_events() -> list[dict[str, Any]]:
    """Connect, failed login (MISC / AUTH FAILURE — UNVERIFIED shape), DROP TABLE (DDL)."""
    return [
        _postgres_event(),
        _postgres_event(
            logTime="2024-05-01 10:00:01.000000+00",
            startTime="2024-05-01 10:00:01.000000+00",
            command="AUTH FAILURE",
            dbUserName="admin",
            sessionId="5ce5f7f0.474c",
            pid=18252,
            exitCode="28P01",
            errorMessage='password authentication failed for user "admin"',
        ),
        _postgres_event(
            logTime="2024-05-01 10:00:02.000000+00",
            startTime="2024-05-01 10:00:02.000000+00",
            statementId=2,
            command="DROP TABLE",
            commandText="DROP TABLE orders;",
            objectType="TABLE",
            objectName="public.orders",
            exitCode=0,
            **{"class": "DDL"},
        ),
    ]


AURORA_POSTGRESQL_ACTIONS = ("CONNECT", "FAILED_CONNECT", "QUERY_DDL")


def _mysql_event(**fields: Any) -> dict[str, Any]:
    """An Aurora MySQL v1.2 event: the doc sample's connect event with `fields` changed."""
    event = _sample_event("das-aurora-mysql-connect.json")
    event.update(
        logTime="2024-05-01 10:00:00.267214+00",
        startTime="2024-05-01 10:00:00.267207+00",
        endTime="2024-05-01 10:00:00.267213+00",
        dbUserName="app",
        databaseName="shop",
        remoteHost="10.0.0.9",
    )
    event.update(fields)
    return event


def aurora_mysql_events() -> list[dict[str, Any]]:
    """CONNECT, FAILED_CONNECT (exitCode "1045" — UNVERIFIED field), DROP TABLE as a MAIN + AUX pair."""
    return [
        _mysql_event(),
        _mysql_event(
            logTime="2024-05-01 10:00:01.000000+00",
            command="FAILED_CONNECT",
            dbUserName="admin",
            pid=2831,
            sessionId="725122",
            exitCode="1045",
        ),
        _mysql_event(
            logTime="2024-05-01 10:00:02.250221+00",
            command="QUERY",
            commandText="DROP TABLE orders",
            objectName="orders",
            statementId=65459278,
        ),
        _mysql_event(
            logTime="2024-05-01 10:00:02.247182+00",
            command="DROP",
            commandText="orders",
            objectName="orders",
            statementId=65459278,
            substatementId=2,
            exitCode="",
            **{"class": "AUX"},
        ),
    ]


AURORA_MYSQL_ACTIONS = ("CONNECT", "FAILED_CONNECT", "QUERY", "TABLE")


def heartbeat_events() -> list[dict[str, Any]]:
    """Heartbeat items only (shape UNVERIFIED: the bare type, and one with a few record fields)."""
    return [
        {"type": "heartbeat"},
        {"type": "heartbeat", "logTime": "2024-05-01 10:00:05.000000+00", "serverHost": "master"},
    ]


def postgres_record(events: Sequence[Mapping[str, Any]] | None = None) -> dict[str, Any]:
    """A decrypted Aurora PostgreSQL record (default: aurora_postgresql_events)."""
    chosen = aurora_postgresql_events() if events is None else events
    return activity_record(chosen, cluster_id=POSTGRES_CLUSTER_ID, instance_id=POSTGRES_INSTANCE_ID)


def mysql_record(events: Sequence[Mapping[str, Any]] | None = None) -> dict[str, Any]:
    """A decrypted Aurora MySQL record (default: aurora_mysql_events)."""
    chosen = aurora_mysql_events() if events is None else events
    return activity_record(chosen, cluster_id=MYSQL_CLUSTER_ID, instance_id=MYSQL_INSTANCE_ID)
