"""Each dialect's subscription filter pattern forwards every line the built-in rules' positive cases need."""

from __future__ import annotations

from pathlib import Path

import pytest

from detections.rule_cases import RuleCase, load_case_file
from infra.log_selection import (
    MYSQL_FILTER_PATTERN,
    POSTGRES_FILTER_PATTERN,
    filter_pattern_for,
)
from parsers.event import Action, AuditEvent, Source
from parsers.mysql_audit import parse_mysql_audit
from parsers.records import RawRecord
from tests.unit.infra.filter_patterns import PatternSubsetError, delivers, parse_term_pattern

CASES_DIR = Path(__file__).parents[2] / "rules" / "cases"
AURORA_GROUP = "/aws/rds/cluster/prod-orders/audit"
PLUGIN_GROUP = "/aws/rds/instance/billing-1/audit"
POSTGRES_GROUP = "/aws/rds/cluster/ledger/postgresql"
MYSQL_SOURCES = {Source.AURORA_MYSQL: AURORA_GROUP, Source.MYSQL_AUDIT: PLUGIN_GROUP}


def _escape(statement: str) -> str:
    """The statement as server_audit writes it inside its quotes (backslash escapes, FORMATS 2.3)."""
    escaped = statement.replace("\\", "\\\\").replace("'", "\\'")
    return escaped.replace("\n", "\\n").replace("\t", "\\t").replace("\r", "\\r")


def mysql_line(event: AuditEvent) -> str:
    """The raw audit line (FORMATS 1.3 / 2.3) that carries a MySQL-family case event."""
    if event.source is Source.AURORA_MYSQL:
        timestamp = str(int(event.time.timestamp() * 1_000_000))
    else:
        timestamp = event.time.strftime("%Y%m%d %H:%M:%S")
    operation = event.command if event.action is Action.TABLE else event.action.value
    if event.statement is not None:
        obj, tail = f"'{_escape(event.statement)}'", f",{event.status or 0}"
    else:
        obj, tail = event.object, "," if event.action is Action.TABLE else f",{event.status or 0}"
    head = [timestamp, event.server_host, event.user, event.client_host]
    ids = [event.session_id or "0", event.query_id or "0"]
    return ",".join([*head, *ids, operation, event.database, obj]) + tail


def _positive_cases() -> list[object]:
    """Every positive case of every built-in rule."""
    return [
        pytest.param(case, id=f"{case.rule_id}: {case.name}")
        for path in sorted(CASES_DIR.glob("*.yaml"))
        for case in load_case_file(path)
        if case.is_positive
    ]


@pytest.mark.parametrize("case", _positive_cases())
def test_every_positive_case_passes_the_pattern_of_its_dialect(case: RuleCase) -> None:
    for event in case.events:
        if event.source is Source.ACTIVITY_STREAM:
            continue  # activity streams reach us through Kinesis, never through a subscription filter
        if event.source is Source.POSTGRES:
            # GIVEN a PostgreSQL case THEN its group's pattern is the empty one, which forwards everything
            assert filter_pattern_for(POSTGRES_GROUP) == POSTGRES_FILTER_PATTERN == ""
            assert delivers(POSTGRES_FILTER_PATTERN, event.raw or f"LOG:  AUDIT: {event.statement}")
            continue
        # GIVEN the raw line the case event stands for, proven genuine by the real parser reading it back
        line = mysql_line(event)
        (parsed,) = parse_mysql_audit([RawRecord(line, "case:1")])
        assert isinstance(parsed, AuditEvent), (line, parsed)
        assert (parsed.action, parsed.user, parsed.statement, parsed.command) == (
            event.action,
            event.user,
            event.statement,
            event.command,
        )
        # WHEN the filter of its log group sees it THEN CloudWatch Logs forwards it
        pattern = filter_pattern_for(MYSQL_SOURCES[event.source])
        assert delivers(pattern, line), line


@pytest.mark.parametrize(
    ("line", "forwarded"),
    [
        ("1700000000123456,node-1,app,10.0.0.5,77,1234,READ,shop,customers,", False),
        ("1700000000123456,node-1,app,10.0.0.5,77,1234,WRITE,shop,orders,", False),
        ("20240101 12:00:00,db-host,app,10.0.0.5,77,1234,WRITE,shop,orders,", False),
        ("1700000000123456,node-1,app,10.0.0.5,77,1234,DROP,shop,customers,", True),
        ("1700000000123456,node-1,app,10.0.0.5,77,0,FAILED_CONNECT,,,1045", True),
        ("20221201 14:07:05,ip-10-22-1-51,rdsadmin,localhost,821,0,CONNECT,,,0,SOCKET", True),
        ("1700000000123456,node-1,app,10.0.0.5,77,9,QUERY_DML,shop,'SELECT 1',0", True),
        # a statement quoting the dropped operations cannot hide itself: it still holds ,QUERY,
        ("1700000000123456,node-1,app,10.0.0.5,77,9,QUERY,shop,'DROP TABLE t /*,READ,*/',0", True),
    ],
)
def test_mysql_pattern_drops_only_per_table_read_and_write_lines(line: str, forwarded: bool) -> None:
    # GIVEN a MySQL-family audit line WHEN the audit group's filter sees it THEN only READ/WRITE are dropped
    assert delivers(MYSQL_FILTER_PATTERN, line) is forwarded


def test_the_sample_logs_lose_nothing_but_read_and_write_lines() -> None:
    # GIVEN the real Aurora MySQL and RDS MySQL audit samples
    samples = Path(__file__).parents[2] / "data" / "samples"
    lines = [
        line
        for name in ("aurora-mysql-audit.log", "rds-mysql-audit.log", "mariadb-audit.log")
        for line in (samples / name).read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    # WHEN each line meets the pattern THEN every dropped line is a per-table READ or WRITE line
    dropped = [line for line in lines if not delivers(MYSQL_FILTER_PATTERN, line)]
    assert all(line.split(",")[6] in ("READ", "WRITE") for line in dropped), dropped
    assert len(dropped) < len(lines)


def test_all_events_mode_and_postgres_groups_use_the_empty_pattern() -> None:
    # GIVEN the selection's all-events switch or a PostgreSQL group THEN the pattern forwards everything
    assert filter_pattern_for(AURORA_GROUP, all_events=True) == ""
    assert filter_pattern_for("/aws/rds/instance/pg-1/postgresql") == ""
    assert filter_pattern_for(PLUGIN_GROUP) == MYSQL_FILTER_PATTERN
    assert len(MYSQL_FILTER_PATTERN) <= 1024  # PutSubscriptionFilter's limit


@pytest.mark.parametrize(
    ("pattern", "message", "expected"),
    [
        ("", "anything", True),
        ('"ERROR"', "an ERROR here", True),
        ('"ERROR"', "an error here", False),  # case-sensitive
        ('"ERROR" "Exiting"', "ERROR then Exiting", True),
        ('"ERROR" "Exiting"', "ERROR only", False),
        ('"ERROR" -"Exiting"', "ERROR then Exiting", False),
        ('?"ERROR" ?"WARN"', "a WARN", True),
        ('?"ERROR" ?"WARN"', "INFO", False),
        ('"two words"', "has two words in it", True),
    ],
)
def test_the_evaluator_follows_the_documented_term_semantics(
    pattern: str, message: str, expected: bool
) -> None:
    # GIVEN a documented pattern form WHEN evaluated THEN it gives the documented answer
    assert delivers(pattern, message) is expected


@pytest.mark.parametrize("pattern", ["ERROR", '?"A" "B"', "[a, b]"])
def test_the_evaluator_refuses_syntax_outside_its_subset(pattern: str) -> None:
    # GIVEN an unquoted term, a mix of ?terms and terms, or a space-delimited pattern THEN it refuses
    with pytest.raises(PatternSubsetError):
        parse_term_pattern(pattern)
