"""Facts about the raw logs real servers wrote for the scenario, checked with plain string operations."""

from __future__ import annotations

import re
from collections import Counter
from datetime import datetime
from pathlib import Path

import pytest

from .scenario import (
    BRUTE_FORCE_ATTEMPTS,
    FAILED_CREATE_PASSWORD,
    LOGGED_PASSWORD,
    LONG_DROP,
    MARIADB_SCENARIO,
    MARIADB_TABLES,
    POSTGRES_SCENARIO,
    SECRETS,
    SPRAYED_USERS,
    WRONG_PASSWORDS,
    Scenario,
    detection_mismatches,
    failed_logins,
)

pytestmark = pytest.mark.integration

QUERY_LOG_LIMIT = 1024  # server_audit_query_log_limit default


def mariadb_lines(path: Path) -> list[list[str]]:
    """The audit log's records split into the 9 leading fields plus the rest (quoted query, retcode)."""
    # Split on "\n" only: str.splitlines() would also split on VT/FF/U+2028 inside statements.
    return [line.split(",", 8) for line in path.read_text(encoding="utf-8").split("\n") if line]


def mariadb_queries(path: Path) -> list[tuple[str, str, str]]:
    """(user, query id, 'quoted query',retcode) of every QUERY record, in file order."""
    return [(f[2], f[5], f[8]) for f in mariadb_lines(path) if f[6] == "QUERY"]


def postgres_entries(path: Path) -> list[str]:
    """Log entries with TAB-prefixed continuation lines joined back on "\n" (the TAB removed)."""
    entries: list[str] = []
    for line in path.read_text(encoding="utf-8").split("\n"):
        if line.startswith("\t") and entries:
            entries[-1] += "\n" + line[1:]
        elif line:
            entries.append(line)
    return entries


def pid_and_message(entry: str) -> tuple[str, str]:
    """The pid and what follows `:[pid]:` in an RDS-prefixed entry (`%r` can be `[local]`: no naive split)."""
    match = re.match(r"^.*?:\[(\d+)\]:(.*)$", entry, re.DOTALL)
    assert match is not None, entry
    return match.group(1), match.group(2)


def message(entry: str) -> str:
    """The part of an RDS-prefixed entry after `:[pid]:`, e.g. `LOG:  AUDIT: …`."""
    return pid_and_message(entry)[1]


def audit_records(path: Path) -> list[str]:
    """pgaudit records without the `AUDIT: SESSION,<statement id>,<substatement id>,` head."""
    head = re.compile(r"^LOG:  AUDIT: SESSION,\d+,\d+,")
    return [head.sub("", message(e)) for e in postgres_entries(path) if head.match(message(e))]


# --- MariaDB server_audit -------------------------------------------------------------------------------


def test_mariadb_failed_connect_lines_match_the_scenario(mariadb_audit_log: Path) -> None:
    """GIVEN the scenario's refused logins WHEN counting FAILED_CONNECT records THEN one per attempt, 1045."""
    failed = [f for f in mariadb_lines(mariadb_audit_log) if f[6] == "FAILED_CONNECT"]

    assert Counter(f[2] for f in failed) == failed_logins(MARIADB_SCENARIO)
    assert sum(failed_logins(MARIADB_SCENARIO).values()) == 6 + BRUTE_FORCE_ATTEMPTS
    assert {(f[3], f[5], f[7], f[8]) for f in failed} == {("127.0.0.1", "0", "", ",1045")}


def test_mariadb_failed_connect_is_followed_by_its_disconnect(mariadb_audit_log: Path) -> None:
    """GIVEN a FAILED_CONNECT record WHEN reading the next line THEN it is its connection's DISCONNECT."""
    lines = mariadb_lines(mariadb_audit_log)
    followers = [(f[2:7], lines[i + 1][2:]) for i, f in enumerate(lines) if f[6] == "FAILED_CONNECT"]

    assert len(followers) == 6 + BRUTE_FORCE_ATTEMPTS
    for failed, follower in followers:
        assert follower == [*failed[:3], "0", "DISCONNECT", "", ",0"]


def test_mariadb_brute_force_is_followed_by_a_login_within_one_minute(mariadb_audit_log: Path) -> None:
    """GIVEN ≥ 20 failures of victim WHEN looking past the last one THEN victim connects; all in a minute."""
    lines = mariadb_lines(mariadb_audit_log)
    failures = [i for i, f in enumerate(lines) if f[6] == "FAILED_CONNECT"]
    victim_failures = [i for i in failures if lines[i][2] == "victim"]
    victim_logins = [i for i, f in enumerate(lines) if f[2] == "victim" and f[6] == "CONNECT"]
    times = [datetime.strptime(lines[i][0], "%Y%m%d %H:%M:%S") for i in failures]

    assert len(victim_failures) == BRUTE_FORCE_ATTEMPTS
    assert len(victim_logins) == 1
    assert victim_logins[0] > victim_failures[-1]
    assert (max(times) - min(times)).total_seconds() < 60
    assert {lines[i][2] for i in failures} == {"app", "admin_user", "victim", *SPRAYED_USERS}


@pytest.mark.parametrize("secret", [*SECRETS, *WRONG_PASSWORDS])
def test_mariadb_never_writes_a_password(mariadb_audit_log: Path, secret: str) -> None:
    """GIVEN passwords in CREATE/ALTER USER, SET PASSWORD and logins WHEN read THEN none appears."""
    assert mariadb_audit_log.read_text(encoding="utf-8").count(secret) == 0


def test_mariadb_masks_passwords_with_stars(mariadb_audit_log: Path) -> None:
    """GIVEN every password-bearing statement WHEN logged THEN the plugin wrote ***** in place of it."""
    masked = [(user, query) for user, _, query in mariadb_queries(mariadb_audit_log) if "*****" in query]

    assert masked == [
        ("root", "'CREATE USER \\'app\\'@\\'%\\' IDENTIFIED BY *****',0"),
        ("root", "'CREATE USER \\'admin_user\\'@\\'%\\' IDENTIFIED BY *****',0"),
        ("root", "'CREATE USER \\'victim\\'@\\'%\\' IDENTIFIED BY *****',0"),
        ("admin_user", "'CREATE USER \\'newbie\\'@\\'%\\' IDENTIFIED BY *****',0"),
        ("admin_user", "'CREATE USER \\'app\\'@\\'%\\' IDENTIFIED BY *****',1396"),
        ("admin_user", "'ALTER USER \\'app\\'@\\'%\\' IDENTIFIED BY *****',0"),
        ("admin_user", "'SET PASSWORD FOR \\'victim\\'@\\'%\\' = PASSWORD(*****)',0"),
    ]


def test_mariadb_cuts_the_long_statement_before_its_drop(mariadb_audit_log: Path) -> None:
    """GIVEN a >10 KB comment then DROP TABLE WHEN logged THEN the query is cut at 1024 without a marker,
    and only the TABLE event (same connection and query id, written first) shows the drop."""
    lines = mariadb_lines(mariadb_audit_log)
    index = next(i for i, f in enumerate(lines) if f[6] == "QUERY" and f[8].startswith("'/* generated"))
    query = lines[index]

    assert len(LONG_DROP) > 10_000
    assert query[8] == f"'{LONG_DROP[:QUERY_LOG_LIMIT]}',0"
    assert "t_long" not in query[8]
    assert lines[index - 1][2:] == [*query[2:6], "DROP", "appdb", "t_long,"]


def test_mariadb_table_drop_events_name_every_dropped_table(mariadb_audit_log: Path) -> None:
    """GIVEN drops in every spelling WHEN reading TABLE DROP events THEN exactly the real tables appear:
    none for the temporary table, the failed drop or the string literal/comment; one for DROP DATABASE."""
    drops = [(f[2], f[7], f[8]) for f in mariadb_lines(mariadb_audit_log) if f[6] == "DROP"]
    dropped = {table for table in MARIADB_TABLES if table != "t_truncated"}

    assert len(drops) == len(dropped) + 1
    assert set(drops) == {("admin_user", "appdb", f"{t},") for t in dropped} | {
        ("admin_user", "scratch_db", "t_scratch,")
    }


@pytest.mark.parametrize(
    "query",
    [
        "'DROP TABLE t_does_not_exist',1051",
        "'DROP TEMPORARY TABLE tmp_session',0",
        "'DROP DATABASE scratch_db',0",
        "'TRUNCATE TABLE t_truncated',0",
        "'DROP\\n  TABLE\\n    t_multiline',0",
        "'DROP TABLE `t_ünïcødé_表`',0",
        "'SELECT \\'please do not drop table t_orders\\' AS note',0",
        "'SELECT 2 -- drop table t_orders\\n  AS two',0",
        "'SELECT \\'Grüße, 世界 — naïve café ✓\\' AS greeting',0",
        "'GRANT ALL PRIVILEGES ON *.* TO \\'app\\'@\\'%\\' WITH GRANT OPTION',0",
    ],
)
def test_mariadb_query_field_is_written_as(mariadb_audit_log: Path, query: str) -> None:
    """GIVEN a scenario statement WHEN logged THEN quotes/LF are escaped, unicode raw, the retcode last."""
    assert [q for _, _, q in mariadb_queries(mariadb_audit_log)].count(query) == 1


def test_mariadb_logs_execute_as_the_prepared_text(mariadb_audit_log: Path) -> None:
    """GIVEN PREPARE/EXECUTE of a DROP WHEN logged THEN EXECUTE appears as the prepared statement's text."""
    queries = [q for _, _, q in mariadb_queries(mariadb_audit_log)]
    start = queries.index("'PREPARE drop_stmt FROM \\'DROP TABLE t_prepared\\'',0")

    assert queries[start : start + 3] == [
        "'PREPARE drop_stmt FROM \\'DROP TABLE t_prepared\\'',0",
        "'DROP TABLE t_prepared',0",
        "'DEALLOCATE PREPARE drop_stmt',0",
    ]


def test_mariadb_logs_procedure_statements_before_the_call(mariadb_audit_log: Path) -> None:
    """GIVEN a procedure that drops a table WHEN CALLed THEN its DROP is logged first, higher query id."""
    queries = mariadb_queries(mariadb_audit_log)
    inner = queries.index(next(q for q in queries if q[2] == "'DROP TABLE t_in_proc',0"))

    assert queries[inner + 1][2] == "'CALL drop_in_proc()',0"
    assert int(queries[inner][1]) == int(queries[inner + 1][1]) + 1


# --- PostgreSQL + pgaudit ---------------------------------------------------------------------------------


# A session still open when the throwaway server stops may log this; it is no connection attempt.
_SHUTDOWN_FATAL = "FATAL:  terminating connection due to administrator command"


def refused_connection_lines(text: str) -> list[str]:
    """The FATAL lines of refused connection attempts (not those of sessions ended by the shutdown)."""
    return [e for e in text.split("\n") if "]:FATAL:  " in e and _SHUTDOWN_FATAL not in e]


def test_postgres_fatal_lines_match_the_scenario(postgres_log: Path) -> None:
    """GIVEN the scenario's refused logins WHEN counting FATAL entries THEN one per attempt, same text."""
    fatal = refused_connection_lines(postgres_log.read_text(encoding="utf-8"))
    users = [re.findall(r'FATAL:  password authentication failed for user "([^"]+)"$', e) for e in fatal]

    assert Counter(u[0] for u in users if u) == failed_logins(POSTGRES_SCENARIO)
    assert len(fatal) == 6 + BRUTE_FORCE_ATTEMPTS
    assert all(e.split(" UTC:", 1)[1].startswith("127.0.0.1(") for e in fatal)


def test_postgres_unknown_role_differs_only_in_detail(postgres_log: Path) -> None:
    """GIVEN failures of known and unknown roles WHEN reading DETAIL THEN only it tells them apart."""
    entries = postgres_entries(postgres_log)
    details = {
        message(entries[i]).split('"')[1]: message(entries[i + 1])
        for i, e in enumerate(entries)
        if "]:FATAL:  " in e and _SHUTDOWN_FATAL not in e
    }
    # PostgreSQL 16+ names the file ("Connection matched file … line 2: …"): compare, do not spell out.
    matched = details["app"].removeprefix("DETAIL:  ")

    assert matched.startswith("Connection matched ")
    assert matched.endswith(' line 2: "host all all 127.0.0.1/32 scram-sha-256"')
    assert details == {
        **dict.fromkeys(("app", "admin_user", "victim"), f"DETAIL:  {matched}"),
        **{user: f'DETAIL:  Role "{user}" does not exist.\n{matched}' for user in SPRAYED_USERS},
    }


def test_postgres_failed_login_has_no_disconnection(postgres_log: Path) -> None:
    """GIVEN refused logins WHEN looking for their pid's disconnection THEN there is none."""
    entries = postgres_entries(postgres_log)
    failed_pids = {pid_and_message(e)[0] for e in entries if "]:FATAL:  " in e and _SHUTDOWN_FATAL not in e}
    disconnected = {pid_and_message(e)[0] for e in entries if "]:LOG:  disconnection:" in e}

    assert len(failed_pids) == 6 + BRUTE_FORCE_ATTEMPTS
    assert failed_pids & disconnected == set()


@pytest.mark.parametrize(
    ("secret", "messages"),
    [
        # A statement that fails is echoed by the standard logger, password included.
        (FAILED_CREATE_PASSWORD, [f"STATEMENT:  CREATE ROLE app LOGIN PASSWORD '{FAILED_CREATE_PASSWORD}'"]),
        # log_statement writes the statement as sent; pgaudit's record of it says <REDACTED>.
        (LOGGED_PASSWORD, [f"LOG:  statement: ALTER ROLE victim PASSWORD '{LOGGED_PASSWORD}'"]),
        *((secret, []) for secret in SECRETS if secret not in (FAILED_CREATE_PASSWORD, LOGGED_PASSWORD)),
        *((secret, []) for secret in WRONG_PASSWORDS),
    ],
)
def test_postgres_writes_passwords_in_clear_only_outside_pgaudit(
    postgres_log: Path, secret: str, messages: list[str]
) -> None:
    """GIVEN passwords in CREATE/ALTER ROLE WHEN reading the log THEN each shows up exactly where listed."""
    assert [message(e) for e in postgres_entries(postgres_log) if secret in e] == messages


def test_postgres_pgaudit_redacts_passwords(postgres_log: Path) -> None:
    """GIVEN every successful password-bearing statement WHEN pgaudit logs it THEN the value is <REDACTED>."""
    assert [r for r in audit_records(postgres_log) if "<REDACTED>" in r] == [
        "ROLE,CREATE ROLE,,,CREATE ROLE app LOGIN PASSWORD <REDACTED>,<not logged>",
        "ROLE,CREATE ROLE,,,CREATE ROLE admin_user LOGIN CREATEDB CREATEROLE PASSWORD <REDACTED>"
        ",<not logged>",
        "ROLE,CREATE ROLE,,,CREATE ROLE victim LOGIN PASSWORD <REDACTED>,<not logged>",
        "ROLE,CREATE ROLE,,,CREATE ROLE newbie LOGIN PASSWORD <REDACTED>,<not logged>",
        "ROLE,ALTER ROLE,,,ALTER ROLE app PASSWORD <REDACTED>,<not logged>",
        "ROLE,ALTER ROLE,,,ALTER ROLE victim PASSWORD <REDACTED>,<not logged>",
    ]


def test_postgres_logs_the_dedup_case_twice(postgres_log: Path) -> None:
    """GIVEN log_statement='all' in a session WHEN it drops a table THEN both loggers record it, same pid."""
    entries = postgres_entries(postgres_log)
    by_statement = [e for e in entries if message(e) == "LOG:  statement: DROP TABLE t_dedup"]
    by_pgaudit = [
        e for e in entries if message(e).endswith(",public.t_dedup,DROP TABLE t_dedup,<not logged>")
    ]

    assert len(by_statement) == len(by_pgaudit) == 1
    assert pid_and_message(by_statement[0])[0] == pid_and_message(by_pgaudit[0])[0]
    assert message(by_pgaudit[0]).startswith("LOG:  AUDIT: SESSION,")


def test_postgres_failed_drop_has_no_audit_record(postgres_log: Path) -> None:
    """GIVEN a DROP TABLE of a missing table WHEN logged THEN only ERROR + STATEMENT show it, no pgaudit."""
    entries = [message(e) for e in postgres_entries(postgres_log)]
    error = entries.index('ERROR:  table "t_does_not_exist" does not exist')

    assert entries[error + 1] == "STATEMENT:  DROP TABLE t_does_not_exist"
    assert [r for r in audit_records(postgres_log) if "t_does_not_exist" in r] == []


def test_postgres_drop_schema_cascade_names_the_dropped_tables(postgres_log: Path) -> None:
    """GIVEN DROP SCHEMA … CASCADE over two tables WHEN pgaudit logs it THEN one record per dropped table,
    none naming the schema itself."""
    records = sorted(r for r in audit_records(postgres_log) if r.startswith("DDL,DROP SCHEMA,"))

    assert records == [
        "DDL,DROP SCHEMA,TABLE,scratch_schema.t_scratch_a,DROP SCHEMA scratch_schema CASCADE,<not logged>",
        "DDL,DROP SCHEMA,TABLE,scratch_schema.t_scratch_b,DROP SCHEMA scratch_schema CASCADE,<not logged>",
    ]


@pytest.mark.parametrize(
    "record",
    [
        "DDL,DROP TABLE,TABLE,public.t_upper,DROP TABLE t_upper,<not logged>",
        "DDL,DROP TABLE,TABLE,public.t_lower,drop table t_lower,<not logged>",
        'DDL,DROP TABLE,TABLE,public.t_pair_a,"DROP TABLE t_pair_a, t_pair_b",<not logged>',
        'DDL,DROP TABLE,TABLE,public.t_pair_b,"DROP TABLE t_pair_a, t_pair_b",<not logged>',
        'DDL,DROP TABLE,TABLE,public.t_multiline,"DROP\n  TABLE\n    t_multiline",<not logged>',
        "DDL,DROP TABLE,TABLE,public.t_commented,DROP /* tidy up */ TABLE t_commented,<not logged>",
        'DDL,DROP TABLE,TABLE,"public.""t_ünïcødé_表""","DROP TABLE ""t_ünïcødé_表""",<not logged>',
        "DDL,DROP TABLE,TABLE,pg_temp.tmp_session,DROP TABLE tmp_session,<not logged>",
        f"DDL,DROP TABLE,TABLE,public.t_long,{LONG_DROP},<not logged>",
        "DDL,DROP TABLE,TABLE,public.t_multi_a,DROP TABLE t_multi_a; DROP TABLE t_multi_b,<not logged>",
        "DDL,DROP TABLE,TABLE,public.t_multi_b,DROP TABLE t_multi_a; DROP TABLE t_multi_b,<not logged>",
        "DDL,DROP TABLE,TABLE,public.t_in_do,DROP TABLE t_in_do,<not logged>",
        "DDL,DROP TABLE,TABLE,public.t_in_proc,DROP TABLE t_in_proc,<not logged>",
        "DDL,DROP DATABASE,,,DROP DATABASE scratch_db,<not logged>",
        "WRITE,TRUNCATE TABLE,,,TRUNCATE TABLE t_truncated,<not logged>",
        "ROLE,GRANT,,,GRANT ALL ON DATABASE appdb TO app,<not logged>",
        "ROLE,GRANT ROLE,,,GRANT pg_write_server_files TO victim,<not logged>",
        "MISC,SET,,,SET log_statement = 'all',<not logged>",  # pgaudit.log=misc_set, CLASS says MISC
    ],
)
def test_postgres_pgaudit_record_is_written_as(postgres_log: Path, record: str) -> None:
    """GIVEN a scenario statement WHEN pgaudit logs it THEN the record reads exactly so, once (never cut)."""
    assert audit_records(postgres_log).count(record) == 1


def test_postgres_multi_line_entries_continue_with_a_tab(postgres_log: Path) -> None:
    """GIVEN a multi-line statement WHEN logged THEN each continuation line starts with an inserted TAB."""
    lines = postgres_log.read_text(encoding="utf-8").split("\n")
    start = next(i for i, line in enumerate(lines) if line.endswith('public.t_multiline,"DROP'))

    assert lines[start + 1 : start + 3] == ["\t  TABLE", '\t    t_multiline",<not logged>']


def test_postgres_listens_on_loopback_and_a_unix_socket_only(postgres_log: Path) -> None:
    """GIVEN listen_addresses=127.0.0.1 WHEN started THEN it listens there and on a socket only."""
    listening = [message(e) for e in postgres_entries(postgres_log) if "]:LOG:  listening on " in e]

    assert len(listening) == 2
    assert re.fullmatch(r'LOG:  listening on IPv4 address "127\.0\.0\.1", port \d+', listening[0])
    assert re.fullmatch(r'LOG:  listening on Unix socket "/\S+/\.s\.PGSQL\.\d+"', listening[1])


def test_postgres_entries_carry_the_rds_prefix(postgres_log: Path) -> None:
    """GIVEN log_line_prefix %t:%r:%u@%d:[%p]: WHEN reading every entry THEN each starts with that prefix."""
    prefix = re.compile(
        r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC:(\[local\]|127\.0\.0\.1\(\d+\))?:[^:@]*@[^:]*:\[\d+\]:"
    )
    entries = postgres_entries(postgres_log)

    assert [e for e in entries if not prefix.match(e)] == []
    assert sum("]:LOG:  connection authorized: user=victim " in e for e in entries) == 1


# --- the scenario's own data -------------------------------------------------------------------------------

RULE_IDS = (
    "failed-login",
    "brute-force",
    "password-spray",
    "login-after-failures",
    "drop-table",
    "drop-database",
    "truncate-table",
    "privilege-grant",
    "user-created",
    "password-changed",
)


@pytest.mark.parametrize("scenario", [MARIADB_SCENARIO, POSTGRES_SCENARIO], ids=lambda s: s.engine)
def test_scenario_expects_every_rule_and_contradicts_nothing(scenario: Scenario) -> None:
    """GIVEN a scenario's detection tables WHEN compared THEN every rule is expected and no pair is both
    expected and tolerated/forbidden, so its own expectations pass and a forbidden finding fails."""
    assert sorted(scenario.expected) == sorted(RULE_IDS)
    for rule, pairs in scenario.expected.items():
        assert pairs & scenario.tolerated.get(rule, frozenset()) == frozenset()
        assert pairs & scenario.not_expected.get(rule, frozenset()) == frozenset()
    assert detection_mismatches(scenario, scenario.expected) == []
    forbidden = {**scenario.expected, "drop-table": scenario.expected["drop-table"] | {("app", "t_orders")}}
    assert detection_mismatches(scenario, forbidden) == [
        f"{scenario.engine} drop-table: forbidden ('app', 't_orders')"
    ]
