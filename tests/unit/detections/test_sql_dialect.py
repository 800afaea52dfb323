"""Dialect-aware classification: MySQL `--`/`#`/`/*! */` rules vs PostgreSQL's, and which events use which."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detections.redaction import redact_statement
from detections.sql import Dialect, Statement, StatementKind, classify, dialect_of
from parsers.event import Action, AuditEvent, Source

K = StatementKind
S = Statement
MYSQL, POSTGRES = Dialect.MYSQL, Dialect.POSTGRES

# Text after `--` that MySQL does not take as a comment start (no whitespace/control character first).
GLUED = st.text(alphabet="0123456789abcxyz_()+", min_size=1, max_size=12)
NAMES = st.from_regex(r"[a-z][a-z0-9_]{0,15}", fullmatch=True)
# Comment text: anything on one line, biased towards dangerous words.
COMMENT_TEXT = st.lists(
    st.sampled_from(["DROP", "TABLE", "DATABASE", "t", ";", "'", '"', "`", "GRANT", "ALL", " ", "x", "*"])
    | st.text(max_size=8),
    max_size=12,
).map(" ".join)


def _one_line(text: str) -> str:
    """`text` without line breaks (a line comment ends at the first one)."""
    return "".join(" " if ch in "\r\n" else ch for ch in text)


@settings(max_examples=200, deadline=None)
@given(left=st.integers(0, 999), glued=GLUED, table=NAMES)
def test_a_drop_after_a_glued_double_dash_runs_on_mysql_only(left: int, glued: str, table: str) -> None:
    """GIVEN `SELECT 1--1; DROP TABLE t` WHEN classified THEN MySQL sees the DROP, PostgreSQL a comment."""
    sql = f"SELECT {left}--{glued}; DROP TABLE {table}"
    # WHEN classified as MySQL THEN the second statement is the DROP
    assert classify(sql, MYSQL)[-1] == S(K.DROP_TABLE, (table,))
    # WHEN classified as PostgreSQL THEN everything after `--` is a comment
    assert classify(sql, POSTGRES) == (S(K.SELECT),)


@settings(max_examples=300, deadline=None)
@given(text=COMMENT_TEXT, dialect=st.sampled_from([MYSQL, POSTGRES, Dialect.ANY]))
def test_comment_text_never_counts_in_any_dialect(text: str, dialect: Dialect) -> None:
    """GIVEN DROP/GRANT words inside comments each dialect agrees on WHEN classified THEN one SELECT."""
    line = _one_line(text)
    block = text.replace("*/", "").replace("/*", "")
    sql = f"SELECT 1 -- {line}\n/* {block} */ AS one"
    assert classify(sql, dialect) == (S(K.SELECT),)


@settings(max_examples=200, deadline=None)
@given(text=COMMENT_TEXT)
def test_hash_comments_count_as_comments_on_mysql(text: str) -> None:
    """GIVEN `# text` WHEN classified as MySQL THEN the text is a comment, whatever it says."""
    assert classify(f"SELECT 1 #{_one_line(text)}\n", MYSQL) == (S(K.SELECT),)


@pytest.mark.parametrize(
    ("sql", "mysql", "postgres"),
    [
        # `--` followed by whitespace or a control character is a comment in both
        ("SELECT 1 -- ; DROP TABLE t", (S(K.SELECT),), (S(K.SELECT),)),
        ("SELECT 1 --\t; DROP TABLE t", (S(K.SELECT),), (S(K.SELECT),)),
        ("SELECT 1 --\n; DROP TABLE t", (S(K.SELECT), S(K.DROP_TABLE, ("t",))), None),
        # `#` is a MySQL comment, PostgreSQL's XOR operator
        ("SELECT 1 # 2; DROP TABLE t", (S(K.SELECT),), (S(K.SELECT), S(K.DROP_TABLE, ("t",)))),
        # executable comments run on MySQL/MariaDB (any version gate), are comments on PostgreSQL
        ("/*! DROP TABLE t */", (S(K.DROP_TABLE, ("t",)),), ()),
        ("/*!50001 DROP TABLE t */", (S(K.DROP_TABLE, ("t",)),), ()),
        ("/*M!100100 DROP DATABASE d */", (S(K.DROP_DATABASE, ("d",)),), ()),
        ("SELECT 1 /*!, 2; DROP TABLE t */", (S(K.SELECT), S(K.DROP_TABLE, ("t",))), (S(K.SELECT),)),
        # dynamic SQL is read in the dialect of the text around it
        (
            "EXECUTE IMMEDIATE 'SELECT 1--1; DROP TABLE t'",
            (S(K.SELECT), S(K.DROP_TABLE, ("t",))),
            (S(K.SELECT),),
        ),
    ],
)
def test_dialect_differences_in_classification(
    sql: str, mysql: tuple[Statement, ...], postgres: tuple[Statement, ...] | None
) -> None:
    """GIVEN text the dialects read differently WHEN classified in each THEN each gets its own reading."""
    assert classify(sql, MYSQL) == mysql
    assert classify(sql, POSTGRES) == (mysql if postgres is None else postgres)


def test_unknown_origin_reads_double_dash_as_postgresql_and_the_rest_as_mysql() -> None:
    """GIVEN text of unknown dialect WHEN classified THEN `--x` is a comment, `#` and `/*!` as in MySQL."""
    assert classify("SELECT 1--1; DROP TABLE t") == (S(K.SELECT),)
    assert classify("SELECT 1 # 2; DROP TABLE t") == (S(K.SELECT),)
    assert classify("/*! DROP TABLE t */") == (S(K.DROP_TABLE, ("t",)),)


def _event(source: Source, engine: str = "") -> AuditEvent:
    """A statement event from `source` written by `engine`."""
    return AuditEvent(source, datetime(2024, 1, 1, tzinfo=UTC), Action.QUERY, engine=engine)


@pytest.mark.parametrize(
    ("source", "engine", "dialect"),
    [
        (Source.AURORA_MYSQL, "", MYSQL),
        (Source.MYSQL_AUDIT, "mariadb", MYSQL),
        (Source.MYSQL_AUDIT, "", MYSQL),
        (Source.POSTGRES, "postgres", POSTGRES),
        (Source.ACTIVITY_STREAM, "aurora-mysql", MYSQL),
        (Source.ACTIVITY_STREAM, "MySQL", MYSQL),
        (Source.ACTIVITY_STREAM, "mariadb", MYSQL),
        (Source.ACTIVITY_STREAM, "aurora-postgresql", POSTGRES),
        (Source.ACTIVITY_STREAM, "", POSTGRES),
    ],
)
def test_dialect_of_an_event(source: Source, engine: str, dialect: Dialect) -> None:
    """GIVEN an event's source and engine WHEN its dialect is asked THEN MySQL family or PostgreSQL."""
    assert dialect_of(_event(source, engine)) is dialect


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT 1--1; CREATE USER u IDENTIFIED BY 'S3cr3t-dash'",  # PostgreSQL reads a comment here
        "SELECT 1 # x\nALTER USER u IDENTIFIED BY 'S3cr3t-dash'",
        "/*! GRANT SELECT ON db.* TO u IDENTIFIED BY 'S3cr3t-dash' */",
        "GRANT SELECT ON shop.customers TO 'r'@'%' IDENTIFIED BY 'S3cr3t-dash'",
        "GRANT USAGE ON *.* TO r IDENTIFIED WITH mysql_native_password AS '*S3cr3t-dash'",
        "GRANT USAGE ON *.* TO r IDENTIFIED BY PASSWORD '*S3cr3t-dash'",
    ],
)
def test_a_password_after_mysql_code_is_redacted(sql: str) -> None:
    """GIVEN a password the MySQL reading of the text sets WHEN redacted THEN it is gone."""
    assert "S3cr3t-dash" not in redact_statement(sql)


@pytest.mark.parametrize(
    "sql",
    [
        "EXECUTE IMMEDIATE 'DR' 'OP TABLE t'",
        "EXECUTE IMMEDIATE 'DR'\n   'OP' ' TABLE t'",
        "EXECUTE IMMEDIATE 'DR' 'OP TA' 'BLE t'",
    ],
)
def test_dynamic_sql_split_into_adjacent_literals_runs_the_joined_text(sql: str) -> None:
    # GIVEN dynamic SQL whose text is split into adjacent string literals (one string to MySQL)
    # WHEN classifying it as MySQL
    # THEN the joined statement is what runs: a DROP TABLE
    assert classify(sql, MYSQL) == (S(K.DROP_TABLE, ("t",)),)
