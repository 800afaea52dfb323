"""The pre-filter changes no finding on any bundled text log, and does drop records on MySQL logs."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.workloads import aurora_lines
from detections.catalogue import builtin_rules
from detections.user_rules import parse_rules_document
from parsers.dialects import sniff_source
from tests.prefilter_findings import file_lines, findings_of

ROOT = Path(__file__).resolve().parents[3]
# Every bundled log in a text dialect (the pgaudit README excerpts and plugin test output are not logs).
BUNDLED_LOGS = [
    path
    for path in sorted([*ROOT.glob("examples/**/*.log"), *ROOT.glob("tests/data/**/*.log")])
    if sniff_source(file_lines(path)) is not None
]


@pytest.mark.parametrize("log", BUNDLED_LOGS, ids=lambda path: str(path.relative_to(ROOT)))
def test_bundled_log_gives_the_same_findings_with_and_without_the_prefilter(log: Path) -> None:
    # GIVEN a bundled audit log
    lines = file_lines(log)
    # WHEN detecting with and without the pre-filter
    full = findings_of(lines, log.name, prefiltered=False)
    filtered = findings_of(lines, log.name, prefiltered=True)
    # THEN the findings are identical (rule, title, dedup key, event location)
    assert filtered.findings == full.findings


def test_benchmark_workload_gives_the_same_findings_and_most_dml_is_dropped() -> None:
    # GIVEN the benchmark's Aurora MySQL lines (real MariaDB lines re-laid, plus long INSERTs)
    lines = aurora_lines(3000)
    # WHEN detecting with and without the pre-filter
    full = findings_of(lines, "bench", prefiltered=False)
    filtered = findings_of(lines, "bench", prefiltered=True)
    # THEN nothing found changes, while the long INSERTs (every tenth line) were dropped unparsed
    assert full.findings
    assert filtered.findings == full.findings
    assert filtered.prefiltered >= 300


def test_real_mariadb_log_loses_records_but_no_finding() -> None:
    # GIVEN the real MariaDB server_audit log
    log = ROOT / "examples" / "real-servers" / "mariadb" / "server_audit.log"
    # WHEN detecting with the pre-filter
    filtered = findings_of(file_lines(log), log.name, prefiltered=True)
    # THEN some QUERY lines were dropped and the findings are those of the full run
    assert filtered.prefiltered > 0
    assert filtered.findings == findings_of(file_lines(log), log.name, prefiltered=False).findings


def test_a_user_rule_with_statement_classes_keeps_the_fast_path_and_its_findings() -> None:
    # GIVEN the built-in rules plus a user rule that counts DROP TABLE / TRUNCATE statements
    document = {
        "version": 1,
        "rules": [
            {
                "id": "any-drop",
                "description": "A table was dropped or truncated",
                "severity": "high",
                "channels": ["slack"],
                "statement_class": ["drop_table", "truncate"],
            }
        ],
    }
    rules = parse_rules_document(document, "rules.yaml").apply(builtin_rules())
    log = ROOT / "examples" / "real-servers" / "mariadb" / "server_audit.log"
    # WHEN detecting with and without the fast path
    full = findings_of(file_lines(log), log.name, prefiltered=False, rules=rules)
    filtered = findings_of(file_lines(log), log.name, prefiltered=True, rules=rules)
    # THEN the user rule declared what it needs, the pre-filter still ran, and nothing found changed
    assert next(r for r in rules if r.id == "any-drop").needs is not None
    assert filtered.prefiltered > 0
    assert {f for f in full.findings if f[0] == "any-drop"}
    assert filtered.findings == full.findings
