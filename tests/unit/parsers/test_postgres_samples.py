"""Every line of the copied PostgreSQL / pgaudit log samples gives exactly the expected event (or none)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from parsers.event import Action, AuditEvent, ParseFailure, Source
from parsers.postgres import looks_like_postgres, parse_postgres
from parsers.records import Origin, RawRecord

SAMPLES = Path(__file__).resolve().parents[2] / "data" / "samples"
ORIGIN = Origin(log_group="/aws/rds/cluster/lab/postgresql", log_stream="lab-instance-1", cluster="lab")

RDS = "postgresql-rds.log"
QUERY_LOGGING = "postgresql-query-logging.aws-doc.log"
CONNECTIONS = "postgresql-connections.aws-doc.log"
PGAUDIT = "pgaudit-postgresql.log"
PGAUDIT_DOC = "pgaudit-aws-doc.log"
LOG_SAMPLES = (RDS, QUERY_LOGGING, CONNECTIONS, PGAUDIT, PGAUDIT_DOC)


def sample_lines(name: str) -> list[str]:
    """The physical lines of a sample (split on LF only, as the file reader does)."""
    return (SAMPLES / name).read_text(encoding="utf-8").removesuffix("\n").split("\n")


@cache
def parsed(name: str) -> tuple[AuditEvent | ParseFailure, ...]:
    """Parse a whole sample, one record per physical line, with an Aurora cluster origin."""
    records = [RawRecord(line, f"{name}:{number}") for number, line in enumerate(sample_lines(name), 1)]
    return tuple(parse_postgres(records, ORIGIN))


def at(time: str) -> datetime:
    """A UTC instant from `YYYY-MM-DD HH:MM:SS[.fff]`."""
    return datetime.fromisoformat(time).replace(tzinfo=UTC)


def expected(name: str, first: int, last: int, action: Action, time: str, **fields: Any) -> AuditEvent:
    """The event of the entry spanning lines first..last of a sample, with the origin's common fields."""
    return AuditEvent(
        source=Source.POSTGRES,
        time=at(time),
        action=action,
        engine="aurora-postgresql",
        cluster="lab",
        log_group=ORIGIN.log_group,
        log_stream=ORIGIN.log_stream,
        location=f"{name}:{first}",
        raw="\n".join(sample_lines(name)[first - 1 : last]),
        **fields,
    )


KC_CLIENT = {"client_host": "123.45.67.8", "client_port": "6789", "user": "test_user", "database": "Test_DB"}
LAB = {"client_host": "52.95.4.1", "user": "postgres", "database": "labdb"}
AUDIT_1 = {"client_host": "10.0.1.123", "client_port": "50322", "user": "audit_user1", "database": "auditdb"}
DOC_SELECT = (
    "SELECT feedback, s.sentiment,s.confidence\n"
    "FROM support,aws_comprehend.detect_sentiment(feedback, 'en') s\n"
    "ORDER BY s.confidence DESC;"
)
CTAS = (
    "CREATE TABLE t1 AS\nSELECT num                         a\n      ,'1'                         b\n"
    "      ,to_char(num,'FM00000')      c\n      ,current_timestamp      d\n"
    "FROM   generate_series(1,10000000) num\n;"
)
JAPANESE_INSERT = (
    "INSERT INTO test02 VALUES ('0002', 'audit.log=all,audit.role=設定あり,ロール紐づけたDBだよ', 28);"
)

# Events in output order. A CONNECT waits for its pid's next entry (none in postgresql-rds.log), and a
# FATAL for its DETAIL, so both come out at the end of input, in input order.
EXPECTED: dict[str, list[AuditEvent]] = {
    RDS: [
        expected(RDS, 2, 2, Action.FAILED_CONNECT, "2018-04-19 10:12:31", session_id="12507", **KC_CLIENT,
                 command="password", status="28P01",
                 error_message='password authentication failed for user "test_user"'),
        expected(RDS, 5, 5, Action.QUERY, "2024-01-19 13:20:43", session_id="3075",
                 client_host="223.233.86.169", client_port="31944", user="postgresql", database="postgres",
                 statement="SELECT * from large_table"),
        expected(RDS, 4, 4, Action.CONNECT, "2018-04-19 10:19:20", session_id="17196", **KC_CLIENT),
        expected(RDS, 6, 6, Action.FAILED_CONNECT, "2024-01-21 17:56:55", session_id="43627",
                 client_host="3.92.54.14", client_port="57164", user="postgresql", database="postgresql",
                 command="password", status="28P01",
                 error_message='password authentication failed for user "postgresql"'),
    ],
    QUERY_LOGGING: [
        expected(QUERY_LOGGING, 1, 3, Action.QUERY, "2022-10-05 22:05:52", session_id="3639",
                 client_port="11335", **LAB, statement=DOC_SELECT),
        expected(QUERY_LOGGING, 16, 17, Action.QUERY, "2022-10-05 22:05:56", session_id="3639",
                 client_port="11335", **LAB, statement="ORDER BY s.confidence DESC;", status="ERROR",
                 error_message='syntax error at or near "ORDER" at character 1'),
        expected(QUERY_LOGGING, 19, 19, Action.QUERY, "2022-10-05 19:05:19", session_id="6144",
                 client_port="6461", **LAB, statement="DROP table comments;"),
    ],
    CONNECTIONS: [
        expected(CONNECTIONS, 1, 1, Action.CONNECT, "2022-03-07 21:44:53.978", session_id="16641",
                 user="labtek", database="labdb"),
        expected(CONNECTIONS, 2, 2, Action.DISCONNECT, "2022-03-07 21:44:55.718", session_id="16641",
                 user="labtek", database="labdb", client_host="[local]"),
    ],
    PGAUDIT: [
        expected(PGAUDIT, 1, 7, Action.QUERY_DDL, "2020-11-13 08:06:24", session_id="24298", **AUDIT_1,
                 query_id="1.2", command="CREATE TABLE AS", statement=CTAS),
        expected(PGAUDIT, 8, 8, Action.QUERY_DML, "2020-11-13 08:07:36", session_id="24298", **AUDIT_1,
                 query_id="2.1", command="SELECT", object_type="TABLE", object="public.t1",
                 statement="select count(*) from t1;"),
        expected(PGAUDIT, 9, 9, Action.QUERY_DML, "2020-11-13 08:07:36", session_id="32064",
                 query_id="1.1", command="SELECT", object_type="TABLE", object="public.t1",
                 statement="select count(*) from t1;"),
        expected(PGAUDIT, 10, 10, Action.QUERY_DDL, "2021-10-30 07:23:56", session_id="28180",
                 client_host="116.14.204.216", client_port="50222", user="postgres", database="mytest",
                 query_id="1.1", command="DROP TABLE", object_type="TABLE", object="public.t3",
                 statement="drop table t3;"),
        expected(PGAUDIT, 11, 11, Action.QUERY, "2023-08-10 08:47:15", session_id="12726",
                 client_host="172.31.1.50", client_port="44986", user="postgres", database="postgres",
                 query_id="116.1", command="COMMIT", statement="COMMIT"),
        expected(PGAUDIT, 12, 12, Action.QUERY_DML, "2021-02-13 01:21:33", session_id="893",
                 client_host="10.123.10.212", client_port="55090", user="postgres", database="test_database",
                 query_id="2.1", command="INSERT", statement=JAPANESE_INSERT),
    ],
    PGAUDIT_DOC: [
        expected(PGAUDIT_DOC, 1, 2, Action.QUERY_DML, "2017-06-12 19:09:49", session_id="11701",
                 client_host="...", user="rds_test", database="postgres", query_id="1.1", command="SELECT",
                 object_type="TABLE", object="public.t1", statement="select * from t1;"),
    ],
}  # fmt: skip


def line_cases() -> list[Any]:
    """One case per physical line of every sample: the event located there, or None."""
    cases = []
    for name in LOG_SAMPLES:
        by_location = {event.location: event for event in EXPECTED[name]}
        for number in range(1, len(sample_lines(name)) + 1):
            location = f"{name}:{number}"
            cases.append(pytest.param(name, location, by_location.get(location), id=location))
    return cases


@pytest.mark.parametrize(("name", "location", "event"), line_cases())
def test_each_sample_line_gives_its_exact_event_or_none(
    name: str, location: str, event: AuditEvent | None
) -> None:
    """GIVEN a sample parsed whole WHEN looking at what one line produced THEN it is exactly as expected."""
    produced = [result for result in parsed(name) if result.location == location]
    assert produced == ([] if event is None else [event])


@pytest.mark.parametrize("name", LOG_SAMPLES)
def test_each_sample_gives_its_events_in_order_and_no_failure(name: str) -> None:
    """GIVEN a whole sample WHEN parsed THEN the events come in the documented order, nothing fails."""
    assert list(parsed(name)) == EXPECTED[name]


@pytest.mark.parametrize("name", LOG_SAMPLES)
def test_a_sample_as_one_cloudwatch_message_gives_the_same_events(name: str) -> None:
    """GIVEN a sample delivered as one multi-line CloudWatch message WHEN parsed THEN the same events
    come out, each located at the message and carrying its event id."""
    text = (SAMPLES / name).read_text(encoding="utf-8")
    results = list(parse_postgres([RawRecord(text, "group/stream#1", event_id="e1")], ORIGIN))
    assert results == [replace(event, location="group/stream#1", event_id="e1") for event in EXPECTED[name]]


@pytest.mark.parametrize(
    ("name", "line_number", "sniffed"),
    [
        (RDS, 1, True),
        (QUERY_LOGGING, 2, False),  # a continuation line that lost its TAB
        (QUERY_LOGGING, 18, False),  # END OF LOG marker
        (QUERY_LOGGING, 21, True),  # background process, empty %r %u %d
        (CONNECTIONS, 1, True),  # stock "%m [%p] " prefix
        (PGAUDIT, 2, False),  # TAB continuation
        (PGAUDIT, 12, True),
        (PGAUDIT_DOC, 1, True),  # host elided as "..."
    ],
)
def test_looks_like_postgres_on_sample_lines(name: str, line_number: int, sniffed: bool) -> None:
    """GIVEN one sample line WHEN sniffed THEN only lines that open an entry look like PostgreSQL."""
    assert looks_like_postgres(sample_lines(name)[line_number - 1]) is sniffed
