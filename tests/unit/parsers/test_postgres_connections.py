"""PostgreSQL connections and failed logins: held CONNECTs, FATAL messages, DETAIL lines (FORMATS 3.3, 8)."""

from __future__ import annotations

import pytest

from parsers.event import Action, AuditEvent, Source
from tests.unit.parsers.postgres_lines import WHEN, event_of, log, long_prefix, parse, summary

# --- connections and failed logins (FORMATS 3.3 and 8) -----------------------------------------------

PASSWORD_FAILED = 'password authentication failed for user "bob"'


def test_failed_password_with_detail_is_one_failed_connect() -> None:
    """GIVEN a password FATAL followed by its DETAIL WHEN parsed THEN one FAILED_CONNECT carries both."""
    detail = 'Connection matched pg_hba.conf line 5: "host all all 0.0.0.0/0 md5"'
    fatal, detail_line = (
        log(100, "FATAL", PASSWORD_FAILED, user="bob"),
        log(100, "DETAIL", detail, user="bob"),
    )
    assert parse(fatal, detail_line) == [
        AuditEvent(
            source=Source.POSTGRES,
            time=WHEN,
            action=Action.FAILED_CONNECT,
            engine="postgres",
            cluster="db1",
            user="bob",
            client_host="10.0.0.5",
            client_port="40000",
            session_id="100",
            command="password",
            database="app",
            status="28P01",
            error_message=f"{PASSWORD_FAILED} | {detail}",
            log_group="/aws/rds/instance/db1/postgresql",
            log_stream="db1",
            location="postgresql.log:1",
            raw=f"{fatal}\n{detail_line}",
        )
    ]


def test_unknown_role_differs_only_in_detail() -> None:
    """GIVEN the password FATAL for a role that does not exist WHEN parsed THEN the DETAIL tells it."""
    event = event_of(log(100, "FATAL", PASSWORD_FAILED), log(100, "DETAIL", 'Role "bob" does not exist.'))
    assert event.error_message == f'{PASSWORD_FAILED} | Role "bob" does not exist.'


def test_sslmode_prefer_gives_two_fatals_from_two_pids() -> None:
    """GIVEN one libpq attempt with sslmode=prefer WHEN parsed THEN both FATALs are events, told apart
    by command (dedup is downstream)."""
    hba = 'no pg_hba.conf entry for host "10.0.0.5", user "bob", database "app", no encryption'
    results = parse(
        log(
            100,
            "LOG",
            "connection received: host=10.0.0.5 port=40000",
            user="[unknown]",
            database="[unknown]",
        ),
        log(100, "FATAL", PASSWORD_FAILED, user="bob"),
        log(100, "DETAIL", "Connection matched pg_hba.conf line 5"),
        log(
            101,
            "LOG",
            "connection received: host=10.0.0.5 port=40001",
            user="[unknown]",
            database="[unknown]",
        ),
        log(101, "FATAL", hba, user="bob"),
    )
    assert [summary(r) for r in results] == [
        (Action.FAILED_CONNECT, "postgresql.log:2", "100", "bob", "app", "password", "28P01",
         f"{PASSWORD_FAILED} | Connection matched pg_hba.conf line 5", None),
        (Action.FAILED_CONNECT, "postgresql.log:5", "101", "bob", "app", "pg_hba", "28000", hba, None),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("fatal", "command", "status"),
    [
        ('database "nope" does not exist', "database", "3D000"),
        ('role "bob" is not permitted to log in', "role", "28000"),
        ("terminating connection due to administrator command", "", "FATAL"),  # pinned: any FATAL counts
    ],
)
def test_authorized_then_fatal_is_one_failed_connect(fatal: str, command: str, status: str) -> None:
    """GIVEN `connection authorized` then a FATAL for the same pid WHEN parsed THEN the held CONNECT
    becomes a FAILED_CONNECT (time and location of the authorized line) and no CONNECT is emitted."""
    authorized = log(200, "LOG", "connection authorized: user=bob database=nope", user="bob", database="nope")
    results = parse(
        log(
            200,
            "LOG",
            "connection received: host=10.0.0.5 port=40000",
            user="[unknown]",
            database="[unknown]",
        ),
        authorized,
        log(200, "FATAL", fatal, user="bob", database="nope"),
    )
    assert [summary(r) for r in results] == [
        (Action.FAILED_CONNECT, "postgresql.log:2", "200", "bob", "nope", command, status, fatal, None)
    ]
    assert results[0].raw == authorized + "\n" + log(200, "FATAL", fatal, user="bob", database="nope")


def test_authorized_then_fatal_uses_the_long_prefix_sqlstate() -> None:
    """GIVEN the long prefix WHEN an authorized connection is then terminated THEN %e is the status."""
    results = parse(
        long_prefix(200, "00000", user="bob") + "LOG:  connection authorized: user=bob database=app",
        long_prefix(200, "57P01", user="bob") + "FATAL:  terminating connection due to administrator command",
    )
    assert [(r.action, r.status) for r in results if isinstance(r, AuditEvent)] == [
        (Action.FAILED_CONNECT, "57P01")
    ]


def test_authorized_then_statement_emits_connect_first() -> None:
    """GIVEN `connection authorized` then a statement WHEN parsed THEN CONNECT comes before the QUERY."""
    results = parse(
        log(300, "LOG", "connection authorized: user=bob database=app application_name=psql SSL enabled "
                        "(protocol=TLSv1.3, cipher=TLS_AES_256_GCM_SHA384, bits=256)"),
        log(300, "LOG", "statement: select 1"),
    )  # fmt: skip
    assert [summary(r) for r in results] == [
        (Action.CONNECT, "postgresql.log:1", "300", "bob", "app", "", "", "", None),
        (Action.QUERY, "postgresql.log:2", "300", "alice", "app", "", "", "", "select 1"),
    ]


def test_held_connects_are_flushed_at_the_end_in_input_order() -> None:
    """GIVEN two authorized connections with no later entry and another pid's statement WHEN parsed THEN
    the statement comes first, then both CONNECTs in input order."""
    results = parse(
        log(301, "LOG", "connection authorized: user=bob database=app"),
        log(
            302,
            "LOG",
            "replication connection authorized: user=rep application_name=walreceiver",
            database="",
        ),
        log(303, "LOG", "statement: select 1"),
    )
    assert [(r.action, r.session_id, r.user, r.database) for r in results if isinstance(r, AuditEvent)] == [
        (Action.QUERY, "303", "alice", "app"),
        (Action.CONNECT, "301", "bob", "app"),
        (Action.CONNECT, "302", "rep", ""),
    ]


def test_connection_received_only_gives_nothing() -> None:
    """GIVEN a client that gave up before sending a password WHEN parsed THEN there is no event."""
    assert parse(log(400, "LOG", "connection received: host=10.0.0.5 port=40000", user="", database="")) == []


def test_disconnection() -> None:
    """GIVEN a disconnection line WHEN parsed THEN a DISCONNECT names user, database, host and port."""
    event = event_of(
        log(500, "LOG", "disconnection: session time: 0:00:05.123 user=bob database=db2 host=10.0.0.9 port=5")
    )
    assert (event.action, event.user, event.database, event.client_host, event.client_port) == (
        Action.DISCONNECT,
        "bob",
        "db2",
        "10.0.0.9",
        "5",
    )


UNAUTHENTICATED = {"user": "[unknown]", "database": "[unknown]"}


@pytest.mark.parametrize(
    ("fatal", "command", "status", "user", "database"),
    [
        (PASSWORD_FAILED, "password", "28P01", "bob", ""),
        ('no pg_hba.conf entry for host "10.0.0.5", user "bob", database "app", SSL off', "pg_hba", "28000",
         "bob", "app"),
        ('no pg_hba.conf entry for replication connection from host "10.0.0.5", user "rep", no encryption',
         "pg_hba", "28000", "rep", ""),
        ('pg_hba.conf rejects connection for host "10.0.0.5", user "bob", database "app", no encryption',
         "pg_hba", "28000", "bob", "app"),
        ('PAM authentication failed for user "iam_user"', "pam", "28000", "iam_user", ""),
        ('Ident authentication failed for user "bob"', "ident", "28000", "bob", ""),
        ('authentication failed for user "bob": host rejected', "authentication", "28000", "bob", ""),
        ('role "ghost" does not exist', "role", "28000", "ghost", ""),
        ('role "bob" is not permitted to log in', "role", "28000", "bob", ""),
        ('database "nope" does not exist', "database", "3D000", "", "nope"),
        ('permission denied for database "app"', "database", "42501", "", "app"),
        ('database "template0" is not currently accepting connections', "database", "55000", "", "template0"),
        ('too many connections for role "bob"', "too_many_connections", "53300", "bob", ""),
        ("sorry, too many clients already", "too_many_connections", "53300", "", ""),
        ("remaining connection slots are reserved for non-replication superuser connections",
         "too_many_connections", "53300", "", ""),
    ],
)  # fmt: skip
def test_connection_failure_fatals_without_log_connections(
    fatal: str, command: str, status: str, user: str, database: str
) -> None:
    """GIVEN a connection-setup FATAL with an unauthenticated prefix WHEN parsed THEN it is a
    FAILED_CONNECT with user/database from the message (pinned list of messages)."""
    event = event_of(log(600, "FATAL", fatal, **UNAUTHENTICATED))
    assert summary(event) == (
        Action.FAILED_CONNECT, "postgresql.log:1", "600", user, database, command, status, fatal, None
    )  # fmt: skip


def test_other_fatal_alone_gives_nothing() -> None:
    """GIVEN a FATAL that is no connection failure and no held CONNECT WHEN parsed THEN no event."""
    assert parse(log(601, "FATAL", "terminating connection due to administrator command")) == []
