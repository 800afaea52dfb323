"""Classification of statements that change what is audited: audit settings, plugin and extension removal."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detections.sql import Dialect, Statement, StatementKind, classify

K = StatementKind
S = Statement
OTHER = S(K.OTHER)


def _setting(name: str, value: str | None, scope: str, *objects: str) -> Statement:
    """An AUDIT_SETTING statement."""
    return S(K.AUDIT_SETTING, objects, setting=name, value=value, scope=scope)


CASES: list[tuple[str, tuple[Statement, ...]]] = [
    # --- MySQL / MariaDB SET
    ("SET GLOBAL server_audit_logging=OFF", (_setting("server_audit_logging", "OFF", "global"),)),
    ("SET @@global.server_audit_logging = 0", (_setting("server_audit_logging", "0", "global"),)),
    ("SET @@server_audit_logging := 'off'", (_setting("server_audit_logging", "off", "session"),)),
    ("SET PERSIST server_audit_logging = OFF", (_setting("server_audit_logging", "OFF", "global"),)),
    ("SET GLOBAL server_audit_logging = DEFAULT", (_setting("server_audit_logging", None, "global"),)),
    (
        "SET @x = 1, GLOBAL max_connections = 5, @@GLOBAL.Server_Audit_Events = 'CONNECT', "
        "SESSION sql_mode = '', GLOBAL server_audit_excl_users = CONCAT('a', ',b')",
        (
            _setting("server_audit_events", "CONNECT", "global"),
            _setting("server_audit_excl_users", "CONCAT('a', ',b')", "global"),
        ),
    ),
    (
        "SET GLOBAL server_audit_query_log_limit = -1",
        (_setting("server_audit_query_log_limit", "-1", "global"),),
    ),
    # the log cut the SET inside an audit setting's name (server_audit_query_log_limit=16 logs it so)
    ("SET GLOBAL serve", (_setting("serve…", None, "global"),)),
    ("SET GLOBAL serv", (OTHER,)),  # too short to tell
    ("SET GLOBAL server_id", (OTHER,)),  # a complete name that is not an audit setting
    ("UNINSTALL PLUGIN server_audit", (S(K.AUDIT_REMOVED, ("server_audit",)),)),
    ("uninstall soname 'server_audit.so'", (S(K.AUDIT_REMOVED, ("server_audit",)),)),
    ("UNINSTALL PLUGIN example", (OTHER,)),
    # --- PostgreSQL
    ("SET pgaudit.log TO none", (_setting("pgaudit.log", "none", "session"),)),
    ("SET LOCAL pgaudit.log = 'read'", (_setting("pgaudit.log", "read", "session"),)),
    ("SET SESSION pgaudit.log = 'ddl', 'role'", (_setting("pgaudit.log", "ddl, role", "session"),)),
    ("SET log_statement = DEFAULT", (_setting("log_statement", None, "session"),)),
    ("RESET pgaudit.log", (_setting("pgaudit.log", None, "session"),)),
    ("RESET ALL", (_setting("all", None, "session"),)),
    ("ALTER SYSTEM SET pgaudit.log = 'none'", (_setting("pgaudit.log", "none", "system"),)),
    ("ALTER SYSTEM SET log_connections TO off", (_setting("log_connections", "off", "system"),)),
    ("ALTER SYSTEM RESET ALL", (_setting("all", None, "system"),)),
    ("ALTER ROLE x SET pgaudit.log TO 'none'", (_setting("pgaudit.log", "none", "role", "x"),)),
    (
        "ALTER USER u IN DATABASE d SET pgaudit.log = DEFAULT",
        (_setting("pgaudit.log", None, "role", "u"),),
    ),
    ("ALTER ROLE ALL RESET pgaudit.role", (_setting("pgaudit.role", None, "role", "ALL"),)),
    ("ALTER DATABASE d RESET pgaudit.log", (_setting("pgaudit.log", None, "database", "d"),)),
    (
        "ALTER DATABASE d SET pgaudit.log FROM CURRENT",
        (_setting("pgaudit.log", "FROM CURRENT", "database", "d"),),
    ),
    ("DROP EXTENSION IF EXISTS hstore, pgaudit CASCADE", (S(K.AUDIT_REMOVED, ("pgaudit",)),)),
    ("DROP EXTENSION hstore", (S(K.OTHER_DDL),)),
    (
        "SELECT set_config('pgaudit.log', 'none', false)",
        (S(K.SELECT), _setting("pgaudit.log", "none", "session")),
    ),
    # code that runs now: a DO block's dynamic SQL and PERFORM; a function body does not run now
    (
        "DO $$ BEGIN EXECUTE 'ALTER SYSTEM SET pgaudit.log = ''none'''; END $$",
        (_setting("pgaudit.log", "none", "system"),),
    ),
    (
        "DO $$ BEGIN PERFORM set_config('pgaudit.log', 'none', false); END $$",
        (_setting("pgaudit.log", "none", "session"),),
    ),
    (
        "CREATE FUNCTION f() RETURNS void AS $$ ALTER SYSTEM SET pgaudit.log = none $$ LANGUAGE sql",
        (S(K.OTHER_DDL),),
    ),
    # --- not audit settings: left to the rest of the classifier
    ("SET NAMES utf8mb4", (OTHER,)),
    ("SET search_path TO a, b", (OTHER,)),
    ("SET SESSION AUTHORIZATION bob", (OTHER,)),
    ("ALTER SYSTEM SET work_mem = '64MB'", (S(K.OTHER_DDL),)),
    ("ALTER ROLE r SET search_path TO app", (S(K.ALTER_USER, ("r",)),)),
    ("ALTER DATABASE d OWNER TO bob", (S(K.OTHER_DDL),)),
    ("RESET QUERY CACHE", (OTHER,)),
    # --- reading a setting
    ("SHOW pgaudit.log", (OTHER,)),
    ("SHOW GLOBAL VARIABLES LIKE 'server_audit%'", (OTHER,)),
    ("SELECT @@server_audit_logging", (S(K.SELECT),)),
    ("SELECT current_setting('pgaudit.log')", (S(K.SELECT),)),
    ("SELECT set_config('work_mem', '1MB', true)", (S(K.SELECT),)),
]


@pytest.mark.parametrize(("sql", "expected"), CASES, ids=[c[0][:60] for c in CASES])
def test_classify_audit_changes(sql: str, expected: tuple[Statement, ...]) -> None:
    """GIVEN a statement about audit settings WHEN classified THEN the setting, value and scope are these."""
    assert classify(sql) == expected


AUDIT_CHANGES = st.sampled_from(
    [
        "SET GLOBAL server_audit_logging=OFF",
        "UNINSTALL PLUGIN server_audit",
        "ALTER SYSTEM SET pgaudit.log = 'none'",
        "DROP EXTENSION pgaudit",
        "SET pgaudit.log TO none",
    ]
)


@settings(max_examples=200, deadline=None)
@given(change=AUDIT_CHANGES, dialect=st.sampled_from([Dialect.MYSQL, Dialect.POSTGRES]))
def test_audit_changes_in_literals_and_comments_never_count(change: str, dialect: Dialect) -> None:
    """GIVEN an audit change only inside a literal or a comment WHEN classified THEN no audit statement."""
    sql = f"SELECT '{change.replace(chr(39), chr(39) * 2)}' /* {change} */ -- {change}\n"
    kinds = {statement.kind for statement in classify(sql, dialect)}
    assert kinds == {K.SELECT}


@settings(max_examples=100, deadline=None)
@given(change=AUDIT_CHANGES, glued=st.from_regex(r"[0-9a-z]{1,6}", fullmatch=True))
def test_an_audit_change_after_a_glued_double_dash_counts_on_mysql_only(change: str, glued: str) -> None:
    """GIVEN `SELECT 1--x; <change>` WHEN classified THEN MySQL sees the change, PostgreSQL a comment."""
    sql = f"SELECT 1--{glued}; {change}"
    audit = (K.AUDIT_SETTING, K.AUDIT_REMOVED)
    assert classify(sql, Dialect.MYSQL)[-1].kind in audit
    assert classify(sql, Dialect.POSTGRES) == (S(K.SELECT),)
