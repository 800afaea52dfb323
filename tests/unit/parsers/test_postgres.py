"""PostgreSQL log parsing: prefixes, entry grouping, origin fields, robustness on arbitrary input."""

from __future__ import annotations

from datetime import UTC
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parsers.event import Action, AuditEvent, ParseFailure, Source
from parsers.postgres import looks_like_postgres, parse_postgres
from parsers.records import Origin, RawRecord
from tests.unit.parsers.postgres_lines import TS, WHEN, event_of, log, long_prefix, parse, summary

# --- prefixes (FORMATS 3.2, pitfalls 1, 2, 4, 5, 7) ------------------------------------------------


def select_1(
    remote: str = "10.0.0.5(40000)", user: str = "alice", database: str = "app", ts: str = TS
) -> str:
    """A `statement: select 1` entry of pid 4242 with prefix overrides."""
    return log(4242, "LOG", "statement: select 1", user=user, database=database, remote=remote, ts=ts)


MS = WHEN.replace(microsecond=250000)
CLIENT = ("10.0.0.5", "40000", "alice", "app")


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        pytest.param(select_1(), (WHEN, *CLIENT, ""), id="rds-default-two-spaces"),
        pytest.param(f"{TS}:10.0.0.5(40000):alice@app:[4242]:LOG: statement: select 1", (WHEN, *CLIENT, ""),
                     id="one-space-as-on-aws-web-pages"),
        pytest.param(select_1(remote="2001:db8::5(40000)"),
                     (WHEN, "2001:db8::5", "40000", "alice", "app", ""), id="ipv6-remote"),
        pytest.param(select_1(remote="app-1.corp.example(40000)"),
                     (WHEN, "app-1.corp.example", "40000", "alice", "app", ""), id="log-hostname-remote"),
        pytest.param(select_1(remote="[local]"), (WHEN, "[local]", "", "alice", "app", ""), id="unix-socket"),
        pytest.param(select_1(remote="", user="", database=""), (WHEN, "", "", "", "", ""),
                     id="background-process-empty-fields"),
        pytest.param(select_1(user="[unknown]", database="[unknown]"),
                     (WHEN, "10.0.0.5", "40000", "", "", ""), id="unknown-before-authentication"),
        pytest.param(select_1(user="a:b@c", database="my:db"),
                     (WHEN, "10.0.0.5", "40000", "a:b@c", "my:db", ""),
                     id="names-with-colon-and-at-split-on-last-at"),
        pytest.param(long_prefix(4242, "00000") + "LOG:  statement: select 1", (MS, *CLIENT, ""),
                     id="v16-long-prefix-success-sqlstate-is-empty-status"),
        pytest.param(long_prefix(4242, "42P01", "my:app LOG") + "LOG:  statement: select 1",
                     (MS, *CLIENT, "42P01"), id="v16-long-prefix-sqlstate-and-odd-application-name"),
        pytest.param("2024-05-01 12:00:00.250 UTC [4242] LOG:  statement: select 1", (MS, "", "", "", "", ""),
                     id="stock-m-p-prefix"),
        pytest.param("2024-05-01 12:00:00.250 UTC [4242] alice@app LOG:  statement: select 1",
                     (MS, "", "", "alice", "app", ""), id="debian-prefix"),
        pytest.param(select_1(ts="2024-05-01 21:00:00 +09"), (WHEN, *CLIENT, ""), id="numeric-offset-hours"),
        pytest.param(select_1(ts="2024-05-01 08:30:00 -0330"), (WHEN, *CLIENT, ""), id="numeric-offset-hhmm"),
        pytest.param(select_1(ts="2024-05-01 17:30:00 +05:30"), (WHEN, *CLIENT, ""),
                     id="numeric-offset-colon"),
        pytest.param(select_1(ts="2024-05-01 12:00:00 GMT"), (WHEN, *CLIENT, ""), id="gmt"),
        pytest.param(select_1(ts="2024-05-01 12:00:00 CEST"), (WHEN, *CLIENT, ""),
                     id="unknown-abbreviation-is-taken-as-utc"),
    ],
)  # fmt: skip
def test_prefix_variants(line: str, expected: tuple[Any, ...]) -> None:
    """GIVEN a statement line under one prefix variant WHEN parsed THEN the prefix fields are decoded:
    (time, client host, client port, user, database, status)."""
    event = event_of(line)
    assert (
        event.time,
        event.client_host,
        event.client_port,
        event.user,
        event.database,
        event.status,
    ) == expected
    assert (event.session_id, event.statement) == ("4242", "select 1")


@pytest.mark.parametrize(
    ("line", "sniffed"),
    [
        (log(1, "LOG", "checkpoint starting: time"), True),
        (log(1, "FATAL", 'password authentication failed for user "x"'), True),
        ("2022-03-07 21:44:53.978 UTC [16641] LOG: connection authorized: user=labtek", True),
        ("\tFROM t", False),
        ("FROM support", False),
        ("", False),
        ("2024-05-01 12:00:00 UTC", False),
        ("2024-05-01 12:00:00 UTC:10.0.0.5(40000):alice@app:[4242]:SOMETHING:  x", False),
        ("1593462487092843,ip-172-31-20-80,admin,10.0.0.5,45,0,QUERY,db,'select 1',0", False),
        ("20230515 10:00:00,host,user,10.0.0.5,1,2,QUERY,db,'select 1',0", False),
        ("AUDIT: SESSION,1,1,READ,SELECT,,,select 1,<none>", False),
    ],
)
def test_looks_like_postgres(line: str, sniffed: bool) -> None:
    """GIVEN one physical line WHEN sniffed THEN only a recognised prefix with a severity counts."""
    assert looks_like_postgres(line) is sniffed


# --- entries: continuation lines, failures, CloudWatch messages (pitfall 3) --------------------------


def test_tab_continuation_strips_exactly_one_tab() -> None:
    """GIVEN a statement whose own lines start with a TAB WHEN logged (one more TAB) and parsed THEN
    only the logger's TAB is removed."""
    event = event_of(log(7, "LOG", "statement: select\n\t1\nfrom t"))
    assert event.statement == "select\n\t1\nfrom t"
    assert event.raw == f"{TS}:10.0.0.5(40000):alice@app:[7]:LOG:  statement: select\n\t\t1\n\tfrom t"


def test_lines_without_prefix_continue_the_entry() -> None:
    """GIVEN continuation lines that lost their TAB (AWS doc samples) WHEN parsed THEN they join the entry."""
    event = event_of(f"{TS}:10.0.0.5(40000):alice@app:[7]:LOG: statement: select 1\nfrom t\n;")
    assert (event.statement, event.location) == ("select 1\nfrom t\n;", "postgresql.log:1")


def test_lines_before_any_entry_are_failures_and_blank_ones_are_skipped() -> None:
    """GIVEN orphan lines and blank lines before the first entry WHEN parsed THEN each non-blank orphan
    is a ParseFailure and the entry after them still parses."""
    results = parse("orphan one", "", "\tindented orphan", log(7, "LOG", "statement: select 1"))
    assert results[:2] == [
        ParseFailure("postgres", "continuation line before any log entry", "orphan one", "postgresql.log:1"),
        ParseFailure(
            "postgres", "continuation line before any log entry", "\tindented orphan", "postgresql.log:3"
        ),
    ]
    assert summary(results[2])[0:3] == (Action.QUERY, "postgresql.log:4", "7")


def test_end_of_log_marker_is_skipped_and_closes_the_entry() -> None:
    """GIVEN the console's END OF LOG marker WHEN parsed THEN it is no part of the entry before it, and a
    prefix-less line after it has no entry to continue (pinned: a ParseFailure)."""
    marker = "----------------------- END OF LOG ----------------------"
    results = parse(
        log(7, "LOG", "statement: select 1"), marker, "stray", log(8, "LOG", "statement: select 2")
    )
    assert [getattr(r, "statement", None) for r in results] == ["select 1", None, "select 2"]
    assert results[1] == ParseFailure(
        "postgres", "continuation line before any log entry", "stray", "postgresql.log:3"
    )


def test_impossible_timestamp_makes_the_whole_entry_a_failure() -> None:
    """GIVEN a prefixed line with month 13 WHEN parsed THEN its entry (with continuation) is one failure."""
    results = parse(log(7, "LOG", "statement: select\n1", ts="2024-13-01 12:00:00 UTC"))
    assert results == [
        ParseFailure(
            "postgres",
            "impossible timestamp '2024-13-01 12:00:00' UTC",
            "2024-13-01 12:00:00 UTC:10.0.0.5(40000):alice@app:[7]:LOG:  statement: select\n\t1",
            "postgresql.log:1",
        )
    ]


def test_cloudwatch_message_with_several_entries_and_a_final_newline() -> None:
    """GIVEN one CloudWatch message holding two entries and a trailing LF WHEN parsed THEN both events
    carry the message's location and event id, and the LF adds nothing."""
    text = log(7, "LOG", "statement: select\n1") + "\n" + log(8, "LOG", "statement: select 2") + "\n"
    results = list(parse_postgres([RawRecord(text, "/aws/rds/instance/db1/postgresql/db1#e1", "e1")]))
    assert [(r.location, r.event_id, r.statement) for r in results if isinstance(r, AuditEvent)] == [
        ("/aws/rds/instance/db1/postgresql/db1#e1", "e1", "select\n1"),
        ("/aws/rds/instance/db1/postgresql/db1#e1", "e1", "select 2"),
    ]


def test_entry_split_over_records_takes_the_first_records_location_and_id() -> None:
    """GIVEN an entry whose continuation line arrives as another CloudWatch event WHEN parsed THEN the
    event is located at, and identified by, the first record."""
    first, second = log(7, "LOG", "statement: select\n1").split("\n")
    [event] = parse_postgres([RawRecord(first, "g/s#a", "a"), RawRecord(second, "g/s#b", "b")])
    assert isinstance(event, AuditEvent)
    assert (event.statement, event.location, event.event_id) == ("select\n1", "g/s#a", "a")


# --- origin and engine ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("origin", "engine"),
    [
        (Origin("/aws/rds/cluster/prod/postgresql", "prod-instance-1", "prod"), "aurora-postgresql"),
        (Origin("/aws/rds/instance/db1/postgresql", "db1", "db1"), "postgres"),
        (Origin(), "postgres"),
    ],
)
def test_origin_fields_and_engine(origin: Origin, engine: str) -> None:
    """GIVEN an origin WHEN parsed THEN its fields are copied and the engine follows the log group."""
    [event] = parse(log(900, "LOG", "statement: select 1"), origin=origin)
    assert isinstance(event, AuditEvent)
    assert (event.engine, event.cluster, event.log_group, event.log_stream, event.source) == (
        engine,
        origin.cluster,
        origin.log_group,
        origin.log_stream,
        Source.POSTGRES,
    )


# --- robustness ---------------------------------------------------------------------------------------

FRAGMENTS = [
    f"{TS}:10.0.0.5(40000):alice@app:[1]:",
    f"{TS}::@:[2]:",
    "2024-05-01 12:00:00.250 UTC [3] ",
    "2024-13-45 99:99:99 XYZ:",
    "LOG:  ", "FATAL:  ", "ERROR:  ", "DETAIL:  ", "STATEMENT:  ", "HINT: ",
    "AUDIT: ", "SESSION,", "OBJECT,", "1,", "READ,", "<previously logged>", "<not logged>", "<none>",
    "connection authorized: user=", "disconnection: session time: 0:00:01.000 user=u database=d host=h",
    'password authentication failed for user "', "statement: ", "execute S_1: ", "duration: 1.0 ms  ",
    '"', '""', ",", "\n", "\t", "\n\t", " ", "@", ":", "[", "]", "(", ")", "x", "",
    "----------------------- END OF LOG ----------------------",
]  # fmt: skip
record_texts = st.lists(st.sampled_from(FRAGMENTS), max_size=12).map("".join) | st.text(max_size=60)


@settings(max_examples=300, deadline=None)
@given(st.lists(record_texts, max_size=8))
def test_arbitrary_records_never_raise(texts: list[str]) -> None:
    """GIVEN arbitrary record texts WHEN parsed THEN only events and postgres ParseFailures come out."""
    for result in parse_postgres([RawRecord(text, f"r#{n}", str(n)) for n, text in enumerate(texts)]):
        if isinstance(result, ParseFailure):
            assert result.source == "postgres"
        else:
            assert result.source is Source.POSTGRES
            assert result.time.tzinfo is UTC
