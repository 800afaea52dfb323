"""The MySQL-family fast path gives exactly what the careful reader gives, on every line we have."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks.workloads import aurora_lines
from parsers.event import AuditEvent, ParseResult, evolve
from parsers.mysql_audit import (
    looks_like_mysql_audit,
    parse_mysql_audit,
    parse_mysql_audit_carefully,
    parse_mysql_split,
)
from parsers.mysql_fast_path import FastLineReader
from parsers.records import Origin, RawRecord
from tests.unit.parsers.test_mysql_audit_properties import HEADS, TRICKY, escape_like_the_plugin

ROOT = Path(__file__).resolve().parents[3]
ORIGIN = Origin(log_group="/aws/rds/cluster/c1/audit", log_stream="c1-instance-1.audit.log", cluster="c1")
LIMITS = (None, 1, 16, 1024)
A = "1700000000123456,node-1,app,10.0.0.5,77,1234,"
P = "20240101 12:00:00,db-host,app,10.0.0.5,77,1234,"

# Lines where a shortcut could go wrong: quotes, escapes and commas in statements, multi-line
# statements, host forms, RDS tails, signed ids, odd timestamps and field counts, line ends.
TRICKY_LINES = [
    f"{A}QUERY,shop,'select 1',0",
    f"{A}QUERY,shop,'select \\'a,b\\', \"c\" from t',0",
    f"{A}QUERY,shop,'it\\\\'s',0",
    f"{A}QUERY,shop,'a\\\\\\'b\\n\\t\\r\\b\\f\\0\\x\\\\',0",
    f"{A}QUERY,shop,'ends with a cut escape\\',0",
    f"{A}QUERY,shop,'two backslashes at the end\\\\\\\\',0",
    f"{A}QUERY,shop,'cut multi-byte \ufffd',0",
    f"{A}QUERY,shop,'',0",
    f"{A}QUERY,shop,'x',",
    f"{A}QUERY,shop,'x',1064",
    f"{A}QUERY,shop,'x',-1",
    f"{A}QUERY,shop,'x',0,,",
    f"{A}QUERY,shop,'x',0,",
    f"{A}QUERY,shop,'x',0,,,",
    f"{A}QUERY,shop,'x' ,0",
    f"{A}QUERY,shop,x,0",
    f"{A}QUERY,shop,',0",
    f"{A}QUERY,shop,'x',0\r\n",
    f"{A}QUERY,shop,'x',0\n",
    f"{A}QUERY,shop,'line one\nline two',0",
    f"{A}QUERY_DDL,shop,'DROP TABLE t',0",
    f"{A}QUERY_DCL,,'GRANT ALL ON *.* TO \\'u\\'@\\'%\\'',0",
    f"{A}QUERY_DML,shop,'update t set a=\\'\u00e9\\'',0",
    f"{A}QUERY,shop,'multi-line starts here",
    "  and continues, with 'quotes'",
    "and ends here',0",
    f"{A}QUERY,shop,'opened and never closed",
    f"{P}CONNECT,shop,,0",
    f"{P}CONNECT,shop,,0,SOCKET",
    f"{P}CONNECT,shop,,0,TCP/IP",
    f"{P}CONNECT,shop,,0,9",
    f"{P}FAILED_CONNECT,,,1045",
    f"{P}DISCONNECT,,,0",
    f"{P}CHANGEUSER,shop,,0",
    f"{P}PROXY_CONNECT,shop,,0",
    f"{P}READ,shop,orders,",
    f"{P}WRITE,shop,orders,",
    f"{P}DROP,shop,orders,",
    f"{P}RENAME,shop,orders|archive,",
    f"{P}CONNECT,shop,,",
    f"{P}CONNECT,shop,,0,",
    f"{P}CONNECT,shop",
    f"{P}UNKNOWN_OP,shop,,0",
    "20260731 09:14:22,mdb1,app,[::1]:50312,77,1234,QUERY,shop,'select 1',0",
    "20260731 09:14:22,mdb1,app,[fe80::1]:3306,77,1234,CONNECT,shop,,0",
    "20260731 09:14:22,mdb1,app,10.0.0.5:3306,77,1234,CONNECT,shop,,0",
    "20260731 09:14:22,mdb1,app,db.example:3306,77,1234,CONNECT,shop,,0",
    "20260731 09:14:22,mdb1,app,::1,77,1234,CONNECT,shop,,0",
    "20260731 09:14:22,mdb1,app,fe80::1:3306,77,1234,CONNECT,shop,,0",
    "20260731 09:14:22,mdb1,app,2001:db8::1:99999,77,1234,CONNECT,shop,,0",
    "20260731 09:14:22,mdb1,app,:3306,77,1234,CONNECT,shop,,0",
    "20260731 09:14:22,mdb1,app,host:,77,1234,CONNECT,shop,,0",
    "1700000000123456,node-1,app,10.0.0.5,-77,-1234,QUERY,shop,'select 1',0",
    "1700000000123456,node-1,app,10.0.0.5,,1234,QUERY,shop,'select 1',0",
    "1700000000123456,node-1,app,10.0.0.5,7x,1234,QUERY,shop,'select 1',0",
    "1700000000123456,node-1,app,10.0.0.5,\u0667\u0667,1234,QUERY,shop,'select 1',0",
    "1700000000123456,node-1,app,10.0.0.5,77,\u00b2,QUERY,shop,'select 1',0",
    "1700000000123456,node-1,user,with,comma,10.0.0.5,77,1234,QUERY,shop,'select 1',0",
    "170000000012345,node-1,app,10.0.0.5,77,1234,QUERY,shop,'select 1',0",
    "17000000001234567,node-1,app,10.0.0.5,77,1234,QUERY,shop,'select 1',0",
    "170000000012345x,node-1,app,10.0.0.5,77,1234,QUERY,shop,'select 1',0",
    "\u0661700000000123456,node-1,app,10.0.0.5,77,1234,QUERY,shop,'select 1',0",
    "0000000000000000,node-1,app,10.0.0.5,77,1234,QUERY,shop,'select 1',0",
    "9999999999999999,node-1,app,10.0.0.5,77,1234,QUERY,shop,'select 1',0",
    "1700000000999999,node-1,app,10.0.0.5,77,1234,QUERY,shop,'select 1',0",
    "1700000001000000,node-1,app,10.0.0.5,77,1234,QUERY,shop,'select 1',0",
    "20240230 12:00:00,db-host,app,10.0.0.5,77,1234,CONNECT,shop,,0",
    "20240101 24:00:00,db-host,app,10.0.0.5,77,1234,CONNECT,shop,,0",
    "20240101T12:00:00,db-host,app,10.0.0.5,77,1234,CONNECT,shop,,0",
    "2024-01-01 12:00,db-host,app,10.0.0.5,77,1234,CONNECT,shop,,0",
    "20240101 12:00:01,db-host,app,10.0.0.5,77,1234,CONNECT,shop,,0",
    ",db-host,app,10.0.0.5,77,1234,CONNECT,shop,,0",
    "",
    "   ",
    "not an audit line at all",
]


def _records(lines: Sequence[str], name: str = "t") -> list[RawRecord]:
    """Records as CloudWatch delivers them (event id and timestamp) for the given lines."""
    return [RawRecord(line, f"{name}#{n}", str(n), 1_700_000_000_000 + n) for n, line in enumerate(lines, 1)]


def _with_times(results: list[ParseResult]) -> list[tuple[ParseResult, str]]:
    """Each result with its time's repr: equal instants in another time zone would still compare equal."""
    return [(result, repr(result.time) if isinstance(result, AuditEvent) else "") for result in results]


def assert_fast_path_changes_nothing(
    records: Sequence[RawRecord], query_log_limit: int | None = None
) -> None:
    """The whole parse with the fast path equals the careful reader's, result by result.

    So does the parse of the same records handed over already split (as the pre-filter hands them),
    or handed over unsplit.
    """
    fast = list(parse_mysql_audit(records, ORIGIN, query_log_limit=query_log_limit))
    careful = list(parse_mysql_audit_carefully(records, ORIGIN, query_log_limit=query_log_limit))
    split = [(record, record.text.split(",", 8)) for record in records]
    presplit = parse_mysql_split(split, ORIGIN, query_log_limit=query_log_limit)
    unsplit = parse_mysql_split(
        [(record, None) for record in records], ORIGIN, query_log_limit=query_log_limit
    )

    assert _with_times(fast) == _with_times(careful)
    assert _with_times(presplit) == _with_times(careful)
    assert _with_times(unsplit) == _with_times(careful)


def _mysql_family_logs() -> list[Path]:
    """Every bundled log whose first non-blank line sniffs as a MySQL-family audit line."""
    found = []
    for path in sorted([*ROOT.glob("examples/**/*.log"), *ROOT.glob("tests/data/**/*.log")]):
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
        first = next((line for line in lines if line.strip()), "")
        if looks_like_mysql_audit(first):
            found.append(path)
    return found


MYSQL_LOGS = _mysql_family_logs()


def test_the_bundled_mysql_family_logs_are_found() -> None:
    """GIVEN the examples and test data WHEN sniffed THEN the Aurora, RDS MySQL and MariaDB logs are there."""
    names = {path.name for path in MYSQL_LOGS}

    assert {"server_audit.log", "aurora-mysql-audit.log", "rds-mysql-audit.log", "mariadb-audit.log"} <= names


@pytest.mark.parametrize("limit", LIMITS)
@pytest.mark.parametrize("path", MYSQL_LOGS, ids=lambda path: str(path.relative_to(ROOT)))
def test_every_line_of_every_bundled_log_parses_identically(path: Path, limit: int | None) -> None:
    """GIVEN a bundled MySQL-family log, as physical lines with and without their line ends
    WHEN parsed with and without the fast path THEN the same events and failures, in order."""
    text = path.read_text(encoding="utf-8", errors="replace")

    assert_fast_path_changes_nothing(_records(text.splitlines(), path.name), limit)
    assert_fast_path_changes_nothing(_records(text.splitlines(keepends=True), path.name), limit)


def test_benchmark_lines_parse_identically_and_take_the_fast_path() -> None:
    """GIVEN 3,000 benchmark lines (Aurora layout, long escaped INSERTs) WHEN parsed
    THEN fast and careful results are equal, and the fast path took every line."""
    records = _records(aurora_lines(3000))
    reader = FastLineReader(ORIGIN, None)

    assert_fast_path_changes_nothing(records)
    assert all(reader.event(record) is not None for record in records)


@pytest.mark.parametrize("limit", LIMITS)
def test_tricky_lines_parse_identically_in_sequence_and_alone(limit: int | None) -> None:
    """GIVEN hand-written lines at every edge (escapes, multi-line, hosts, tails, ids, timestamps)
    WHEN parsed as one stream, in reverse, and one by one THEN fast and careful results are equal."""
    assert_fast_path_changes_nothing(_records(TRICKY_LINES), limit)
    assert_fast_path_changes_nothing(_records(TRICKY_LINES[::-1]), limit)
    for line in TRICKY_LINES:
        assert_fast_path_changes_nothing(_records([line]), limit)


@pytest.mark.parametrize("line_end", ["\n", "\r\n", "\r", "\n\n", ""])
def test_a_line_split_with_its_line_end_reads_as_the_line_without_it(line_end: str) -> None:
    """GIVEN one-line records of each shape, split with their line end still on (as the pre-filter
    splits them) WHEN read by the fast path THEN each event equals the one of the line without it,
    but for the raw text that keeps what was delivered."""
    reader = FastLineReader(ORIGIN, None)
    for line in [f"{A}QUERY,shop,'select \\'a,b\\'',0", f"{P}CONNECT,shop,,0,TCP/IP", f"{A}WRITE,shop,t,"]:
        record = RawRecord(line + line_end, "g/s#1", "1", 1)

        event = reader.event_of(record, record.text.split(",", 8))
        without = reader.event(RawRecord(line, "g/s#1", "1", 1))

        assert event is not None
        assert without is not None
        assert event == evolve(without, raw=line + line_end)


def test_timestamps_across_seconds_and_back_are_each_read_afresh() -> None:
    """GIVEN Aurora and plugin timestamps that change second, go back, and interleave
    WHEN parsed THEN each event has its own line's time (no stale cached second)."""
    stamps = [
        "1700000000999999",
        "1700000001000000",
        "1700000000000001",
        "20240101 12:00:00",
        "1700000001000001",
    ]
    stamps += ["20240101 12:00:01", "20240101 12:00:00", "20231231 23:59:59"]
    lines = [f"{stamp},h,app,10.0.0.5,77,{n},CONNECT,shop,,0" for n, stamp in enumerate(stamps)]

    assert_fast_path_changes_nothing(_records(lines))


@settings(max_examples=200, deadline=None)
@given(
    seconds=st.integers(0, 9_999_999_999), micros=st.lists(st.integers(0, 999_999), min_size=1, max_size=8)
)
def test_aurora_microseconds_read_exactly_at_every_split(seconds: int, micros: list[int]) -> None:
    """GIVEN Aurora stamps of one second with any microseconds (millisecond and microsecond parts at
    their edges included) WHEN parsed THEN each time equals the careful reader's."""
    micros += [0, 999, 1000, 999_000, 999_999]
    lines = [
        f"{seconds:010d}{micro:06d},h,app,10.0.0.5,77,{n},CONNECT,shop,,0" for n, micro in enumerate(micros)
    ]

    assert_fast_path_changes_nothing(_records(lines))


def test_a_reader_with_many_distinct_tails_still_reads_each_correctly() -> None:
    """GIVEN more distinct retcodes than the tail cache keeps WHEN parsed THEN results still equal."""
    lines = [f"{A}QUERY,shop,'select {n}',{n}" for n in range(600)]
    lines += [f"{P}CONNECT,shop,,{n}" for n in range(600)]

    assert_fast_path_changes_nothing(_records(lines))


OPERATIONS = ["QUERY", "QUERY_DDL", "QUERY_DML", "CONNECT", "DISCONNECT", "READ", "DROP", "PROXY_CONNECT"]
OBJECTS = st.one_of(
    TRICKY.map(lambda text: f"'{escape_like_the_plugin(text)}'"),
    TRICKY.map(lambda text: f"'{text}'"),
    TRICKY,
)
TAILS = st.sampled_from([",0", ",0,,", ",1064,,", ",", ",-1", ",0,SOCKET", ",0,TCP/IP", "", ",0\r", ",x"])
LINES = st.one_of(
    st.builds(
        lambda head, operation, obj, tail: f"{head}{operation},shop,{obj}{tail}",
        st.sampled_from(HEADS),
        st.sampled_from(OPERATIONS),
        OBJECTS,
        TAILS,
    ),
    TRICKY,
)


@settings(max_examples=400, deadline=None)
@given(lines=st.lists(LINES, max_size=6), limit=st.sampled_from(LIMITS))
def test_arbitrary_line_streams_parse_identically(lines: list[str], limit: int | None) -> None:
    """GIVEN streams of audit lines with arbitrary objects and tails, and continuation text
    WHEN parsed with and without the fast path THEN the same results."""
    assert_fast_path_changes_nothing(_records(lines), limit)
