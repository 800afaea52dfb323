"""SQL classification: what each statement does, on MySQL/MariaDB and PostgreSQL text."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detections.sql import SUPERUSER_ROLES, Statement, StatementKind, classify

K = StatementKind
S = Statement
OTHER = S(K.OTHER)

CASES: list[tuple[str, tuple[Statement, ...]]] = [
    # --- DROP TABLE / DATABASE / SCHEMA
    ("DROP TABLE t", (S(K.DROP_TABLE, ("t",)),)),
    ("drop table if exists a, b", (S(K.DROP_TABLE, ("a", "b"), if_exists=True),)),
    ("DROP TABLE db.t", (S(K.DROP_TABLE, ("db.t",)),)),
    ('DROP TABLE `my db`.`T1`, "Sch"."Tab" CASCADE', (S(K.DROP_TABLE, ("my db.T1", "Sch.Tab")),)),
    ("DROP\n  TABLE\r\n\tt\n", (S(K.DROP_TABLE, ("t",)),)),
    ("DROP /* x */ TABLE t", (S(K.DROP_TABLE, ("t",)),)),
    ("drop/**/table/**/t", (S(K.DROP_TABLE, ("t",)),)),
    ("DROP TEMPORARY TABLE IF EXISTS t", (S(K.DROP_TABLE, ("t",), temporary=True, if_exists=True),)),
    ("DROP TABLES a", (S(K.DROP_TABLE, ("a",)),)),
    ("DROP VIEW v", (S(K.OTHER_DDL),)),
    ("DROP INDEX i ON t", (S(K.OTHER_DDL),)),
    ("DROP MATERIALIZED VIEW m", (S(K.OTHER_DDL),)),
    ("DROP DATABASE shop", (S(K.DROP_DATABASE, ("shop",)),)),
    ("DROP SCHEMA IF EXISTS x CASCADE", (S(K.DROP_DATABASE, ("x",), if_exists=True, schema=True),)),
    ("DROP DATABASE x WITH (FORCE)", (S(K.DROP_DATABASE, ("x",)),)),
    ("DROP PREPARE s", (OTHER,)),
    # --- TRUNCATE
    ("TRUNCATE t", (S(K.TRUNCATE, ("t",)),)),
    ("TRUNCATE TABLE ONLY t, u", (S(K.TRUNCATE, ("t", "u")),)),
    ("truncate table t restart identity", (S(K.TRUNCATE, ("t",)),)),
    ("TRUNCATE public.t *, ONLY u CASCADE", (S(K.TRUNCATE, ("public.t", "u")),)),
    # --- GRANT / REVOKE
    (
        "GRANT ALL PRIVILEGES ON *.* TO 'u'@'%' WITH GRANT OPTION",
        (
            S(
                K.GRANT,
                ("u@%",),
                grant_all=True,
                with_grant_option=True,
                granted=("all privileges",),
                superuser=True,
                level="*.*",
            ),
        ),
    ),
    ("GRANT SELECT ON t TO u", (S(K.GRANT, ("u",), granted=("select",), level="t"),)),
    (
        "GRANT SELECT (a, b), INSERT ON db.t TO u, 'v'@'10.0.0.%'",
        (S(K.GRANT, ("u", "v@10.0.0.%"), granted=("select", "insert"), level="db.t"),),
    ),
    ("GRANT ALL ON db.* TO u", (S(K.GRANT, ("u",), grant_all=True, granted=("all",), level="db.*"),)),
    ("GRANT rds_superuser TO bob", (S(K.GRANT, ("bob",), granted=("rds_superuser",), superuser=True),)),
    (
        "GRANT 'rds_superuser_role'@'%' TO app",
        (S(K.GRANT, ("app",), granted=("rds_superuser_role@%",), superuser=True),),
    ),
    ("GRANT SUPER ON *.* TO u", (S(K.GRANT, ("u",), granted=("super",), superuser=True, level="*.*"),)),
    (
        "GRANT FILE ON *.* TO u@localhost",
        (S(K.GRANT, ("u@localhost",), granted=("file",), superuser=True, level="*.*"),),
    ),
    (
        "GRANT PROCESS, CREATE USER ON *.* TO u",
        (S(K.GRANT, ("u",), granted=("process", "create user"), level="*.*"),),
    ),
    (
        "GRANT pg_execute_server_program TO GROUP ops",
        (S(K.GRANT, ("ops",), granted=("pg_execute_server_program",), superuser=True),),
    ),
    (
        "GRANT admins TO bob WITH ADMIN OPTION",
        (S(K.GRANT, ("bob",), with_grant_option=True, granted=("admins",)),),
    ),
    ("GRANT r TO bob WITH ADMIN TRUE", (S(K.GRANT, ("bob",), with_grant_option=True, granted=("r",)),)),
    (
        "GRANT SELECT ON ALL TABLES IN SCHEMA public TO ro WITH GRANT OPTION",
        (
            S(
                K.GRANT,
                ("ro",),
                with_grant_option=True,
                granted=("select",),
                level="ALL TABLES IN SCHEMA public",
            ),
        ),
    ),
    (
        "GRANT ALL ON db.* TO u IDENTIFIED BY 'x' WITH MAX_QUERIES_PER_HOUR 9 GRANT OPTION",
        (
            S(
                K.GRANT,
                ("u",),
                grant_all=True,
                with_grant_option=True,
                granted=("all",),
                sets_password=True,
                level="db.*",
            ),
        ),
    ),
    (
        "GRANT ALL ON sa_db TO u2_empty IDENTIFIED BY *****",  # RDS audit plugin test output
        (S(K.GRANT, ("u2_empty",), grant_all=True, granted=("all",), sets_password=True, level="sa_db"),),
    ),
    (
        "GRANT PROXY ON 'plug_dest'@'%' TO 'plug'@'%'",
        (S(K.GRANT, ("plug@%",), granted=("proxy",), level="plug_dest@%"),),
    ),
    ("REVOKE SELECT ON t FROM u", (S(K.REVOKE, ("u",), granted=("select",)),)),
    (
        "REVOKE ALL PRIVILEGES, GRANT OPTION FROM u, v",
        (S(K.REVOKE, ("u", "v"), grant_all=True, granted=("all privileges", "grant option")),),
    ),
    ("REVOKE GRANT OPTION FOR SELECT ON t FROM u CASCADE", (S(K.REVOKE, ("u",), granted=("select",)),)),
    ("REVOKE rds_superuser FROM bob", (S(K.REVOKE, ("bob",), granted=("rds_superuser",)),)),
    # --- CREATE USER / ROLE
    ("CREATE USER 'u'@'%' IDENTIFIED BY 'p'", (S(K.CREATE_USER, ("u@%",), login=True, sets_password=True),)),
    ("CREATE USER IF NOT EXISTS 'u'@'localhost'", (S(K.CREATE_USER, ("u@localhost",), login=True),)),
    (
        "CREATE OR REPLACE USER a IDENTIFIED BY 'x', b@'h' IDENTIFIED BY 'y' DEFAULT ROLE r1, r2",
        (S(K.CREATE_USER, ("a", "b@h"), login=True, sets_password=True),),
    ),
    (
        "CREATE USER 'ethan'@'%' IDENTIFIED WITH 'mysql_native_password' "
        "AS '*F846B31F10DD4389C384272E70B9BBA3AD9E1F94'",
        (S(K.CREATE_USER, ("ethan@%",), login=True, sets_password=True),),
    ),
    ("CREATE USER u IDENTIFIED WITH auth_socket", (S(K.CREATE_USER, ("u",), login=True),)),
    # RDS IAM authentication: AS 'RDS' names the method, it is not a password
    (
        "CREATE USER u IDENTIFIED WITH AWSAuthenticationPlugin AS 'RDS'",
        (S(K.CREATE_USER, ("u",), login=True),),
    ),
    (
        "CREATE USER u IDENTIFIED VIA ed25519 USING PASSWORD('x')",
        (S(K.CREATE_USER, ("u",), login=True, sets_password=True),),
    ),
    (
        "CREATE USER u IDENTIFIED BY RANDOM PASSWORD",
        (S(K.CREATE_USER, ("u",), login=True, sets_password=True),),
    ),
    ("CREATE USER u WITH PASSWORD 'x'", (S(K.CREATE_USER, ("u",), login=True, sets_password=True),)),
    ("CREATE USER u NOLOGIN", (S(K.CREATE_USER, ("u",)),)),
    ("CREATE ROLE r", (S(K.CREATE_ROLE, ("r",)),)),
    ("CREATE ROLE IF NOT EXISTS r1, r2", (S(K.CREATE_ROLE, ("r1", "r2")),)),
    ("CREATE ROLE r LOGIN PASSWORD 'x'", (S(K.CREATE_ROLE, ("r",), login=True, sets_password=True),)),
    ("CREATE ROLE r WITH LOGIN", (S(K.CREATE_ROLE, ("r",), login=True),)),
    ("CREATE ROLE r SUPERUSER", (S(K.CREATE_ROLE, ("r",), superuser=True, attributes=("superuser",)),)),
    (
        "CREATE ROLE r LOGIN REPLICATION BYPASSRLS CREATEROLE",
        (S(K.CREATE_ROLE, ("r",), login=True, attributes=("createrole", "bypassrls", "replication")),),
    ),
    ("CREATE ROLE r WITH NOSUPERUSER CREATEDB", (S(K.CREATE_ROLE, ("r",)),)),
    (
        "CREATE ROLE r IN ROLE rds_superuser, readers LOGIN",
        (S(K.CREATE_ROLE, ("r",), granted=("rds_superuser", "readers"), superuser=True, login=True),),
    ),
    ("CREATE ROLE r ROLE alice, bob", (S(K.CREATE_ROLE, ("r",)),)),  # members, not memberships
    ("CREATE GROUP g USER a, b", (S(K.CREATE_ROLE, ("g",)),)),
    ("CREATE USER MAPPING FOR bob SERVER s OPTIONS (password 'x')", (S(K.OTHER_DDL),)),
    # pgaudit and the MySQL audit plugins replace the password by a placeholder
    (
        "CREATE USER regress_user1 password <REDACTED>",
        (S(K.CREATE_USER, ("regress_user1",), login=True, sets_password=True),),
    ),
    (
        "CREATE USER 'u1_empty'@'%' IDENTIFIED BY <secret>",
        (S(K.CREATE_USER, ("u1_empty@%",), login=True, sets_password=True),),
    ),
    ("CREATE USER u IDENTIFIED BY *****", (S(K.CREATE_USER, ("u",), login=True, sets_password=True),)),
    # --- ALTER USER / ROLE
    ("ALTER USER u IDENTIFIED BY 'x'", (S(K.ALTER_USER, ("u",), sets_password=True),)),
    ("ALTER USER IF EXISTS u ACCOUNT LOCK", (S(K.ALTER_USER, ("u",), if_exists=True),)),
    ("ALTER USER USER() IDENTIFIED BY 'x'", (S(K.ALTER_USER, ("USER()",), sets_password=True),)),
    ("ALTER ROLE r WITH PASSWORD 'x'", (S(K.ALTER_USER, ("r",), sets_password=True),)),
    (
        "ALTER ROLE regress_user1 PassWord <REDACTED>",
        (S(K.ALTER_USER, ("regress_user1",), sets_password=True),),
    ),
    (
        "ALTER USER regress_user1 encrypted /* random comment */PASSWORD <REDACTED>",
        (S(K.ALTER_USER, ("regress_user1",), sets_password=True),),
    ),
    # PINNED: PASSWORD NULL removes the password, it sets none
    ("ALTER USER u PASSWORD NULL", (S(K.ALTER_USER, ("u",)),)),
    ("ALTER USER u PASSWORD EXPIRE INTERVAL 90 DAY", (S(K.ALTER_USER, ("u",)),)),
    ("ALTER ROLE r SUPERUSER", (S(K.ALTER_USER, ("r",), superuser=True, attributes=("superuser",)),)),
    ("ALTER ROLE r NOCREATEROLE NOREPLICATION", (S(K.ALTER_USER, ("r",)),)),
    ("ALTER ROLE r LOGIN", (S(K.ALTER_USER, ("r",), login=True),)),
    ("ALTER ROLE r RENAME TO s", (S(K.ALTER_USER, ("r",)),)),
    (
        "ALTER USER myuser SET pgaudit.log TO 'NONE'",
        (S(K.AUDIT_SETTING, ("myuser",), setting="pgaudit.log", value="NONE", scope="role"),),
    ),
    ("ALTER USER myuser SET search_path TO app", (S(K.ALTER_USER, ("myuser",)),)),
    (
        "ALTER GROUP rds_superuser ADD USER bob, alice",
        (S(K.GRANT, ("bob", "alice"), granted=("rds_superuser",), superuser=True),),
    ),
    ("ALTER GROUP g DROP USER bob", (S(K.REVOKE, ("bob",), granted=("g",)),)),
    ("RENAME USER a TO b, 'c'@'%' TO d", (S(K.ALTER_USER, ("a", "b", "c@%", "d")),)),
    ("ALTER TABLE t DROP COLUMN c", (S(K.OTHER_DDL),)),
    # --- SET PASSWORD / DROP USER
    ("SET PASSWORD FOR u = 'x'", (S(K.SET_PASSWORD, ("u",), sets_password=True),)),
    ("SET PASSWORD = PASSWORD('x')", (S(K.SET_PASSWORD, sets_password=True),)),
    ("SET PASSWORD FOR `u1_empty`@`%`=<secret>", (S(K.SET_PASSWORD, ("u1_empty@%",), sets_password=True),)),
    ("SET password_encryption = 'scram-sha-256'", (OTHER,)),
    ("DROP USER IF EXISTS 'a'@'%', b", (S(K.DROP_USER, ("a@%", "b"), if_exists=True),)),
    ("DROP ROLE r", (S(K.DROP_USER, ("r",)),)),
    ("DROP USER MAPPING FOR bob SERVER s", (S(K.OTHER_DDL),)),
    # --- what does not run now
    ("EXECUTE stmt", (OTHER,)),
    ("EXECUTE stmt USING @a", (OTHER,)),
    ("PREPARE s FROM 'DROP TABLE t'", (OTHER,)),
    ("CALL p()", (OTHER,)),
    ("CREATE PROCEDURE p() BEGIN DROP TABLE t; DROP TABLE u; END", (S(K.OTHER_DDL),)),
    ('create procedure pr1() insert into test.t1 values ("foo", 42)', (S(K.OTHER_DDL),)),
    ("CREATE FUNCTION f() RETURNS void AS $$ DROP TABLE x $$ LANGUAGE sql", (S(K.OTHER_DDL),)),
    ("CREATE EVENT e ON SCHEDULE EVERY 1 DAY DO DROP TABLE t", (S(K.OTHER_DDL),)),
    # --- what runs now: PINNED, the statements inside replace the block
    ("DO $$ BEGIN DROP TABLE t; END $$", (S(K.DROP_TABLE, ("t",)),)),
    (
        "DO LANGUAGE plpgsql 'BEGIN TRUNCATE t; DROP SCHEMA s; END'",
        (S(K.TRUNCATE, ("t",)), S(K.DROP_DATABASE, ("s",), schema=True)),
    ),
    ("DO $$ BEGIN RAISE NOTICE 'drop table t'; END $$", (OTHER,)),
    ("DO LANGUAGE plpython3u $$ drop_table() $$", (OTHER,)),
    ("DO SLEEP(1)", (OTHER,)),  # MySQL DO evaluates expressions
    (
        "DO $$ DECLARE r record; BEGIN FOR r IN SELECT tablename FROM pg_tables LOOP "
        "EXECUTE 'DROP TABLE ' || quote_ident(r.tablename); END LOOP; END $$",
        (S(K.DROP_TABLE),),
    ),
    ("DO $$ BEGIN IF true THEN EXECUTE format('DROP TABLE %I', 'x'); END IF; END $$", (S(K.DROP_TABLE),)),
    ("EXECUTE IMMEDIATE 'DROP TABLE t'", (S(K.DROP_TABLE, ("t",)),)),
    # MariaDB runs the statement after FOR with session variables set for it
    ("SET STATEMENT max_statement_time=60, sql_mode='' FOR DROP TABLE t", (S(K.DROP_TABLE, ("t",)),)),
    ("SET STATEMENT foreign_key_checks=0 FOR TRUNCATE t", (S(K.TRUNCATE, ("t",)),)),
    ("SET STATEMENT a=1 FOR " * 5000 + "DROP TABLE t", (OTHER,)),  # nested too deep: not looked into
    (
        "BEGIN NOT ATOMIC IF 1 THEN DROP TABLE t; END IF; END",  # MariaDB compound outside a routine
        (S(K.DROP_TABLE, ("t",)), OTHER, OTHER),
    ),
    ("lbl: WHILE 1 DO TRUNCATE t; END WHILE lbl", (S(K.TRUNCATE, ("t",)), OTHER)),
    # --- keywords inside literals and comments never count
    ("SELECT 'drop table t'", (S(K.SELECT),)),
    ("SELECT '/* drop table x */'", (S(K.SELECT),)),
    ('SELECT "drop table t"', (S(K.SELECT),)),
    ('"DROP" TABLE t', (OTHER,)),  # "…" is an identifier or a string, never a keyword
    ("`DROP` TABLE t", (OTHER,)),
    ("DROP TABLE t;", (S(K.DROP_TABLE, ("t",)),)),
    ("SELECT 1 -- drop table t", (S(K.SELECT),)),
    ("SELECT 1 # drop table t", (S(K.SELECT),)),
    ("SELECT 1 /* ; drop table t */", (S(K.SELECT),)),
    ("/*!40101 DROP TABLE t */", (S(K.DROP_TABLE, ("t",)),)),
    ("/*!50001 DROP TABLE IF EXISTS `v` */;", (S(K.DROP_TABLE, ("v",), if_exists=True),)),
    ("select 'a'; drop table t", (S(K.SELECT), S(K.DROP_TABLE, ("t",)))),
    ("--cleanup\nDROP TABLE t", (S(K.DROP_TABLE, ("t",)),)),  # PINNED: `--x` starts a comment
    # --- DML / SELECT / OTHER
    ("INSERT INTO t VALUES (1)", (S(K.DML),)),
    ("update t set a = 1", (S(K.DML),)),
    ("DELETE FROM t", (S(K.DML),)),
    ("REPLACE INTO t VALUES (1)", (S(K.DML),)),
    ("LOAD DATA INFILE 'x' INTO TABLE t", (S(K.DML),)),
    ("COPY t FROM '/tmp/x'", (S(K.DML),)),
    ("WITH x AS (SELECT 1) SELECT * FROM x", (S(K.SELECT),)),
    ("WITH x AS (DELETE FROM t RETURNING *) SELECT * FROM x", (S(K.DML),)),
    ("WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM x", (S(K.DML),)),
    ("(SELECT 1) UNION (SELECT 2)", (S(K.SELECT),)),
    ("VALUES (1)", (S(K.SELECT),)),
    ("TABLE t", (S(K.SELECT),)),
    ("SHOW TABLES", (OTHER,)),
    ("BEGIN; DROP TABLE t; COMMIT", (OTHER, S(K.DROP_TABLE, ("t",)), OTHER)),
    ("CREATE TABLE t (id int)", (S(K.OTHER_DDL),)),
    ("COMMENT ON TABLE t IS 'x'", (S(K.OTHER_DDL),)),
    (
        "set global server_audit_logging= off",
        (S(K.AUDIT_SETTING, setting="server_audit_logging", value="off", scope="global"),),
    ),
    # --- degenerate text
    ("", ()),
    (" ;; -- nothing\n", ()),
    ("DROP", (S(K.OTHER_DDL),)),
    ("DROP TABLE", (S(K.DROP_TABLE),)),
    ("GRANT", (S(K.GRANT),)),
    ("CREATE USER", (S(K.CREATE_USER, login=True),)),
    ("DROP TABLE 'unterminated", (S(K.DROP_TABLE),)),
]


@pytest.mark.parametrize(("sql", "expected"), CASES, ids=[c[0][:60] for c in CASES])
def test_classify(sql: str, expected: tuple[Statement, ...]) -> None:
    """GIVEN a statement WHEN classified THEN kind and every extracted fact are exactly these."""
    assert classify(sql) == expected


DROP_DATABASE_SCHEMA_CASES: list[tuple[str, bool]] = [
    ("DROP DATABASE shop", False),
    ("drop database if exists shop", False),
    ("DROP SCHEMA shop", True),
    ("drop schema if exists `legacy-shop`", True),
    ("DROP SCHEMA IF EXISTS analytics CASCADE", True),
    ("DROP /* why */ SCHEMA s", True),
]


@pytest.mark.parametrize(
    ("sql", "schema"), DROP_DATABASE_SCHEMA_CASES, ids=[c[0] for c in DROP_DATABASE_SCHEMA_CASES]
)
def test_drop_schema_is_marked(sql: str, schema: bool) -> None:
    """GIVEN DROP DATABASE or DROP SCHEMA WHEN classified THEN DROP_DATABASE, `schema` says which."""
    (statement,) = classify(sql)
    assert statement.kind is K.DROP_DATABASE
    assert statement.schema is schema


def test_superuser_roles_are_lower_case_names() -> None:
    """GIVEN the superuser-class list WHEN read THEN it holds the documented names, lower-case."""
    assert sorted(SUPERUSER_ROLES) == [
        "file",
        "pg_execute_server_program",
        "pg_read_server_files",
        "pg_write_server_files",
        "rds_superuser",
        "rds_superuser_role",
        "super",
    ]


SQL_WORDS = st.sampled_from(
    [
        "DROP", "TABLE", "GRANT", "ALL", "ON", "TO", "IDENTIFIED", "BY", "CREATE", "USER", "ROLE",
        "ALTER", "SET", "PASSWORD", "FOR", "IN", "DO", "BEGIN", "END", "IF", "EXISTS", "THEN", "WITH",
        "EXECUTE", "TRUNCATE", "REVOKE", "FROM", "PROCEDURE", "CASE", "@", ",", ";", "(", ")", "'", '"',
        "`", "$$", "/*", "*/", "/*!", "--", "#", "\n", "*", ".", "=", "<", ">", "x", "'u'@'%'", " ",
    ]
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(sql=st.lists(SQL_WORDS, max_size=30).map(" ".join) | st.text(max_size=200))
def test_classify_never_raises(sql: str) -> None:
    """GIVEN any text, SQL-like or not WHEN classified THEN a tuple of Statements comes back."""
    result = classify(sql)
    assert isinstance(result, tuple)
    assert all(isinstance(statement, Statement) for statement in result)


def _mysql_literal(text: str) -> str:
    """`text` as a MySQL single-quoted literal."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=60))
def test_nothing_inside_a_literal_or_comment_counts(text: str) -> None:
    """GIVEN any text inside a literal, a block comment or a line comment WHEN classified THEN one SELECT."""
    block = text.replace("*/", "").replace("/*", "")
    line = text.replace("\n", " ").replace("\r", " ")
    sql = f"SELECT {_mysql_literal(text)} /* {block} */ -- {line}\n"
    assert classify(sql) == (S(K.SELECT),)


def test_repeated_and_long_texts_classify_the_same_as_a_first_reading() -> None:
    # GIVEN a short statement read once, and a DROP past the remembered length
    from detections.sql import CACHED_STATEMENT_CHARS, Dialect, _classify_cached, _classify_text

    short = "DROP TABLE remembered_t"
    long_text = "DROP TABLE long_t /*" + "x" * CACHED_STATEMENT_CHARS + "*/"
    first = classify(short, Dialect.MYSQL)
    hits = _classify_cached.cache_info().hits
    # WHEN classifying the short one again, and the long one
    again = classify(short, Dialect.MYSQL)
    size = _classify_cached.cache_info().currsize
    long_result = classify(long_text, Dialect.MYSQL)
    # THEN the short one is answered from memory with a fresh reading's result; the long one is
    # classified in full and not remembered
    assert again == first == _classify_text(short, Dialect.MYSQL)
    assert _classify_cached.cache_info().hits == hits + 1
    assert long_result == (S(K.DROP_TABLE, ("long_t",)),)
    assert _classify_cached.cache_info().currsize == size
