"""The Activity Stream pre-filter changes no finding on any bundled DAS record, yet drops plain SELECTs."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from benchmarks.activity_stream import activity_record
from handlers.demo_scenario import activity_stream_record
from tests import das_events
from tests.das_prefilter_findings import das_findings_of
from tests.unit.parsers.activity_stream_records import load_record

SAMPLES = Path(__file__).resolve().parents[2] / "data" / "samples"
# Every decrypted record (or bare RDS for Oracle event) among the bundled samples; not the envelopes.
SAMPLE_NAMES = sorted(
    path.name for path in SAMPLES.glob("das-*.json") if not path.name.startswith("das-envelope")
)
BUILT = {
    "aurora-mysql": das_events.mysql_record(),
    "aurora-postgresql": das_events.postgres_record(),
    "heartbeats": das_events.mysql_record(das_events.heartbeat_events()),
    "demo": activity_stream_record(datetime(2026, 1, 5, 9, 0, tzinfo=UTC)),
}


def _benchmark_records() -> list[dict[str, object]]:
    """The benchmark's batch (60 records × 20 events, 3 clusters) plus a record of DDL among SELECTs."""
    records: list[dict[str, object]] = [activity_record(f"cluster-BENCH{n % 3}", n, 20) for n in range(60)]
    # Statement ids 4000+: no other record has them; the first event (k = 4000) is a failed login.
    ddl = activity_record("cluster-BENCH0", 1000, 4)
    statements = ["drop table t_x", "EXECUTE IMMEDIATE 'DR\\OP TABLE t_y'", "GRANT ALL ON *.* TO x"]
    for event, text in zip(ddl["databaseActivityEventList"][1:], statements, strict=True):
        event.update(command="QUERY", commandText=text, exitCode="0")
    records.append(ddl)
    return records


@pytest.mark.parametrize("name", SAMPLE_NAMES)
def test_each_bundled_sample_gives_the_same_findings_with_and_without_the_prefilter(name: str) -> None:
    # GIVEN one bundled DAS sample as a batch of its own
    records = [load_record(name)]
    # WHEN detecting with and without the fast path
    full = das_findings_of(records, prefiltered=False)
    filtered = das_findings_of(records, prefiltered=True)
    # THEN the findings are identical (rule, title, dedup key, event id and location, objects)
    assert filtered.findings == full.findings


@pytest.mark.parametrize("name", BUILT)
def test_each_built_record_gives_the_same_findings_with_and_without_the_prefilter(name: str) -> None:
    # GIVEN a record of the test builders or of the demo (logins, DROP TABLE, ALTER ROLE, heartbeats)
    records = [BUILT[name]]
    # WHEN detecting with and without the fast path
    full = das_findings_of(records, prefiltered=False)
    filtered = das_findings_of(records, prefiltered=True)
    # THEN the findings are identical
    assert filtered.findings == full.findings


def test_every_sample_in_one_batch_pairs_main_and_aux_across_records_and_finds_the_same() -> None:
    # GIVEN every sample and built record as one Kinesis batch (the MySQL MAIN and AUX samples of one
    # statement arrive in different records)
    records = [load_record(name) for name in SAMPLE_NAMES] + list(BUILT.values())
    # WHEN detecting with and without the fast path
    full = das_findings_of(records, prefiltered=False)
    filtered = das_findings_of(records, prefiltered=True)
    # THEN the findings (statement findings among them) are identical, and some events were dropped
    assert {"drop-table", "failed-login"} <= {key[0] for key in full.findings}
    assert filtered.findings == full.findings
    assert filtered.prefiltered > 0
    assert filtered.events + filtered.prefiltered == full.events


def test_benchmark_workload_gives_the_same_findings_and_its_selects_are_dropped() -> None:
    # GIVEN the benchmark's records (SELECTs and failed logins) plus DDL in odd case and with backslashes
    records = _benchmark_records()
    # WHEN detecting with and without the fast path
    full = das_findings_of(records, prefiltered=False)
    filtered = das_findings_of(records, prefiltered=True)
    # THEN nothing found changes, while every plain SELECT (96% of the 1,200 events) was dropped unparsed
    assert {"drop-table", "privilege-grant", "failed-login"} <= {key[0] for key in full.findings}
    assert filtered.findings == full.findings
    assert filtered.prefiltered == 1152  # the DDL record's first event (k = 4000) is a failed login
    assert filtered.events == full.events - filtered.prefiltered
