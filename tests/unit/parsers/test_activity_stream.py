"""Tests for parsing decrypted Database Activity Stream records: every AWS doc sample, field by field."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from parsers.activity_stream import parse_activity_stream_record
from parsers.event import Action, AuditEvent, ParseFailure
from tests.unit.parsers.activity_stream_expected import EXPECTED
from tests.unit.parsers.activity_stream_records import SAMPLES, event_items, load_record


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
