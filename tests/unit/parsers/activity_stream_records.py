"""Decrypted Database Activity Stream records for the parser tests: stored samples and small builders."""

from __future__ import annotations

import json
from pathlib import Path

from parsers.activity_stream import parse_activity_stream_record
from parsers.event import AuditEvent

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


def sample_item(name: str) -> dict[str, object]:
    """The single activity event of a stored decrypted-record sample."""
    document = json.loads((SAMPLES / name).read_text(encoding="utf-8"))
    record = document.get("databaseActivityEvents", document)
    item: dict[str, object] = record["databaseActivityEventList"][0]
    return item


MYSQL_CONNECT = sample_item("das-aurora-mysql-connect.json")
PG_CONNECT = sample_item("das-aurora-postgresql-connect.json")


def record_of(
    *items: object, cluster_id: object = "cluster-ABC", instance_id: object = "db-DEF"
) -> dict[str, object]:
    """A decrypted record holding the given items."""
    return {
        "type": "DatabaseActivityMonitoringRecord",
        "clusterId": cluster_id,
        "instanceId": instance_id,
        "databaseActivityEventList": list(items),
    }


def parse_one(item: dict[str, object]) -> AuditEvent:
    """Parse a record holding one item and return its one event."""
    results = list(parse_activity_stream_record(record_of(item), "loc"))
    assert len(results) == 1
    assert isinstance(results[0], AuditEvent)
    return results[0]
