"""Picking the statement of a query string that a pgaudit / DAS COMMAND tag names."""

from __future__ import annotations

import pytest

from detections.statement_selection import select_piece, split_query

MULTI = "CREATE TABLE ms_t (id int); INSERT INTO ms_t VALUES (1); DROP TABLE ms_t"


def test_a_query_string_splits_into_its_statements_with_their_text() -> None:
    # GIVEN a string with a comment and a literal holding `;`
    text = "SELECT 'a;b' /* x; y */; DROP\n  TABLE t"
    # WHEN splitting
    pieces = split_query(text)
    # THEN two statements, texts as written from their first to their last token
    assert [p.text for p in pieces] == ["SELECT 'a;b'", "DROP\n  TABLE t"]


@pytest.mark.parametrize(
    ("command", "expected"),
    [("CREATE TABLE", 0), ("INSERT", 1), ("DROP TABLE", 2), ("VACUUM", None)],
)
def test_the_command_names_the_statement(command: str, expected: int | None) -> None:
    # GIVEN the multi-statement string pgaudit repeats in each record
    # WHEN selecting by COMMAND
    # THEN the statement of that command (none when no statement is of it)
    assert select_piece(split_query(MULTI), command) == expected


def test_a_single_statement_names_itself() -> None:
    # GIVEN a string with one statement
    # WHEN selecting
    # THEN no selection: the text is the statement
    assert select_piece(split_query("DROP TABLE t;"), "DROP TABLE") is None


@pytest.mark.parametrize(
    ("text", "command"),
    [
        ("SELECT 1; CREATE USER u PASSWORD 'x'", "CREATE ROLE"),
        ("SELECT 1; ALTER USER u PASSWORD 'x'", "ALTER ROLE"),
        ("SELECT 1; GRANT pg_read_server_files TO u", "GRANT ROLE"),
        ("SELECT 1; CREATE TEMP TABLE t (id int)", "CREATE TABLE"),
        ("SELECT 1; TRUNCATE t", "TRUNCATE TABLE"),
        ("SELECT 1; WITH d AS (SELECT 1) DELETE FROM t", "DELETE"),
    ],
)
def test_statements_spelled_differently_from_their_command_tag(text: str, command: str) -> None:
    # GIVEN a statement whose keywords differ from PostgreSQL's command tag for it
    # WHEN selecting by the tag
    # THEN it is found
    assert select_piece(split_query(text), command) == 1


def test_order_and_object_tell_statements_of_one_command_apart() -> None:
    # GIVEN two drops in one string
    pieces = split_query("DROP TABLE t_multi_a; DROP TABLE t_multi_b")
    # WHEN selecting for the second record (after statement 0) and by object name alone
    # THEN both ways give the second drop
    assert select_piece(pieces, "DROP TABLE", after=0) == 1
    assert select_piece(pieces, "DROP TABLE", "public.t_multi_b") == 1
    assert select_piece(pieces, "DROP TABLE") == 0
