"""Edge cases where a pre-filter could change what is found: each is found the same with and without it."""

from __future__ import annotations

import pytest

from detections.catalogue import builtin_rules
from detections.rule_needs import prefilter_for
from parsers.event import Source
from parsers.records import RawRecord
from tests.prefilter_findings import findings_of

MARIADB = "20201130 23:07:48,vm,root,localhost"
AURORA = "1603438736650167,i1,admin,10.0.0.1"

CASES: dict[str, list[str]] = {
    # server_audit reuses query id 2 for three statements (FORMATS sample mariadb-audit.log)
    "a reused query id": [
        f"{MARIADB},1,2,QUERY,,'show databases',0",
        f"{MARIADB},1,2,QUERY,,'set global server_audit_logging=off',0",
        f"{MARIADB},1,2,QUERY,,'show databases',0",
    ],
    "a reused query id with a failed sibling": [
        f"{MARIADB},1,2,QUERY,shop,'DROP TABLE t',0",
        f"{MARIADB},1,2,QUERY,shop,'select * from nosuch',1146",
    ],
    # Aurora's lines are not in order: the DROP line of a CALL may come after the CALL line
    "DROP evidence after its statement": [
        f"{AURORA},5,100,QUERY,shop,'CALL cleanup()',0",
        "1603438736651167,i1,admin,10.0.0.1,5,100,DROP,shop,orders,",
    ],
    "a DROP split across adjacent literals": [
        f"{MARIADB},1,3,QUERY,shop,'EXECUTE IMMEDIATE \\'DR\\' \\'OP TABLE orders\\'',0",
    ],
    "DROP evidence after a statement with a READ line": [
        f"{AURORA},5,101,READ,shop,audit_log,",
        f"{AURORA},5,101,QUERY,shop,'CALL cleanup()',0",
        "1603438736651167,i1,admin,10.0.0.1,5,101,DROP,shop,orders,",
    ],
}


@pytest.mark.parametrize("name", list(CASES))
def test_the_edge_gives_the_same_findings_with_and_without_the_prefilter(name: str) -> None:
    # GIVEN lines where ids repeat or evidence comes late
    lines = CASES[name]
    # WHEN detecting with and without the pre-filter
    full = findings_of(lines, name, prefiltered=False)
    filtered = findings_of(lines, name, prefiltered=True)
    # THEN the findings are the same, and there is one
    assert filtered.findings == full.findings
    assert full.findings


def test_a_reused_query_id_still_reports_audit_logging_turned_off() -> None:
    # GIVEN the reused-id lines, detected in full
    found = findings_of(CASES["a reused query id"], "reused", prefiltered=False).findings
    # WHEN looking at the findings THEN the second statement turned auditing off, at its own line
    assert {(rule, location) for rule, _, _, location in found} == {("audit-disabled", "reused:2")}


def test_a_successful_drop_sharing_ids_with_a_failed_select_is_a_drop() -> None:
    # GIVEN a successful DROP and a failed SELECT with the same ids
    found = findings_of(CASES["a reused query id with a failed sibling"], "sibling", prefiltered=False)
    # WHEN detecting THEN the DROP is reported as done, not as an attempt
    assert [title for _, title, _, _ in found.findings] == ["DROP TABLE t by root on bench"]


@pytest.mark.parametrize(
    "line",
    [
        "20261123 13:07:05,vm,app,127.0.0.1,\u0663\u0664,0,DISCONNECT,,,0",  # Arabic-Indic connection id
        "20261123 13:07:05,vm,app,127.0.0.1,12,x9,QUERY,shop,'SELECT 1',0",  # non-numeric query id
        "20261123 13:07:05,vm,app,127.0.0.1,12,0,DISCONNECT,,,0,extra,fields",  # extra fields
        "20261123 13:07:05,vm,app,127.0.0.1,12,7,READ,shop,t,0,garbage,more",  # extra fields on TABLE
        "20261399 13:07:05,vm,app,127.0.0.1,12,0,DISCONNECT,,,0",  # month 13
    ],
)
def test_a_line_the_parser_rejects_is_kept_so_that_it_is_reported(line: str) -> None:
    # GIVEN a line no rule could match but the parser cannot read
    prefilter = prefilter_for(rule.needs for rule in builtin_rules())
    assert prefilter is not None
    # WHEN pre-filtering it
    kept = prefilter.records(Source.MYSQL_AUDIT, [RawRecord(text=line)])
    # THEN it stays, to be counted and set aside as a parse failure
    assert [record.text for record in kept] == [line]
    assert prefilter.dropped == 0


def test_dropped_records_can_join_a_statement_the_horizon_would_split() -> None:
    # GIVEN a DROP line, 600 keyword-free SELECTs of another connection, then its DROP TABLE line
    lines = [
        f"{AURORA},5,100,DROP,shop,orders,",
        *(f"{AURORA},9,{n},QUERY,shop,'SELECT {n}',0" for n in range(1, 601)),
        f"{AURORA},5,100,QUERY,shop,'DROP TABLE orders',0",
    ]
    # WHEN detecting with and without the pre-filter (the correlator's horizon is 512 records)
    full = findings_of(lines, "far", prefiltered=False)
    filtered = findings_of(lines, "far", prefiltered=True)
    # THEN without it the evidence and the statement are two findings; with it one, at the statement
    assert len(full.findings) == 2
    assert [(rule, location) for rule, _, _, location in filtered.findings] == [("drop-table", "far:602")]
