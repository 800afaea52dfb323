"""MySQL-family audit parser: truncation, line splitting, multi-line statements, isolation, sniffing."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from parsers import mysql_audit, mysql_fast_path
from parsers.event import Action, AuditEvent, ParseFailure, ParseResult
from parsers.mysql_audit import looks_like_mysql_audit, parse_mysql_audit, parse_mysql_audit_carefully
from parsers.records import RawRecord
from tests.unit.parsers.mysql_audit_lines import (
    AURORA_HEAD,
    PLUGIN_HEAD,
    parse_event,
    parse_lines,
    query_line,
)

# --- truncation (FORMATS 2.3, 2.6.5, 8) ----------------------------------------------------------------


def test_dangling_backslash_before_closing_quote_is_a_cut_escape() -> None:
    """GIVEN `'...\\'` + tail (an escape cut by the limit) WHEN parsed THEN backslash dropped, truncated."""
    event = parse_event(query_line("select \\'A\\', \\", PLUGIN_HEAD, ",0,,"))

    assert (event.statement, event.statement_truncated, event.status) == ("select 'A', ", True, "0")


def test_replacement_character_at_end_means_a_cut_multibyte_character() -> None:
    """GIVEN a line cut inside a UTF-8 character, decoded with errors="replace" WHEN parsed THEN truncated."""
    cut = "é".encode()[:1]  # the first byte of a two-byte character
    raw = f"{PLUGIN_HEAD}QUERY,shop,'SELECT \\'caf".encode() + cut + b"',0"
    line = raw.decode("utf-8", errors="replace")

    event = parse_event(line)

    assert (event.statement, event.statement_truncated) == ("SELECT 'caf\ufffd", True)


def test_replacement_character_inside_the_statement_is_not_a_cut() -> None:
    """GIVEN invalid UTF-8 in the middle of a statement WHEN parsed THEN kept as U+FFFD, not truncated."""
    event = parse_event(query_line("SELECT '\ufffd' FROM t".replace("'", "\\'"), PLUGIN_HEAD))

    assert (event.statement, event.statement_truncated) == ("SELECT '\ufffd' FROM t", False)


@pytest.mark.parametrize(
    ("escaped", "limit", "truncated"),
    [
        ("set global serv", 15, True),  # plugin test suite, server_audit_query_log_limit=15
        ("set global se", 15, False),
        ("set global ser", 15, True),  # one short of the limit: a cut escape pair cannot be told apart
        ("set global serv", None, False),  # the plugin cuts silently: without the limit, nobody knows
        ("select \\'A\\', ", 15, True),  # escaped text counts, as the plugin counts it
        ("ééééééé", 14, True),  # 7 characters, 14 UTF-8 bytes
        ("ééééééé", 16, False),
    ],
)
def test_query_log_limit_marks_statements_at_the_limit(
    escaped: str, limit: int | None, truncated: bool
) -> None:
    """GIVEN the server's query_log_limit WHEN a statement's escaped text reaches it THEN marked truncated."""
    event = parse_event(query_line(escaped, PLUGIN_HEAD, ",0,,"), query_log_limit=limit)

    assert event.statement_truncated is truncated


# --- line splitting and multi-line statements (FORMATS 1.5, 8) ------------------------------------------


def test_vt_ff_and_unicode_separators_inside_a_statement_are_ordinary_characters() -> None:
    """GIVEN raw VT, FF, NEL, U+2028 in a statement, file split on LF only WHEN parsed THEN one event."""
    statement = "SELECT '\x0b', '\x0c', '\x85', '\u2028', '\x1b\x7f'"
    text = query_line(statement.replace("'", "\\'"), PLUGIN_HEAD) + "\n"
    assert len(text.splitlines()) > 1  # why the reader must not use splitlines()

    results = parse_lines(*text.removesuffix("\n").split("\n"))

    assert [r.statement for r in results if isinstance(r, AuditEvent)] == [statement]


def test_cloudwatch_message_with_an_embedded_newline_is_one_statement() -> None:
    """GIVEN one CloudWatch message holding a raw newline inside the quotes WHEN parsed THEN one statement."""
    event = parse_event(query_line("SELECT 1\nFROM dual"))

    assert event.statement == "SELECT 1\nFROM dual"


def test_open_statement_absorbs_following_non_header_lines() -> None:
    """GIVEN a QUERY whose quote closes two lines later (UNVERIFIED Aurora raw newlines)
    WHEN parsed THEN one event: lines joined with LF, location and id of the first line."""
    lines = (f"{AURORA_HEAD}QUERY,shop,'SELECT a,", "", "  FROM t WHERE x = \\'y\\'", "  LIMIT 1',0")
    records = [RawRecord(line, f"t:{n}", event_id=f"e{n}") for n, line in enumerate(lines, 1)]

    (event,) = parse_mysql_audit(records)

    assert isinstance(event, AuditEvent)
    assert (event.statement, event.location, event.event_id, event.raw, event.status) == (
        "SELECT a,\n\n  FROM t WHERE x = 'y'\n  LIMIT 1",
        "t:1",
        "e1",
        "\n".join(lines),
        "0",
    )


def test_open_statement_interrupted_by_a_header_is_a_failure_and_the_header_still_parses() -> None:
    """GIVEN an unclosed statement followed by a new record WHEN parsed THEN failure (joined), then event."""
    opened = f"{AURORA_HEAD}QUERY,shop,'SELECT 1"
    nxt = f"{AURORA_HEAD}DISCONNECT,,,0"

    results = parse_lines(opened, "FROM t", nxt)

    assert results[0] == ParseFailure("mysql_audit", "unterminated statement", f"{opened}\nFROM t", "t:1")
    assert isinstance(results[1], AuditEvent)
    assert (results[1].action, results[1].location) == (Action.DISCONNECT, "t:3")


def test_open_statement_at_end_of_input_is_a_failure() -> None:
    """GIVEN an unclosed statement as the last record WHEN parsed THEN one unterminated failure."""
    opened = f"{AURORA_HEAD}QUERY,shop,'SELECT 1"

    assert parse_lines(opened) == [ParseFailure("mysql_audit", "unterminated statement", opened, "t:1")]


def test_open_statement_is_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    """GIVEN an unclosed statement growing past the cap WHEN parsed THEN failure; later lines fail alone."""
    monkeypatch.setattr(mysql_audit, "MAX_OPEN_STATEMENT_CHARS", 100)
    opened = f"{AURORA_HEAD}QUERY,shop,'SELECT 1"

    results = parse_lines(opened, "x" * 60, "y" * 60, "z")

    assert [(r.reason, r.location) for r in results if isinstance(r, ParseFailure)] == [
        ("unterminated statement", "t:1"),
        ("too few fields", "t:3"),
        ("too few fields", "t:4"),
    ]


def test_lone_non_header_line_is_a_failure() -> None:
    """GIVEN a continuation-looking line with nothing open WHEN parsed THEN a ParseFailure."""
    assert parse_lines("  FROM t',0") == [ParseFailure("mysql_audit", "too few fields", "  FROM t',0", "t:1")]


@pytest.mark.parametrize("blank", ["", " ", "\t", "\r"])
def test_blank_records_are_skipped(blank: str) -> None:
    """GIVEN a blank record between two events WHEN parsed THEN no failure for it."""
    results = parse_lines(f"{AURORA_HEAD}CONNECT,,,0", blank, f"{AURORA_HEAD}DISCONNECT,,,0")

    assert [r.location for r in results] == ["t:1", "t:3"]


def test_crlf_line_end_is_tolerated_and_raw_kept() -> None:
    """GIVEN a line from a CRLF file WHEN parsed THEN the CR is not part of any field; raw unchanged."""
    line = query_line("SELECT 1", PLUGIN_HEAD, ",0,,\r")

    event = parse_event(line)

    assert (event.statement, event.status, event.engine, event.raw) == ("SELECT 1", "0", "mysql", line)


@pytest.mark.parametrize("parse", [parse_mysql_audit, parse_mysql_audit_carefully])
def test_an_internal_error_is_isolated_to_its_record(
    monkeypatch: pytest.MonkeyPatch, parse: Callable[[list[RawRecord]], Iterator[ParseResult]]
) -> None:
    """GIVEN a bug that raises on one record (in the fast path or the careful reader)
    WHEN parsed THEN that record fails and the next still parses."""
    real = mysql_audit.split_host_port

    def explode_on_bad_host(host: str) -> tuple[str, str]:
        if host.startswith("boom"):
            raise RuntimeError(host)
        return real(host)

    monkeypatch.setattr(mysql_audit, "split_host_port", explode_on_bad_host)
    monkeypatch.setattr(mysql_fast_path, "split_host_port", explode_on_bad_host)
    bad = "20240101 12:00:00,h,u,boom:3306,7,0,CONNECT,,,0"
    records = [RawRecord(bad, "t:1"), RawRecord("20240101 12:00:00,h,u,ok:3306,8,0,CONNECT,,,0", "t:2")]

    results = list(parse(records))

    assert results[0] == ParseFailure("mysql_audit", "internal error: RuntimeError", bad, "t:1")
    assert isinstance(results[1], AuditEvent)
    assert (results[1].client_host, results[1].client_port) == ("ok", "3306")


# --- sniffing -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("1728498527380921,auora-mysql-node1,user_1,172.31.49.222,147189,0,FAILED_CONNECT,,,1045", True),
        ("20221201 14:07:05,ip-10-22-1-51,rdsadmin,localhost,821,0,CONNECT,,,0,SOCKET", True),
        ("20201130 23:08:34,localhost.localdomain,,,1,0,DISCONNECT,,,0", True),
        ("20260731 09:14:22,mdb1,root,192.168.1.24:54312,7,0,CONNECT,mysql,TLSv1.3,0", True),
        ("TIME,HOSTNAME,root,localhost,CONNECTION_ID,QUERY_ID,QUERY,,'set global x=1',0,,", False),
        ("2020-10-23T07:13:26.298081Z 34 [Note] Access denied for user 'admin'@'58.182.98.237'", False),
        ("2024-01-01 12:00:00 UTC:10.0.0.5(5432):app@shop:[77]:LOG:  AUDIT: SESSION,1,1,READ", False),
        ('{"type": "DatabaseActivityMonitoringRecords"}', False),
        ("  FROM t',0", False),
        ("", False),
    ],
)
def test_looks_like_mysql_audit(line: str, expected: bool) -> None:
    """GIVEN one physical line WHEN sniffed THEN true only for a MySQL-family audit header."""
    assert looks_like_mysql_audit(line) is expected
