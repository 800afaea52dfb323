"""Property tests: the MySQL-family audit parser never raises and round-trips any statement text."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from parsers.event import AuditEvent, ParseFailure, ParseResult
from parsers.mysql_audit import looks_like_mysql_audit, parse_mysql_audit
from parsers.records import RawRecord

# The plugin's esc_map (aws/audit-plugin-for-mysql server_audit.cc): only these seven are escaped.
ESC_MAP = {"\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r", "'": "\\'", "\\": "\\\\"}
HEADS = [
    "1700000000123456,node-1,app,10.0.0.5,77,1234,",  # Aurora
    "20240101 12:00:00,db-host,app,10.0.0.5,77,1234,",  # RDS MySQL / MariaDB
    "20260731 09:14:22,mdb1,app,[::1]:50312,77,1234,",  # MariaDB 12.0.1
]
TAILS = [",0", ",0,,", ",1064,,", ","]
FAST = settings(max_examples=300, deadline=None)

# Text rich in the characters that matter here: quotes, backslashes, commas, line and escape characters.
TRICKY = st.text(
    alphabet=st.sampled_from(list("'\\,\"n0trbf \n\r\t\b\f\x0b\x85\u2028\ufffd\x00é")) | st.characters(),
    max_size=40,
)


def escape_like_the_plugin(text: str) -> str:
    """The plugin's escape_string: esc_map characters become backslash pairs, the rest is written raw."""
    return "".join(ESC_MAP.get(char, char) for char in text)


def assert_well_formed(results: list[ParseResult]) -> None:
    """Every result is an event or a failure, and no failure comes from a bug in the parser."""
    assert all(isinstance(result, AuditEvent | ParseFailure) for result in results)
    assert not any(isinstance(r, ParseFailure) and r.reason.startswith("internal error") for r in results)


@FAST
@given(st.lists(st.text(max_size=80) | TRICKY, max_size=6))
def test_arbitrary_records_never_raise(texts: list[str]) -> None:
    """GIVEN arbitrary records WHEN parsed THEN only events and failures, at most one per record."""
    results = list(parse_mysql_audit(RawRecord(text, f"t:{n}") for n, text in enumerate(texts, 1)))

    assert_well_formed(results)
    assert len(results) <= len(texts)


@FAST
@given(
    head=st.sampled_from(HEADS),
    operation=st.sampled_from(["QUERY", "QUERY_DDL", "CONNECT", "READ", "RENAME", "PROXY_CONNECT"]),
    spliced=TRICKY,
    tail=st.sampled_from([*TAILS, "", ",0,SOCKET"]),
    follow=st.lists(TRICKY, max_size=3),
    limit=st.none() | st.integers(min_value=-2, max_value=50),
)
def test_arbitrary_text_spliced_into_a_valid_line_never_raises(
    *, head: str, operation: str, spliced: str, tail: str, follow: list[str], limit: int | None
) -> None:
    """GIVEN raw text (quotes, backslashes, newlines) spliced into the object field, then more records
    WHEN parsed THEN only events and failures."""
    lines = [f"{head}{operation},shop,'{spliced}'{tail}", *follow]
    records = [RawRecord(line, f"t:{n}") for n, line in enumerate(lines, 1)]

    assert_well_formed(list(parse_mysql_audit(records, query_log_limit=limit)))


@FAST
@given(head=st.sampled_from(HEADS), tail=st.sampled_from(TAILS[:3]), statement=st.text(max_size=60) | TRICKY)
def test_statement_round_trips_through_the_plugin_escaping(head: str, tail: str, statement: str) -> None:
    """GIVEN any statement escaped as the plugin does WHEN its line is parsed THEN the same text back."""
    line = f"{head}QUERY,shop,'{escape_like_the_plugin(statement)}'{tail}"

    results = list(parse_mysql_audit([RawRecord(line, "t:1")]))

    assert len(results) == 1
    event = results[0]
    assert isinstance(event, AuditEvent)
    assert event.statement == statement
    assert event.statement_truncated is statement.endswith("\ufffd")
    assert looks_like_mysql_audit(line)


@FAST
@given(st.lists(st.text(max_size=30) | TRICKY, min_size=1, max_size=5))
def test_a_file_of_escaped_statements_splits_on_lf_into_the_same_statements(statements: list[str]) -> None:
    """GIVEN a file of plugin-escaped lines WHEN split on LF only and parsed THEN one event per statement."""
    head = HEADS[1]
    file_text = "".join(f"{head}QUERY,shop,'{escape_like_the_plugin(s)}',0,,\n" for s in statements)

    results = list(parse_mysql_audit(RawRecord(line) for line in file_text.split("\n")))

    assert [r.statement for r in results if isinstance(r, AuditEvent)] == statements
    assert len(results) == len(statements)


@FAST
@given(st.text(max_size=120))
def test_sniffer_never_raises(text: str) -> None:
    """GIVEN arbitrary text WHEN sniffed THEN a plain boolean."""
    assert looks_like_mysql_audit(text) in (True, False)
