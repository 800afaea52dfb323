"""Every line of the copied MySQL-family audit samples parses to exactly the expected event."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from parsers.event import Action, AuditEvent, ParseFailure, Source
from parsers.mysql_audit import looks_like_mysql_audit, parse_mysql_audit
from parsers.records import Origin, RawRecord

SAMPLES = Path(__file__).resolve().parents[2] / "data" / "samples"

COLUMNS = (
    "time",
    "action",
    "user",
    "client_host",
    "session_id",
    "query_id",
    "database",
    "statement",
    "status",
)


def sample_lines(name: str) -> list[str]:
    """The physical lines of a sample, read the way the file reader does (split on LF only)."""
    text = (SAMPLES / name).read_text(encoding="utf-8", errors="replace")
    return text.removesuffix("\n").split("\n")


def parse_sample_line(name: str, line_no: int) -> AuditEvent | ParseFailure:
    """Parse one line of a sample on its own and return its single result."""
    line = sample_lines(name)[line_no - 1]
    results = list(parse_mysql_audit([RawRecord(line, f"{name}:{line_no}")]))
    assert len(results) == 1
    return results[0]


def expected_event(name: str, line_no: int, row: tuple[Any, ...], common: dict[str, Any]) -> AuditEvent:
    """Build the full expected event from a table row plus the fields shared by the sample."""
    values = dict(zip(COLUMNS, row[:9], strict=True))
    extra: dict[str, Any] = row[9] if len(row) > 9 else {}
    values["time"] = datetime.fromisoformat(values["time"]).replace(tzinfo=UTC)
    return AuditEvent(
        **{**common, **values, **extra},
        location=f"{name}:{line_no}",
        raw=sample_lines(name)[line_no - 1],
    )


Q, TABLE, CONN, DISC, FAIL = (
    Action.QUERY,
    Action.TABLE,
    Action.CONNECT,
    Action.DISCONNECT,
    Action.FAILED_CONNECT,
)
IP, LH = "1.34.6.81", "localhost"

AURORA = "aurora-mysql-audit.log"
AURORA_COMMON = {
    "source": Source.AURORA_MYSQL,
    "engine": "aurora-mysql",
    "server_host": "database-1-instance-1",
}
_NODE1 = {"server_host": "auora-mysql-node1"}
_U1 = "172.31.49.222"
# line: time (UTC), action, user, client_host, session_id, query_id, database, statement, status [, extras]
AURORA_ROWS: dict[int, tuple[Any, ...]] = {
    1: ("2024-10-09 18:28:47.380921", FAIL, "user_1", _U1, "147189", "0", "", None, "1045", _NODE1),
    2: ("2024-10-09 18:28:47.380940", DISC, "user_1", _U1, "147189", "0", "", None, "0", _NODE1),
    3: ("2020-10-23 08:36:48.508100", CONN, "admin", IP, "50", "0", "", None, "0"),
    4: ("2020-10-23 07:38:56.650167", Q, "admin", IP, "30", "964317", "world",
        "create database mysqldemo", "0"),
    5: ("2020-10-23 07:47:31.354761", TABLE, "admin", IP, "30", "966941", "world", None, "",
        {"command": "CREATE", "object": "customers"}),
    6: ("2020-10-23 07:47:31.360772", Q, "admin", IP, "30", "966941", "world",
        "CREATE TABLE customers (   C_Id INT,   Name varchar(50),   Address varchar(255),"
        "   Phone varchar(20) )", "0"),
    7: ("2020-10-23 08:42:46.556527", Q, "admin", IP, "50", "984383", "mysqldemo",
        "ALTER TABLE customers ADD Discount VARCHAR(10)", "0"),
    8: ("2020-10-23 08:44:22.867983", Q, "admin", IP, "50", "984868", "mysqldemo",
        "DROP TABLE customers", "0"),
    9: ("2020-10-23 08:09:31.474649", Q, "admin", IP, "30", "973788", "mysqldemo",
        "INSERT INTO customers (C_Id, Name, Address, Phone) VALUES "
        "(3, 'ethan', 'abcd street', '07-12345678')", "0"),
    10: ("2020-10-23 08:19:58.899209", Q, "admin", IP, "30", "977018", "mysqldemo",
         "UPDATE customers SET Phone = '0912345678' WHERE C_Id = 3", "0"),
    11: ("2020-10-23 08:23:51.296080", Q, "admin", IP, "30", "978195", "mysqldemo",
         "DELETE FROM customers WHERE Name='ethan'", "0"),
    12: ("2020-10-23 08:26:26.611643", Q, "admin", IP, "45", "979048", "mysql",
         "CREATE USER 'ethan'@'%' IDENTIFIED WITH 'mysql_native_password' AS "
         "'*F846B31F10DD4389C384272E70B9BBA3AD9E1F94'", "0"),
    13: ("2020-10-23 08:27:37.347720", Q, "admin", IP, "47", "979491", "mysql",
         "ALTER USER 'ethan'@'%' IDENTIFIED WITH 'mysql_native_password' AS "
         "'*F846B31F10DD4389C384272E70B9BBA3AD9E1F94'", "0"),
    14: ("2020-10-23 08:28:37.744113", Q, "admin", IP, "47", "979851", "mysql",
         "GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, RELOAD, PROCESS, INDEX, ALTER, "
         "SHOW DATABASES, CREATE TEMPORARY TABLES, LOCK TABLES, EXECUTE, CREATE VIEW, SHOW VIEW, "
         "CREATE ROUTINE, ALTER ROUTINE, CREATE USER, EVENT, TRIGGER ON *.* TO 'ethan'@'%' WITH "
         "MAX_QUERIES_PER_HOUR 0 MAX_UPDATES_PER_HOUR 0 MAX_CONNECTIONS_PER_HOUR 0 MAX_USER_CONNECTIONS 0",
         "0"),
    15: ("2020-10-23 08:34:08.227886", Q, "admin", IP, "47", "981659", "mysql", "DROP USER 'ethan'@'%'", "0"),
    16: ("2024-10-07 15:03:00.329971", Q, "rdsadmin", LH, "207", "15268", "db", "SELECT 1", "0",
         {"server_host": "server"}),
    17: ("2018-09-11 08:00:26.127350", FAIL, "alyjak", "192.168.169.108", "8426327", "0", "", None, "1045",
         {"server_host": "dv-mysql"}),
}  # fmt: skip

RDS = "rds-mysql-audit.log"
RDS_COMMON = {"source": Source.MYSQL_AUDIT}
_R22 = {"engine": "mysql", "server_host": "ip-10-22-1-51"}
_R20 = {"engine": "", "server_host": "ip-172-27-1-97"}
_ADM = "10.120.186.117"
RDS_ROWS: dict[int, tuple[Any, ...]] = {
    1: ("2022-12-01 14:07:05", CONN, "rdsadmin", LH, "821", "0", "", None, "0", _R22),
    2: ("2022-12-01 14:07:05", DISC, "rdsadmin", LH, "821", "0", "", None, "0", _R22),
    3: ("2022-12-01 14:12:20", CONN, "rdsadmin", LH, "822", "0", "", None, "0", _R22),
    4: ("2022-12-01 14:12:20", DISC, "rdsadmin", LH, "822", "0", "", None, "0", _R22),
    5: ("2022-12-01 14:17:35", CONN, "rdsadmin", LH, "823", "0", "", None, "0", _R22),
    6: ("2022-12-01 14:17:35", DISC, "rdsadmin", LH, "823", "0", "", None, "0", _R22),
    7: ("2022-12-01 14:22:50", CONN, "rdsadmin", LH, "824", "0", "", None, "0", _R22),
    8: ("2022-12-01 14:22:50", DISC, "rdsadmin", LH, "824", "0", "", None, "0", _R22),
    9: ("2023-05-01 10:02:19", Q, "rdsadmin", LH, "7", "585281", "",
        "select * from information_schema.rds_events_threads_waits_current where (type <> 'BACKGROUND' "
        "or name = 'thread/sql/slave_sql') and command <> 'Sleep'", "0",
        {"engine": "mysql", "server_host": "ip-10-1-0-50"}),
    10: ("2020-07-20 16:37:59", Q, "admin", _ADM, "305230", "1337972", "rdslogstest",
         'SELECT "Service fstehle-rdslog-test running: Mon Jul 20 16:37:59 UTC 2020 (947)"', "0", _R20),
    11: ("2020-07-20 16:37:59", DISC, "admin", _ADM, "305230", "0", "rdslogstest", None, "0", _R20),
    12: ("2020-07-20 16:38:00", Q, "rdsadmin", LH, "26", "1337974", "mysql", "SELECT 1", "0", _R20),
    13: ("2020-07-20 16:38:00", Q, "rdsadmin", LH, "26", "47141561040897", "mysql",
         "SELECT count(*) from mysql.rds_history WHERE action = 'disable set master' "
         "ORDER BY action_timestamp LIMIT 1", "0", _R20),
    14: ("2020-07-20 16:38:00", Q, "rdsadmin", LH, "26", "1337976", "mysql", "SELECT 1", "0", _R20),
    15: ("2020-07-20 16:38:00", Q, "rdsadmin", LH, "26", "47141561040897", "mysql",
         "SELECT count(*) from mysql.rds_replication_status WHERE master_host IS NOT NULL "
         "and master_port IS NOT NULL ORDER BY action_timestamp LIMIT 1", "0", _R20),
    16: ("2020-07-20 16:38:01", CONN, "admin", _ADM, "305231", "0", "rdslogstest", None, "0", _R20),
    17: ("2020-07-20 16:38:01", Q, "admin", _ADM, "305231", "1337978", "rdslogstest",
         "select @@version_comment limit 1", "0", _R20),
    18: ("2020-07-20 16:38:01", Q, "admin", _ADM, "305231", "1337979", "rdslogstest",
         'SELECT "Service fstehle-rdslog-test running: Mon Jul 20 16:38:01 UTC 2020 (948)"', "0", _R20),
    19: ("2020-07-20 16:38:01", DISC, "admin", _ADM, "305231", "0", "rdslogstest", None, "0", _R20),
}  # fmt: skip

MARIADB = "mariadb-audit.log"
MARIADB_COMMON = {"source": Source.MYSQL_AUDIT}
_M12 = {"engine": "mariadb", "server_host": "mdb1", "client_port": "54312", "object": "TLSv1.3"}
_K = {"server_host": "kafka112"}
_LD = {"server_host": "localhost.localdomain"}
_ZHC = {"server_host": "zhc-dba-mysql-dev-01"}
MARIADB_ROWS: dict[int, tuple[Any, ...]] = {
    1: ("2026-07-31 09:14:22", CONN, "root", "192.168.1.24", "7", "0", "mysql", None, "0", _M12),
    2: ("2026-07-31 09:14:59", DISC, "root", "192.168.1.24", "7", "0", "mysql", None, "0", _M12),
    3: ("2026-07-31 09:15:03", CONN, "app", LH, "8", "0", "", None, "0", {"server_host": "mdb1"}),
    4: ("2017-03-07 08:39:55", TABLE, "root", LH, "3", "67", "test", None, "",
        {**_K, "command": "READ", "object": "test"}),
    5: ("2017-03-07 08:39:55", Q, "root", LH, "3", "67", "test", "select * from test", "0", _K),
    6: ("2017-03-07 08:40:29", DISC, "root", LH, "3", "0", "test", None, "0", _K),
    7: ("2017-03-07 08:41:06", FAIL, "root", LH, "4", "0", "", None, "1045", _K),
    8: ("2017-03-07 08:41:06", DISC, "root", LH, "4", "0", "", None, "0", _K),
    9: ("2017-03-07 08:41:11", CONN, "root", LH, "5", "0", "", None, "0", _K),
    10: ("2017-03-07 08:41:11", Q, "root", LH, "5", "69", "", "select @@version_comment limit 1", "0", _K),
    11: ("2017-03-07 08:41:22", Q, "root", LH, "5", "70", "", "show variables like '%audit%'", "0", _K),
    12: ("2020-11-30 23:07:48", Q, "root", LH, "1", "2", "", "set global server_audit_logging=on", "0", _LD),
    13: ("2020-11-30 23:07:51", Q, "root", LH, "1", "2", "", "show databases", "0", _LD),
    14: ("2020-11-30 23:08:33", Q, "root", LH, "1", "2", "", "show databases", "0", _LD),
    15: ("2020-11-30 23:08:34", DISC, "", "", "1", "0", "", None, "0", _LD),
    16: ("2020-11-30 23:08:44", FAIL, "root", LH, "2", "0", "", None, "1045", _LD),
    17: ("2020-11-30 23:08:45", DISC, "", "", "2", "0", "", None, "0", _LD),
    18: ("2020-11-30 23:08:46", CONN, "root", LH, "3", "0", "", None, "0", _LD),
    19: ("2020-11-30 23:08:46", DISC, "", "", "3", "0", "", None, "0", _LD),
    20: ("2021-03-16 17:08:01", DISC, "load", "oiq-int-mysql.bluemedora.localnet", "5", "0", "", None, "0",
         {"server_host": "oiq-int-mysql"}),
    21: ("2021-05-28 11:12:51", DISC, "a_hehe_rw", LH, "906", "0", "", None, "0", _ZHC),
    22: ("2021-05-27 11:04:43", Q, "dba_grb", LH, "653", "1252216", "",
         "select 'a' , b from test.hehe ;", "0", _ZHC),
}  # fmt: skip

SAMPLE_CASES = [
    *((AURORA, n, row, AURORA_COMMON) for n, row in AURORA_ROWS.items()),
    *((RDS, n, row, RDS_COMMON) for n, row in RDS_ROWS.items()),
    *((MARIADB, n, row, MARIADB_COMMON) for n, row in MARIADB_ROWS.items()),
]


@pytest.mark.parametrize(
    ("name", "line_no", "row", "common"), SAMPLE_CASES, ids=[f"{c[0]}:{c[1]}" for c in SAMPLE_CASES]
)
def test_sample_line_parses_to_exact_event(
    name: str, line_no: int, row: tuple[Any, ...], common: dict[str, Any]
) -> None:
    """GIVEN one real sample line WHEN parsed THEN every field of the event is exactly as expected."""
    result = parse_sample_line(name, line_no)
    assert result == expected_event(name, line_no, row, common)


@pytest.mark.parametrize("name", [AURORA, RDS, MARIADB])
def test_every_sample_line_has_an_expectation_and_parses_in_one_pass(name: str) -> None:
    """GIVEN a whole sample file WHEN parsed as one stream THEN one event per line, in file order."""
    lines = sample_lines(name)
    rows = {AURORA: AURORA_ROWS, RDS: RDS_ROWS, MARIADB: MARIADB_ROWS}[name]
    records = [RawRecord(line, f"{name}:{n}") for n, line in enumerate(lines, 1)]

    results = list(parse_mysql_audit(records))

    assert sorted(rows) == list(range(1, len(lines) + 1))
    assert [r.location for r in results] == [f"{name}:{n}" for n in range(1, len(lines) + 1)]
    assert all(isinstance(r, AuditEvent) for r in results)
    assert all(looks_like_mysql_audit(line) for line in lines)


TESTSUITE = "rds-mysql-audit-plugin-testsuite.log"
# The plugin test suite replaces TIME/HOSTNAME/ids with placeholders; substitute real values to test the
# object/tail/escape handling. line: action, user, database, object, statement, status
TESTSUITE_ROWS: dict[int, tuple[Any, ...]] = {
    1: (Q, "root", "", "", "set global server_audit_logging=on", "0"),
    2: (Q, "root", "", "", "set global server_audit_incl_users= repeat(\"'user',\", 10000)", "1231"),
    3: (Action.CONNECT, "root", "mysql", "", None, "0"),
    4: (Action.DISCONNECT, "root", "mysql", "", None, "0"),
    5: (Action.FAILED_CONNECT, "no_such_user", "", "", None, "1045"),
    6: (Q, "root", "", "", "set global server_audit_incl_users='odin, dva, tri'", "0"),
    7: (Q, "root", "", "", "select 1,\n2,\n# comment\n3", "0"),
    8: (Q, "root", "", "", "select * from t_doesnt_exist", "1146"),
    9: (Q, "root", "", "", "syntax_error_query", "1064"),
    10: (Q, "root", "sa_db", "", "CREATE USER 'u1_empty'@'%' IDENTIFIED BY <secret>", "0"),
    11: (Q, "root", "sa_db", "", "GRANT ALL ON sa_db TO u2_empty IDENTIFIED BY *****", "1064"),
    12: (Q, "root", "sa_db", "", "SET PASSWORD FOR `u1_empty`@`%`=<secret>", "0"),
    13: (Q, "root", "sa_db", "", "ALTER USER 'u3_empty'@'%' IDENTIFIED BY <secret>", "0"),
    14: (Q, "root", "sa_db", "", 'create procedure pr1() insert into test.t1 values ("foo", 42)', "0"),
    15: (Action.CONNECT, "user1_empty", "sa_db", "", None, "0"),
    16: (Q, "root", "sa_db", "", "set global server_audit_logging= off", "0"),
    17: (Q, "root", "sa_db", "", "set global server_audit_logging= on", "0"),
    18: (Action.DISCONNECT, "user1_empty", "sa_db", "", None, "0"),
    19: (Q, "root", "sa_db", "",
         "CREATE USER 'plug'@'%' IDENTIFIED WITH 'test_plugin_server' AS 'plug_dest'", "0"),
    20: (Action.FAILED_CONNECT, "plug", "", "", None, "1045"),
    21: (Q, "root", "sa_db", "", "GRANT PROXY ON 'plug_dest'@'%' TO 'plug'@'%'", "0"),
    22: (Action.CONNECT, "plug", "test", "", None, "0"),
    23: (Action.PROXY_CONNECT, "plug", "test", "`plug_dest`@``", None, "0"),
    24: (Q, "plug", "test", "", "select USER(),CURRENT_USER()", "0"),
    25: (Action.DISCONNECT, "plug", "test", "", None, "0"),
    26: (Q, "root", "sa_db", "", "set global serv", "0"),  # cut at query_log_limit=15, still quoted
    27: (Q, "root", "sa_db", "", "select (1), (2)", "0"),
    28: (Q, "root", "sa_db", "", "select 'A', ", "0"),  # cut at query_log_limit=15 after an escape
}  # fmt: skip


def with_real_values(line: str) -> str:
    """Replace the test-suite placeholders the way a live server would fill them."""
    return line.replace("TIME,HOSTNAME,", "20240229 23:59:59,db-host,", 1).replace(
        ",CONNECTION_ID,QUERY_ID,", ",42,4294967296,", 1
    )


@pytest.mark.parametrize(("line_no", "row"), TESTSUITE_ROWS.items(), ids=[str(n) for n in TESTSUITE_ROWS])
def test_plugin_testsuite_line_with_real_values(line_no: int, row: tuple[Any, ...]) -> None:
    """GIVEN a plugin test-suite line with real values substituted WHEN parsed THEN exact RDS MySQL event."""
    action, user, database, obj, statement, status = row
    line = with_real_values(sample_lines(TESTSUITE)[line_no - 1])

    result = list(parse_mysql_audit([RawRecord(line, "suite")]))

    assert result == [
        AuditEvent(
            source=Source.MYSQL_AUDIT,
            time=datetime.fromisoformat("2024-02-29T23:59:59+00:00"),
            action=action,
            engine="mysql",
            server_host="db-host",
            user=user,
            client_host="localhost",
            session_id="42",
            query_id="4294967296",
            database=database,
            object=obj,
            statement=statement,
            status=status,
            location="suite",
            raw=line,
        )
    ]


def test_plugin_testsuite_placeholders_are_failures_and_not_sniffed() -> None:
    """GIVEN the placeholder lines as written WHEN parsed THEN each is a ParseFailure, never an event."""
    lines = sample_lines(TESTSUITE)
    records = [RawRecord(line, f"{TESTSUITE}:{n}") for n, line in enumerate(lines, 1)]

    results = list(parse_mysql_audit(records))

    assert results == [
        ParseFailure("mysql_audit", "bad timestamp", line, f"{TESTSUITE}:{n}")
        for n, line in enumerate(lines, 1)
    ]
    assert not any(looks_like_mysql_audit(line) for line in lines)


def test_origin_and_record_metadata_are_copied_onto_events() -> None:
    """GIVEN a CloudWatch record + origin WHEN parsed THEN group/stream/cluster/id/location/raw copied."""
    line = sample_lines(AURORA)[0]
    record = RawRecord(
        line, "/aws/rds/cluster/prod/audit/node-1#37", event_id="37", timestamp_ms=1728498527381
    )
    origin = Origin(log_group="/aws/rds/cluster/prod/audit", log_stream="node-1", cluster="prod")

    (event,) = parse_mysql_audit([record], origin)

    assert isinstance(event, AuditEvent)
    assert (event.log_group, event.log_stream, event.cluster, event.event_id, event.location, event.raw) == (
        "/aws/rds/cluster/prod/audit",
        "node-1",
        "prod",
        "37",
        "/aws/rds/cluster/prod/audit/node-1#37",
        line,
    )
    assert event.resource == "prod"
