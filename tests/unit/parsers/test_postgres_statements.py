"""PostgreSQL statements, errors and pgaudit records read from the server log (FORMATS 3.4, 8)."""

from __future__ import annotations

import pytest

from parsers.event import Action, AuditEvent, ParseFailure
from tests.unit.parsers.postgres_lines import event_of, log, long_prefix, parse, summary

# --- statements, errors (FORMATS 8) ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "statement"),
    [
        ("statement: select 1", "select 1"),
        ("execute <unnamed>: select $1", "select $1"),
        ("execute S_1: insert into t values ($1)", "insert into t values ($1)"),
        ("execute fetch from S_2/C_3: select * from t", "select * from t"),
        ("duration: 2001.036 ms  statement: SELECT 1", "SELECT 1"),
        ("duration: 0.120 ms  execute <unnamed>: select 2", "select 2"),
        ("duration: 167.754 ms", None),
        ("duration: 0.050 ms  parse <unnamed>: select 3", None),
        ("duration: 0.050 ms  bind <unnamed>: select 3", None),
        ("checkpoint starting: time", None),
        ('automatic vacuum of table "app.public.t": index scans: 0', None),
        ("QUERY STATISTICS", None),
    ],
)
def test_logged_statements(message: str, statement: str | None) -> None:
    """GIVEN a LOG message WHEN parsed THEN statement-bearing ones are QUERY events, others nothing."""
    results = parse(log(700, "LOG", message))
    assert [summary(r) for r in results] == (
        []
        if statement is None
        else [(Action.QUERY, "postgresql.log:1", "700", "alice", "app", "", "", "", statement)]
    )


def test_error_with_statement_is_one_query() -> None:
    """GIVEN ERROR, DETAIL, HINT, CONTEXT and STATEMENT lines of one pid WHEN parsed THEN one QUERY at the
    ERROR with the error text and the statement."""
    lines = [
        log(701, "ERROR", 'relation "missing" does not exist at character 15'),
        log(701, "DETAIL", "some detail"),
        log(701, "HINT", "some hint"),
        log(701, "CONTEXT", "PL/pgSQL function f() line 3"),
        log(701, "STATEMENT", "select * from missing\nwhere 1 = 1"),
    ]
    [event] = parse(*lines)
    assert summary(event) == (
        Action.QUERY, "postgresql.log:1", "701", "alice", "app", "", "ERROR",
        'relation "missing" does not exist at character 15', "select * from missing\nwhere 1 = 1",
    )  # fmt: skip
    assert event.raw == "\n".join(lines)


@pytest.mark.parametrize(
    ("line", "status"),
    [
        (long_prefix(702, "42P01") + 'ERROR:  relation "missing" does not exist', "42P01"),
        (log(702, "ERROR", "permission denied for table salaries"), "42501"),  # pinned message inference
        (log(702, "ERROR", "must be owner of table salaries"), "42501"),
        (log(702, "ERROR", 'syntax error at or near "ORDER"'), "ERROR"),
    ],
)  # fmt: skip
def test_error_status(line: str, status: str) -> None:
    """GIVEN an ERROR with its STATEMENT WHEN parsed THEN status is %e, else a known SQLSTATE, else ERROR."""
    event = event_of(line, log(702, "STATEMENT", "select * from salaries"))
    assert (event.status, event.statement) == (status, "select * from salaries")


@pytest.mark.parametrize(
    "entries",
    [
        pytest.param([log(703, "ERROR", "canceling statement due to statement timeout"),
                      log(704, "LOG", "checkpoint starting: time")], id="error-alone"),
        pytest.param([log(703, "ERROR", "boom"), log(703, "LOG", "statement: select 2")],
                     id="error-then-log"),
        pytest.param([log(703, "LOG", "QUERY STATISTICS"), log(703, "STATEMENT", "select 1")],
                     id="log-then-stmt"),
        pytest.param([log(702, "LOG", "checkpoint starting: time"), log(703, "ERROR", "boom"),
                      log(704, "STATEMENT", "select 1")], id="statement-of-other-pid"),
        pytest.param([log(703, "ERROR", "boom"), log(704, "LOG", "checkpoint starting: time"),
                      log(703, "STATEMENT", "select 1")], id="statement-not-contiguous"),
    ],
)  # fmt: skip
def test_statement_lines_attach_only_to_a_directly_preceding_error(entries: list[str]) -> None:
    """GIVEN STATEMENT lines that do not directly follow an ERROR of their pid (elog.c writes them in one
    go) WHEN parsed THEN no error QUERY is made (pinned)."""
    assert [r.statement for r in parse(*entries) if isinstance(r, AuditEvent) and r.error_message] == []


def test_an_error_ending_the_batch_still_fails_its_execution() -> None:
    """GIVEN a batch whose last entry is an ERROR (its STATEMENT is in the next CloudWatch payload)
    WHEN parsed THEN it is a failed QUERY without text, which correlation joins to its statement line."""
    [_line, event] = parse(
        log(706, "LOG", "statement: DROP DATABASE shop"), log(706, "ERROR", 'database "shop" does not exist')
    )
    assert isinstance(event, AuditEvent)
    assert (event.action, event.statement, event.succeeded) == (Action.QUERY, None, False)
    assert event.error_message == 'database "shop" does not exist'


@pytest.mark.parametrize(
    "opening",
    [
        pytest.param([], id="statement-first"),
        pytest.param([log(707, "DETAIL", "some detail"), log(707, "HINT", "a hint")], id="after-detail"),
    ],
)  # fmt: skip
def test_a_statement_opening_the_batch_is_a_failed_statement(opening: list[str]) -> None:
    """GIVEN a batch opening with the auxiliary lines of an ERROR that ended the previous payload
    WHEN parsed THEN its STATEMENT is a failed statement of that pid (the attempt is not lost)."""
    [event, *_] = [r for r in parse(*opening, log(707, "STATEMENT", "DROP DATABASE shop")) if r]
    assert isinstance(event, AuditEvent)
    assert (event.action, event.statement, event.session_id, event.succeeded) == (
        Action.QUERY, "DROP DATABASE shop", "707", False,
    )  # fmt: skip
    assert "previous log batch" in event.error_message


PASSWORD_FAILED = 'password authentication failed for user "bob"'


def test_statement_after_fatal_is_attached_to_nothing() -> None:
    """GIVEN a FATAL followed by a STATEMENT line WHEN parsed THEN the FAILED_CONNECT has no statement."""
    event = event_of(log(705, "FATAL", PASSWORD_FAILED), log(705, "STATEMENT", "select 1"))
    assert (event.action, event.statement, event.error_message) == (
        Action.FAILED_CONNECT,
        None,
        PASSWORD_FAILED,
    )


# --- pgaudit through the log (FORMATS 3.4 and 8) -----------------------------------------------------


def audit(pid: int, csv: str, severity: str = "LOG") -> str:
    """A pgaudit entry as written to the server log."""
    return log(pid, severity, "AUDIT: " + csv)


@pytest.mark.parametrize(
    ("audit_class", "action"),
    [
        ("DDL", Action.QUERY_DDL),
        ("ROLE", Action.QUERY_DCL),
        ("READ", Action.QUERY_DML),
        ("WRITE", Action.QUERY_DML),
        ("FUNCTION", Action.QUERY),
        ("MISC", Action.QUERY),
        ("MISC_SET", Action.QUERY),
        ("SOMETHING_NEW", Action.QUERY),
    ],
)
def test_pgaudit_class_to_action(audit_class: str, action: Action) -> None:
    """GIVEN a pgaudit record of a class WHEN parsed THEN the action follows the class."""
    event = event_of(audit(800, f"SESSION,3,2,{audit_class},DO,,,do something,<none>"))
    assert (event.action, event.query_id, event.command, event.statement) == (
        action,
        "3.2",
        "DO",
        "do something",
    )


def test_pgaudit_previously_logged_resolves_per_pid_and_statement_id() -> None:
    """GIVEN pgaudit.log_statement_once WHEN later records say <previously logged> THEN the same pid's
    statement with the same statement id fills them in; otherwise None."""
    first = '"select * from a join b using (id), c",<none>'
    results = parse(
        audit(801, f"SESSION,5,1,READ,SELECT,TABLE,public.a,{first}"),
        audit(801, "SESSION,5,2,READ,SELECT,TABLE,public.b,<previously logged>,<previously logged>"),
        audit(802, "SESSION,5,1,READ,SELECT,TABLE,public.b,<previously logged>,<previously logged>"),
        audit(801, "SESSION,6,1,READ,SELECT,TABLE,public.c,<previously logged>,<previously logged>"),
    )
    assert [(r.session_id, r.object, r.statement) for r in results if isinstance(r, AuditEvent)] == [
        ("801", "public.a", "select * from a join b using (id), c"),
        ("801", "public.b", "select * from a join b using (id), c"),
        ("802", "public.b", None),
        ("801", "public.c", None),
    ]


def test_pgaudit_statement_not_logged_is_none() -> None:
    """GIVEN pgaudit.log_statement off WHEN parsed THEN the event has no statement (pinned)."""
    event = event_of(audit(803, "SESSION,1,1,WRITE,INSERT,TABLE,public.t,<not logged>,<not logged>"))
    assert (event.action, event.object, event.statement) == (Action.QUERY_DML, "public.t", None)


def test_pgaudit_multi_statement_query_is_repeated_per_record() -> None:
    """GIVEN a multi-statement query WHEN pgaudit logs one record per statement THEN each event carries
    the whole text verbatim and its own command."""
    text = '"select 1; drop table t; create table u (a int)"'
    results = parse(
        audit(804, f"SESSION,7,1,READ,SELECT,,,{text},<none>"),
        audit(804, f"SESSION,8,1,DDL,DROP TABLE,TABLE,public.t,{text},<none>"),
        audit(804, f"SESSION,9,1,DDL,CREATE TABLE,TABLE,public.u,{text},<none>"),
    )
    assert [(r.command, r.statement) for r in results if isinstance(r, AuditEvent)] == [
        ("SELECT", "select 1; drop table t; create table u (a int)"),
        ("DROP TABLE", "select 1; drop table t; create table u (a int)"),
        ("CREATE TABLE", "select 1; drop table t; create table u (a int)"),
    ]


def test_log_statement_and_pgaudit_redaction_are_both_verbatim() -> None:
    """GIVEN log_statement (clear-text password) and pgaudit (<REDACTED>) lines WHEN parsed THEN both
    statements are kept as written: redaction downstream must not rely on the server."""
    results = parse(
        log(805, "LOG", "statement: CREATE USER carol PASSWORD 'hunter2'"),
        audit(805, "SESSION,1,1,ROLE,CREATE ROLE,,,CREATE USER carol PASSWORD <REDACTED>,<not logged>"),
    )
    assert [(r.action, r.statement) for r in results if isinstance(r, AuditEvent)] == [
        (Action.QUERY, "CREATE USER carol PASSWORD 'hunter2'"),
        (Action.QUERY_DCL, "CREATE USER carol PASSWORD <REDACTED>"),
    ]


def test_pgaudit_at_notice_level_is_read() -> None:
    """GIVEN pgaudit.log_level=notice with log_client WHEN the server log has NOTICE:  AUDIT THEN read."""
    event = event_of(audit(806, "OBJECT,1,1,READ,SELECT,TABLE,public.t,select 1,<none>", severity="NOTICE"))
    assert (event.action, event.object) == (Action.QUERY_DML, "public.t")


def test_malformed_pgaudit_is_a_failure_and_parsing_goes_on() -> None:
    """GIVEN a pgaudit entry with an unterminated quote WHEN parsed THEN it is a ParseFailure with the
    raw entry, and the next entry is still an event."""
    bad = audit(807, 'SESSION,1,1,READ,SELECT,,,"select 1,<none>')
    results = parse(bad, log(807, "LOG", "statement: select 2"))
    assert results[0] == ParseFailure(
        "postgres", "malformed pgaudit record: unterminated quoted field", bad, "postgresql.log:1"
    )
    assert summary(results[1])[0:2] == (Action.QUERY, "postgresql.log:2")
