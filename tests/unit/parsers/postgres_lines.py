"""Builders for PostgreSQL server-log lines (RDS prefix) and the parse helpers the postgres tests share."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from parsers.event import AuditEvent, ParseResult
from parsers.postgres import parse_postgres
from parsers.records import Origin, RawRecord

ORIGIN = Origin(log_group="/aws/rds/instance/db1/postgresql", log_stream="db1", cluster="db1")
TS = "2024-05-01 12:00:00 UTC"
WHEN = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def log(
    pid: int,
    severity: str,
    message: str,
    *,
    user: str = "alice",
    database: str = "app",
    remote: str = "10.0.0.5(40000)",
    ts: str = TS,
) -> str:
    """One entry as the server writes it: RDS prefix, severity, two spaces, a TAB after each newline."""
    return f"{ts}:{remote}:{user}@{database}:[{pid}]:{severity}:  " + message.replace("\n", "\n\t")


def parse(*entries: str, origin: Origin = ORIGIN) -> list[ParseResult]:
    """Parse entries delivered one physical line per record, located as postgresql.log:<line>."""
    lines = "\n".join(entries).split("\n")
    return list(
        parse_postgres([RawRecord(text, f"postgresql.log:{n}") for n, text in enumerate(lines, 1)], origin)
    )


def event_of(*entries: str) -> AuditEvent:
    """The single event the entries produce."""
    [result] = parse(*entries)
    assert isinstance(result, AuditEvent)
    return result


def summary(result: ParseResult) -> tuple[Any, ...]:
    """The fields that tell events apart in a scenario: action, location, pid, user, db, command, status,
    error message, statement."""
    assert isinstance(result, AuditEvent)
    return (
        result.action,
        result.location,
        result.session_id,
        result.user,
        result.database,
        result.command,
        result.status,
        result.error_message,
        result.statement,
    )


def long_prefix(pid: int, sqlstate: str, application: str = "psql", user: str = "alice") -> str:
    """The v16 long prefix %m:%r:%u@%d:[%p]:%l:%e:%s:%v:%x:%c:%q%a (%a is glued to the severity)."""
    return (
        f"2024-05-01 12:00:00.250 UTC:10.0.0.5(40000):{user}@app:[{pid}]:3:{sqlstate}:"
        f"2024-05-01 11:59:58 UTC:3/17:0:6632300e.1092:{application}"
    )
