"""The rule index changes no finding on Activity Stream events (which the text pre-filter never sees)."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.activity_stream import activity_record
from parsers.activity_stream import parse_activity_stream_record
from parsers.event import AuditEvent
from tests.prefilter_findings import engine_findings

SAMPLES = Path(__file__).resolve().parents[2] / "data" / "samples"


def _events(records: list[dict[str, object]]) -> list[AuditEvent]:
    """The events of decrypted activity records."""
    return [
        result
        for n, record in enumerate(records)
        for result in parse_activity_stream_record(record, f"das:{n}")
        if isinstance(result, AuditEvent)
    ]


def test_activity_stream_samples_and_benchmark_records_give_the_same_findings_with_the_index() -> None:
    # GIVEN every decrypted DAS sample, the benchmark's records (failed logins among SELECTs) and DDL
    samples = [json.loads(path.read_text(encoding="utf-8")) for path in sorted(SAMPLES.glob("das-*.json"))]
    records = [r for r in samples if r.get("type") == "DatabaseActivityMonitoringRecord"]
    records += [activity_record("cluster-BENCH0", n, 20) for n in range(10)]
    ddl = activity_record("cluster-BENCH0", 1000, 3)  # statement ids 3000+: no other record has them
    statements = ["drop table t_x", "EXECUTE IMMEDIATE 'DR\\OP TABLE t_y'", "GRANT ALL ON *.* TO x"]
    for event, text in zip(ddl["databaseActivityEventList"], statements, strict=True):
        event.update(command="QUERY", commandText=text, exitCode="0")
    records.append(ddl)
    events = _events(records)
    # WHEN detecting with the rule index and with every rule called on every observation
    indexed = engine_findings(events, indexed=True)
    full = engine_findings(events, indexed=False)
    # THEN the findings are identical, statement findings among them
    assert {"drop-table", "privilege-grant", "failed-login"} <= {rule for rule, *_ in full}
    assert indexed == full
