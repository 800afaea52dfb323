"""PostgreSQL correlation: statement:, pgaudit and ERROR records joined by backend pid and order only."""

from __future__ import annotations

import pytest

from detections.correlation_postgres import same_query
from tests.unit.detections.correlation_logs import (
    findings,
    observations,
    pg_audit,
    pg_error,
    pg_statement,
    postgres_events,
)
from tests.unit.parsers.postgres_lines import log

SHOP_MISSING = 'database "shop" does not exist'


def _summary(lines: list[str]) -> list[tuple[str | None, bool]]:
    """(statement, succeeded) of each observation of the lines."""
    return [(o.event.statement, o.event.succeeded) for o in observations(postgres_events(lines))]


def test_a_successful_then_a_failed_drop_with_log_statement_are_two_executions() -> None:
    # GIVEN log_statement + pgaudit: DROP DATABASE shop succeeds, then the same text fails
    lines = [
        pg_statement("DROP DATABASE shop"),
        pg_audit(29, "DDL", "DROP DATABASE", "DROP DATABASE shop"),
        pg_statement("DROP DATABASE shop"),
        *pg_error(SHOP_MISSING, "DROP DATABASE shop"),
    ]
    # WHEN correlating and running the rules
    events = postgres_events(lines)
    # THEN one successful drop and one failed attempt, each one observation
    assert _summary(lines) == [("DROP DATABASE shop", True), ("DROP DATABASE shop", False)]
    assert [o.merged_records for o in observations(events)] == [2, 2]
    assert findings(events, "drop-database") == [
        ("drop-database", "DROP DATABASE shop by admin_user"),
        ("drop-database", "Attempted DROP DATABASE shop (failed: ERROR) by admin_user"),
    ]


def test_a_successful_then_a_failed_drop_with_pgaudit_alone_are_two_executions() -> None:
    # GIVEN pgaudit without log_statement: the failing drop leaves only ERROR + STATEMENT
    lines = [
        pg_audit(29, "DDL", "DROP DATABASE", "DROP DATABASE shop"),
        *pg_error(SHOP_MISSING, "DROP DATABASE shop"),
    ]
    # WHEN correlating
    # THEN pgaudit logged the first drop after it succeeded, so the ERROR is a second execution
    assert _summary(lines) == [("DROP DATABASE shop", True), ("DROP DATABASE shop", False)]


def test_an_error_belongs_to_the_most_recent_statement_of_its_pid() -> None:
    # GIVEN log_statement only: a drop that succeeds, the same drop failing, in one second
    lines = [
        pg_statement("DROP DATABASE shop"),
        pg_statement("DROP DATABASE shop"),
        *pg_error(SHOP_MISSING, "DROP DATABASE shop"),
    ]
    # WHEN correlating
    # THEN the ERROR fails the second statement only
    assert _summary(lines) == [("DROP DATABASE shop", True), ("DROP DATABASE shop", False)]


def test_another_backend_never_takes_an_error() -> None:
    # GIVEN pid 1 runs the drop (log_statement), pid 2 runs the same text and fails
    lines = [
        pg_statement("DROP DATABASE shop", pid=1),
        pg_statement("DROP DATABASE shop", pid=2),
        *pg_error(SHOP_MISSING, "DROP DATABASE shop", pid=2),
    ]
    # WHEN correlating
    observed = observations(postgres_events(lines))
    # THEN pid 1's drop succeeded and pid 2's failed
    assert sorted((o.event.session_id, o.event.succeeded) for o in observed) == [("1", True), ("2", False)]


def test_a_write_that_fails_while_executing_keeps_its_audit_record() -> None:
    # GIVEN pgaudit alone: an INSERT is logged when the executor starts, then fails
    lines = [
        pg_audit(30, "WRITE", "INSERT", "INSERT INTO t VALUES (1)"),
        *pg_error('duplicate key value violates unique constraint "t_pkey"', "INSERT INTO t VALUES (1)"),
    ]
    # WHEN correlating
    (observation,) = observations(postgres_events(lines))
    # THEN the audited INSERT is the statement that failed
    assert (observation.event.command, observation.event.succeeded, observation.merged_records) == (
        "INSERT",
        False,
        2,
    )


def test_the_multi_statement_string_gives_one_drop_from_the_record_whose_command_is_drop_table() -> None:
    # GIVEN pgaudit alone repeating the whole query string in the record of each statement
    text = "CREATE TABLE ms_t (id int); INSERT INTO ms_t VALUES (1); DROP TABLE ms_t"
    lines = [
        pg_audit(5, "DDL", "CREATE TABLE", text, object_name="public.ms_t", object_type="TABLE"),
        pg_audit(6, "WRITE", "INSERT", text),
        pg_audit(7, "DDL", "DROP TABLE", text, object_name="public.ms_t", object_type="TABLE"),
    ]
    # WHEN correlating and running the rules
    events = postgres_events(lines)
    # THEN each record names its own statement and only the DROP TABLE one yields drop-table
    assert [o.event.statement for o in observations(events)] == [
        "CREATE TABLE ms_t (id int)",
        "INSERT INTO ms_t VALUES (1)",
        "DROP TABLE ms_t",
    ]
    assert findings(events, "drop-table") == [("drop-table", "DROP TABLE public.ms_t by admin_user")]


def test_the_multi_statement_string_under_log_statement_is_still_one_drop() -> None:
    # GIVEN log_statement logs the string once, pgaudit once per statement
    text = "CREATE TABLE ms_t (id int); INSERT INTO ms_t VALUES (1); DROP TABLE ms_t"
    lines = [
        pg_statement(text),
        pg_audit(5, "DDL", "CREATE TABLE", text, object_name="public.ms_t", object_type="TABLE"),
        pg_audit(6, "WRITE", "INSERT", text),
        pg_audit(7, "DDL", "DROP TABLE", text, object_name="public.ms_t", object_type="TABLE"),
    ]
    # WHEN running the rules
    # THEN one drop-table finding
    assert findings(postgres_events(lines), "drop-table") == [
        ("drop-table", "DROP TABLE public.ms_t by admin_user")
    ]


def test_the_same_multi_statement_string_run_twice_is_two_executions() -> None:
    # GIVEN pgaudit alone, `DROP TABLE a; DROP TABLE b` run twice (statement ids 3, 4 then 5, 6)
    text = "DROP TABLE a; DROP TABLE b"
    lines = [
        pg_audit(n, "DDL", "DROP TABLE", text, object_name=f"public.{name}", object_type="TABLE")
        for n, name in ((3, "a"), (4, "b"), (5, "a"), (6, "b"))
    ]
    # WHEN correlating
    # THEN four drops, each naming its own table
    assert [o.dropped_tables() for o in observations(postgres_events(lines))] == [
        ("public.a",),
        ("public.b",),
        ("public.a",),
        ("public.b",),
    ]


def test_a_failure_inside_a_multi_statement_string_rolls_the_whole_string_back() -> None:
    # GIVEN pgaudit alone: the first drop of the string ran, the second table does not exist
    text = "DROP TABLE a; DROP TABLE missing"
    lines = [
        pg_audit(3, "DDL", "DROP TABLE", text, object_name="public.a", object_type="TABLE"),
        *pg_error('table "missing" does not exist', text),
    ]
    # WHEN running the rules
    # THEN both are attempts: the string is one implicit transaction, so a was rolled back
    assert findings(postgres_events(lines), "drop-table") == [
        ("drop-table", "Attempted DROP TABLE public.a (failed: ERROR) by admin_user"),
        ("drop-table", "Attempted DROP TABLE missing (failed: ERROR) by admin_user"),
    ]


def test_statements_a_commit_in_the_string_made_durable_stand_despite_a_later_error() -> None:
    # GIVEN log_statement + pgaudit: `DROP TABLE a; COMMIT; DROP TABLE b; DROP TABLE missing`
    text = "DROP TABLE a; COMMIT; DROP TABLE b; DROP TABLE missing"
    lines = [
        pg_statement(text),
        pg_audit(3, "DDL", "DROP TABLE", text, object_name="public.a", object_type="TABLE"),
        pg_audit(4, "DDL", "DROP TABLE", text, object_name="public.b", object_type="TABLE"),
        *pg_error('table "missing" does not exist', text),
    ]
    # WHEN running the rules
    # THEN a was committed; b was rolled back with the failing drop
    assert findings(postgres_events(lines), "drop-table") == [
        ("drop-table", "DROP TABLE public.a by admin_user"),
        ("drop-table", "Attempted DROP TABLE public.b (failed: ERROR) by admin_user"),
        ("drop-table", "Attempted DROP TABLE missing (failed: ERROR) by admin_user"),
    ]


def test_a_statement_logged_in_clear_and_redacted_by_pgaudit_is_one_finding() -> None:
    # GIVEN log_statement (password in clear) and pgaudit (<REDACTED>) for CREATE ROLE and ALTER ROLE
    lines = [
        pg_statement("CREATE ROLE newbie LOGIN PASSWORD 'S3cr3t-create!' VALID UNTIL 'infinity'"),
        pg_audit(41, "ROLE", "CREATE ROLE", "CREATE ROLE newbie LOGIN PASSWORD <REDACTED>"),
        pg_statement("ALTER ROLE victim PASSWORD 'S3cr3t-logged!'"),
        pg_audit(42, "ROLE", "ALTER ROLE", "ALTER ROLE victim PASSWORD <REDACTED>"),
    ]
    # WHEN running the rules
    found = findings(postgres_events(lines), "user-created", "password-changed")
    # THEN one finding per statement
    assert [rule for rule, _ in found] == ["user-created", "password-changed"]


def test_a_pgaudit_record_of_another_statement_does_not_join_a_logged_one() -> None:
    # GIVEN log_statement=ddl logs CREATE TABLE (pgaudit.log=write does not), then pgaudit logs an INSERT
    lines = [
        pg_statement("CREATE TABLE t (id int)"),
        pg_audit(8, "WRITE", "INSERT", "INSERT INTO t VALUES (1)"),
    ]
    # WHEN correlating
    # THEN two observations
    assert _summary(lines) == [("CREATE TABLE t (id int)", True), ("INSERT INTO t VALUES (1)", True)]


def test_pgaudit_records_of_one_statement_id_are_one_observation() -> None:
    # GIVEN `DROP TABLE t_pair_a, t_pair_b`: two records with statement id 18 (one per table)
    text = "DROP TABLE t_pair_a, t_pair_b"
    lines = [
        pg_audit(18, "DDL", "DROP TABLE", text, object_name="public.t_pair_b", object_type="TABLE"),
        pg_audit(18, "DDL", "DROP TABLE", text, object_name="public.t_pair_a", object_type="TABLE"),
    ]
    # WHEN correlating
    (observation,) = observations(postgres_events(lines))
    # THEN both tables on one observation
    assert observation.dropped_tables() == ("public.t_pair_b", "public.t_pair_a")


def test_sql_run_inside_a_statement_is_its_own_observation() -> None:
    # GIVEN a procedure call whose body drops a table: pgaudit logs the inner text under the same id
    lines = [
        pg_statement("CALL drop_in_proc()"),
        pg_audit(
            37,
            "DDL",
            "DROP TABLE",
            "DROP TABLE t_in_proc",
            object_name="public.t_in_proc",
            object_type="TABLE",
        ),
    ]
    # WHEN running the rules
    # THEN the drop is found with its own text
    assert findings(postgres_events(lines), "drop-table") == [
        ("drop-table", "DROP TABLE public.t_in_proc by admin_user")
    ]


def test_a_disconnection_closes_the_backends_execution() -> None:
    # GIVEN a logged statement, the backend's disconnection, then a new backend reusing the pid failing
    disconnection = "disconnection: session time: 0:00:00.334 user=admin_user database=appdb host=127.0.0.1"
    lines = [
        pg_statement("DROP DATABASE shop"),
        log(18982, "LOG", f"{disconnection} port=40222", user="admin_user", database="appdb"),
        *pg_error(SHOP_MISSING, "DROP DATABASE shop"),
    ]
    # WHEN correlating
    # THEN the first drop stays successful
    assert [(s, ok) for s, ok in _summary(lines) if s] == [
        ("DROP DATABASE shop", True),
        ("DROP DATABASE shop", False),
    ]


@pytest.mark.parametrize(
    ("redacted", "clear", "same"),
    [
        ("CREATE USER u password <REDACTED>", "CREATE USER u password 'x' VALID UNTIL 'infinity'", True),
        ("ALTER ROLE u PassWord <REDACTED>", "ALTER ROLE u PassWord 'x'", True),
        ("ALTER ROLE u PASSWORD <REDACTED>", "ALTER ROLE v PASSWORD 'x'", False),
        ("DROP DATABASE shop", "DROP DATABASE shop2", False),
        (None, "DROP DATABASE shop", True),
    ],
)
def test_texts_are_the_same_query_despite_pgaudit_redaction(
    redacted: str | None, clear: str, same: bool
) -> None:
    # GIVEN a pgaudit text (maybe redacted) and a log_statement / STATEMENT text
    # WHEN comparing
    # THEN they match exactly when pgaudit's text is the other one with its password redacted
    assert same_query(redacted, clear) is same
    assert same_query(clear, redacted) is same


def test_a_redacted_record_and_a_later_statement_of_the_same_string_with_pgaudit_alone() -> None:
    # GIVEN pgaudit alone: the CREATE ROLE record of a two-statement string is cut at PASSWORD,
    # the DROP TABLE record repeats the whole string
    text = "CREATE ROLE x LOGIN PASSWORD 'S3cr3t-x!'; DROP TABLE t"
    lines = [
        pg_audit(3, "ROLE", "CREATE ROLE", "CREATE ROLE x LOGIN PASSWORD <REDACTED>"),
        pg_audit(4, "DDL", "DROP TABLE", text, object_name="public.t", object_type="TABLE"),
    ]
    # WHEN running the rules
    found = findings(postgres_events(lines), "user-created", "drop-table")
    # THEN one finding each
    assert [rule for rule, _ in found] == ["user-created", "drop-table"]


def test_a_statement_only_log_statement_shows_in_a_multi_statement_string_is_still_found() -> None:
    # GIVEN log_statement='all' and pgaudit.log='ddl': the CREATE ROLE of the string has no pgaudit record
    text = "CREATE TABLE a (id int); CREATE ROLE x LOGIN PASSWORD 'S3cr3t-x!'"
    lines = [
        pg_statement(text),
        pg_audit(5, "DDL", "CREATE TABLE", text, object_name="public.a", object_type="TABLE"),
    ]
    # WHEN correlating and running the rules
    events = postgres_events(lines)
    # THEN the table creation and the role creation are each observed, the role creation found once
    assert [o.event.statement for o in observations(events)] == [
        "CREATE TABLE a (id int)",
        "CREATE ROLE x LOGIN PASSWORD 'S3cr3t-x!'",
    ]
    assert [rule for rule, _ in findings(events, "user-created")] == ["user-created"]


def test_an_error_after_a_record_naming_no_statement_of_the_string_is_kept() -> None:
    # GIVEN pgaudit alone: EXPLAIN ANALYZE runs an INSERT (record command INSERT, text starts with
    # EXPLAIN, so no statement of the string is named), then the string's second statement fails
    text = "EXPLAIN ANALYZE INSERT INTO t VALUES (1); SELECT 1/0"
    lines = [pg_audit(3, "WRITE", "INSERT", text), *pg_error("division by zero", text)]
    # WHEN correlating
    # THEN the failure is not lost: one failed observation of the string
    assert _summary(lines) == [(text, False)]


def test_sql_run_inside_a_failing_do_block_is_an_attempt() -> None:
    # GIVEN pgaudit.log=function,ddl: a DO block (logged when it starts), the drop it ran, then its ERROR
    block = "DO $$BEGIN DROP TABLE t_in_do; DROP TABLE missing; END$$"
    lines = [
        pg_audit(5, "FUNCTION", "DO", block),
        pg_audit(
            5,
            "DDL",
            "DROP TABLE",
            "DROP TABLE t_in_do",
            object_name="public.t_in_do",
            object_type="TABLE",
            substatement=2,
        ),
        *pg_error('table "missing" does not exist', block),
    ]
    # WHEN running the rules
    found = findings(postgres_events(lines), "drop-table")
    # THEN one attempt: the block failed, its drop was undone with it, its record names the table
    assert found == [("drop-table", "Attempted DROP TABLE public.t_in_do (failed: ERROR) by admin_user")]


def test_sql_a_function_ran_for_a_failing_statement_is_an_attempt() -> None:
    # GIVEN log_statement + pgaudit: SELECT of a function whose body drops a table, then the SELECT fails
    call = "SELECT drop_then_fail()"
    lines = [
        pg_statement(call),
        pg_audit(6, "READ", "SELECT", call),
        pg_audit(6, "DDL", "DROP TABLE", "DROP TABLE t_in_fn", object_name="public.t_in_fn", substatement=2),
        *pg_error("division by zero", call),
    ]
    # WHEN running the rules
    # THEN the drop is found, as an attempt
    assert findings(postgres_events(lines), "drop-table") == [
        ("drop-table", "Attempted DROP TABLE public.t_in_fn (failed: ERROR) by admin_user")
    ]


def test_an_unaudited_statement_before_an_error_in_the_string_is_rolled_back_too() -> None:
    # GIVEN log_statement='all', pgaudit.log='ddl' (CREATE ROLE is class ROLE: no record), the string failing
    text = "CREATE ROLE x LOGIN; CREATE TABLE a (id int); DROP TABLE missing"
    lines = [
        pg_statement(text),
        pg_audit(5, "DDL", "CREATE TABLE", text, object_name="public.a", object_type="TABLE"),
        *pg_error('table "missing" does not exist', text),
    ]
    # WHEN running the rules
    found = findings(postgres_events(lines), "user-created", "drop-table")
    # THEN the role creation and the drop are attempts
    assert sorted(title.split(" (failed")[0] for _, title in found) == [
        "Attempted DROP TABLE missing",
        "Attempted user created: x",
    ]
