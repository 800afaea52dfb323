"""MySQL-family audit parser, FORMATS 1.8 / 2.6 pitfalls: statements, timestamps, ids, hosts, operations."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from parsers.event import Action, AuditEvent, ParseFailure, Source
from tests.unit.parsers.mysql_audit_lines import (
    AURORA_HEAD,
    PLUGIN_HEAD,
    parse_event,
    parse_lines,
    query_line,
)

# --- statements: commas, quotes, escapes (FORMATS 1.5, 1.8.1-2, 2.3) ------------------------------------


@pytest.mark.parametrize(
    ("escaped", "statement"),
    [
        ("SELECT a, b, c FROM t", "SELECT a, b, c FROM t"),
        ("SELECT \\',0\\' , 1", "SELECT ',0' , 1"),  # a fake tail inside the statement
        ("SELECT \\'x\\',0,,", "SELECT 'x',0,,"),  # a fake RDS tail inside the statement
        ("SELECT \"a,b\", \\'c\\'", "SELECT \"a,b\", 'c'"),
        ("select 1,\\n2,\\n# comment\\n3", "select 1,\n2,\n# comment\n3"),
        ("a\\tb\\rc\\bd\\fe", "a\tb\rc\bd\fe"),
        ("C:\\\\temp\\\\new", "C:\\temp\\new"),  # escaped backslashes, not \t / \n
        ("\\\\n", "\\n"),  # an escaped backslash followed by a plain n
        ('say \\"hi\\"', 'say "hi"'),
        ("nul\\0byte", "nul\0byte"),
        ("keep \\x and \\% and \\_", "keep \\x and \\% and \\_"),  # unknown escapes keep the backslash
        ("", ""),
    ],
)
def test_statement_text_survives_commas_quotes_and_escapes(escaped: str, statement: str) -> None:
    """GIVEN an escaped statement WHEN parsed THEN the exact original text, not truncated."""
    event = parse_event(query_line(escaped))

    assert (event.statement, event.statement_truncated, event.status) == (statement, False, "0")


def test_naive_csv_loses_backslashes_but_the_parser_does_not() -> None:
    """GIVEN `\\n` and `\\\\` WHEN parsed THEN LF and one backslash (csv.reader would give n and \\)."""
    event = parse_event(query_line("a\\nb\\\\c"))

    assert event.statement == "a\nb\\c"


@pytest.mark.parametrize(
    ("line", "engine", "status"),
    [
        # 10 fields: Aurora, old RDS MySQL, MariaDB
        (f"{AURORA_HEAD}CONNECT,shop,,0", "aurora-mysql", "0"),
        (f"{PLUGIN_HEAD}CONNECT,shop,,0", "", "0"),
        # 11 fields: RDS MySQL connection events carry connection_type
        (f"{PLUGIN_HEAD}CONNECT,shop,,0,SOCKET", "mysql", "0"),
        (f"{PLUGIN_HEAD}FAILED_CONNECT,,,1045,TCP/IP", "mysql", "1045"),
        (f"{PLUGIN_HEAD}CONNECT,,,0,Named pipe", "mysql", "0"),  # the doc's spelling
        # 12 fields: RDS MySQL statements end with ,<err>,,
        (query_line("SELECT 1", PLUGIN_HEAD, ",1146,,"), "mysql", "1146"),
        (query_line("SELECT 1", PLUGIN_HEAD, ",0"), "", "0"),
        # MariaDB >= 12.0.1 writes host:port
        ("20240101 12:00:00,db,app,10.0.0.5:50312,77,0,CONNECT,shop,TLSv1.3,0", "mariadb", "0"),
    ],
)
def test_field_count_variants_and_engine(line: str, engine: str, status: str) -> None:
    """GIVEN the 10/11/12-field variants WHEN parsed THEN the engine the line reveals and its retcode."""
    event = parse_event(line)

    assert (event.engine, event.status) == (engine, status)


# --- timestamps (FORMATS 1.8.6, 2.6.2) ------------------------------------------------------------------


def test_plugin_timestamp_is_read_as_utc() -> None:
    """GIVEN `YYYYMMDD HH:MM:SS` (server local time; RDS runs UTC) WHEN parsed THEN that wall time, UTC."""
    event = parse_event("20230501 10:02:19,h,u,c,1,0,CONNECT,,,0")

    assert event.time == datetime(2023, 5, 1, 10, 2, 19, tzinfo=UTC)
    assert event.source is Source.MYSQL_AUDIT


@pytest.mark.parametrize(
    ("timestamp", "expected"),
    [
        ("1603442208508100", datetime(2020, 10, 23, 8, 36, 48, 508100, tzinfo=UTC)),
        ("0000000000000001", datetime(1970, 1, 1, 0, 0, 0, 1, tzinfo=UTC)),
        # float seconds would round these microseconds
        ("9999999999999999", datetime(2286, 11, 20, 17, 46, 39, 999999, tzinfo=UTC)),
        ("1728498527380921", datetime(2024, 10, 9, 18, 28, 47, 380921, tzinfo=UTC)),
    ],
)
def test_aurora_microsecond_epoch_uses_integer_math(timestamp: str, expected: datetime) -> None:
    """GIVEN a 16-digit µs epoch WHEN parsed THEN the exact UTC instant to the microsecond."""
    event = parse_event(f"{timestamp},h,u,c,1,0,CONNECT,,,0")

    assert (event.time, event.source, event.engine) == (expected, Source.AURORA_MYSQL, "aurora-mysql")


@pytest.mark.parametrize(
    "timestamp",
    [
        "20231345 10:00:00",  # month 13
        "20230229 10:00:00",  # not a leap year
        "20230101 24:00:00",
        "20230101 10:00:60",  # leap second
        "172849852738092",  # 15 digits
        "17284985273809210",  # 17 digits
        "2023-01-01 10:00:00",
        "TIME",
        "",
    ],
)
def test_bad_timestamps_are_failures(timestamp: str) -> None:
    """GIVEN an impossible or unknown timestamp WHEN parsed THEN a ParseFailure, not an event."""
    line = f"{timestamp},h,u,c,1,0,CONNECT,,,0"

    assert parse_lines(line) == [ParseFailure("mysql_audit", "bad timestamp", line, "t:1")]


def test_events_sharing_a_second_are_all_kept_in_order() -> None:
    """GIVEN many events in one second WHEN parsed THEN all kept, in file order (no dedupe on time)."""
    lines = [f"20240101 12:00:00,h,u,c,{n},0,CONNECT,,,0" for n in range(5)]

    assert [r.session_id for r in parse_lines(*lines) if isinstance(r, AuditEvent)] == [
        "0",
        "1",
        "2",
        "3",
        "4",
    ]


# --- ids, users, hosts (FORMATS 1.8.4, 1.8.9, 2.6.3) ----------------------------------------------------


@pytest.mark.parametrize(
    ("query_id", "connection_id"),
    [("47141561040897", "305230"), ("18446744073709551616", "4294967295"), ("0", "-2147483648")],
)
def test_ids_are_kept_as_text_of_any_size(query_id: str, connection_id: str) -> None:
    """GIVEN huge ids (and a sign from the plugin's %d) WHEN parsed THEN kept verbatim as text."""
    event = parse_event(f"20240101 12:00:00,h,u,c,{connection_id},{query_id},QUERY,,'SELECT 1',0")

    assert (event.session_id, event.query_id) == (connection_id, query_id)


def test_empty_user_and_host_on_disconnect() -> None:
    """GIVEN a MariaDB DISCONNECT with empty username and host WHEN parsed THEN empty strings."""
    event = parse_event("20201130 23:08:34,localhost.localdomain,,,1,0,DISCONNECT,,,0")

    assert (event.user, event.client_host, event.client_port, event.action) == ("", "", "", Action.DISCONNECT)


def test_failed_connect_and_its_disconnect_are_both_parsed_faithfully() -> None:
    """GIVEN FAILED_CONNECT 1045 then DISCONNECT 0 for one connection WHEN parsed THEN both, as written."""
    results = parse_lines(
        "1728498527380921,auora-mysql-node1,user_1,172.31.49.222,147189,0,FAILED_CONNECT,,,1045",
        "1728498527380940,auora-mysql-node1,user_1,172.31.49.222,147189,0,DISCONNECT,,,0",
    )

    assert [
        (r.action, r.session_id, r.status, r.succeeded) for r in results if isinstance(r, AuditEvent)
    ] == [
        (Action.FAILED_CONNECT, "147189", "1045", False),
        (Action.DISCONNECT, "147189", "0", True),
    ]


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        # a user name with a comma shifts every later field: ambiguous, so refused
        ("20240101 12:00:00,h,we,ird,10.0.0.5,77,0,CONNECT,,,0", "non-numeric connection id"),
        ("1700000000123456,h,a,b,c,10.0.0.5,77,0,CONNECT,,,0", "non-numeric connection id"),
        ("20240101 12:00:00,h,u,10.0.0.5,abc,0,CONNECT,,,0", "non-numeric connection id"),
        ("20240101 12:00:00,h,u,10.0.0.5,7,x1,CONNECT,,,0", "non-numeric query id"),
        ("20240101 12:00:00,h,u,10.0.0.5,7,0,LOGIN,,,0", "unknown operation"),
        ("20240101 12:00:00,h,u,10.0.0.5,7,0,connect,,,0", "unknown operation"),
        # a database with a comma pushes text in front of the quote / adds a field
        ("20240101 12:00:00,h,u,c,7,9,QUERY,my,db,'SELECT 1',0", "unquoted statement"),
        ("20240101 12:00:00,h,u,c,7,0,CONNECT,my,db,,0", "unexpected field count"),
        ("20240101 12:00:00,h,u,c,7,9,READ,db,my,table,", "unexpected field count"),
        ("20240101 12:00:00,h,u,c,7,0,CONNECT,,,zero", "unexpected field count"),
        ("20240101 12:00:00,h,u,c,7,0,CONNECT,,,0,SOCKET,extra", "unexpected field count"),
        ("20240101 12:00:00,h,u,c,7,0,CONNECT", "too few fields"),
        ("just some text", "too few fields"),
        ("a,b,c,d,e,f,g,h,i,j", "bad timestamp"),
    ],
)
def test_ambiguous_or_malformed_lines_are_failures(line: str, reason: str) -> None:
    """GIVEN a line whose fields cannot be told apart WHEN parsed THEN a ParseFailure with a short reason."""
    assert parse_lines(line) == [ParseFailure("mysql_audit", reason, line, "t:1")]


def test_failure_reasons_never_carry_the_raw_text() -> None:
    """GIVEN a malformed line with a secret in it WHEN parsed THEN the reason does not repeat it."""
    line = "20240101 12:00:00,h,u,c,7,9,QUERY,my,db,'SET PASSWORD = hunter2',0"

    (failure,) = parse_lines(line)

    assert isinstance(failure, ParseFailure)
    assert "hunter2" not in failure.reason


@pytest.mark.parametrize(
    ("host", "client_host", "client_port"),
    [
        ("192.168.1.24:54312", "192.168.1.24", "54312"),
        ("app.example.com:3306", "app.example.com", "3306"),
        ("[2001:db8::1]:54312", "2001:db8::1", "54312"),
        ("2001:db8::1:54312", "2001:db8::1", "54312"),  # not itself an address: address + port
        ("::1", "::1", ""),  # a bare IPv6 address keeps its last group
        ("fe80::1:3306", "fe80::1:3306", ""),  # a valid address: never split (ambiguous)
        ("::ffff:10.0.0.5", "::ffff:10.0.0.5", ""),
        ("localhost", "localhost", ""),
    ],
)
def test_mariadb_host_port_split(host: str, client_host: str, client_port: str) -> None:
    """GIVEN MariaDB 12.0.1 `host:port` (or a bare IPv6 host) WHEN parsed THEN host and port as pinned."""
    event = parse_event(f"20260731 09:14:22,mdb1,root,{host},7,0,CONNECT,mysql,TLSv1.3,0")

    assert (event.client_host, event.client_port, event.object, event.statement) == (
        client_host,
        client_port,
        "TLSv1.3",
        None,
    )


# --- operations ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("operation", "action"),
    [
        ("QUERY_DDL", Action.QUERY_DDL),
        ("QUERY_DML", Action.QUERY_DML),
        ("QUERY_DCL", Action.QUERY_DCL),
        ("QUERY", Action.QUERY),
    ],
)
def test_query_class_operations_map_unchanged(operation: str, action: Action) -> None:
    """GIVEN a QUERY-class operation WHEN parsed THEN the matching action, statement kept, command empty."""
    event = parse_event(f"{AURORA_HEAD}{operation},shop,'DROP TABLE t',0")

    assert (event.action, event.statement, event.command, event.object) == (action, "DROP TABLE t", "", "")


@pytest.mark.parametrize(
    ("rest", "action", "obj"),
    [
        ("CHANGEUSER,shop,,0", Action.CHANGE_USER, ""),
        ("PROXY_CONNECT,test,`plug_dest`@``,0", Action.PROXY_CONNECT, "`plug_dest`@``"),
        ("CONNECT,shop,,0", Action.CONNECT, ""),
    ],
)
def test_connection_operations(rest: str, action: Action, obj: str) -> None:
    """GIVEN a connection-class operation WHEN parsed THEN its action, object kept, no statement."""
    event = parse_event(f"{AURORA_HEAD}{rest}")

    assert (event.action, event.object, event.statement, event.command) == (action, obj, None, "")


@pytest.mark.parametrize(
    ("operation", "obj"),
    [
        ("READ", "customers"),
        ("WRITE", "customers"),
        ("CREATE", "customers"),
        ("ALTER", "customers"),
        ("DROP", "customers"),
        ("RENAME", "customers|shop.clients"),
    ],
)
def test_table_events(operation: str, obj: str) -> None:
    """GIVEN a TABLE-event line (bare object, empty retcode) WHEN parsed THEN Action.TABLE with command."""
    event = parse_event(f"20170307 08:39:55,kafka112,root,localhost,3,67,{operation},shop,{obj},")

    assert (event.action, event.command, event.object, event.database, event.statement, event.status) == (
        Action.TABLE,
        operation,
        obj,
        "shop",
        None,
        "",
    )
