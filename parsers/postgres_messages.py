"""What a PostgreSQL log message says: connections, failed logins, logged statements, pgaudit payloads."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ConnectionFailure:
    """A FATAL message that ends a connection attempt, with what it names."""

    command: str  # password, pg_hba, role, database, too_many_connections, or the auth method (pam, ldap…)
    sqlstate: str  # the SQLSTATE PostgreSQL reports with it (default stderr lines carry none)
    user: str = ""
    database: str = ""
    host: str = ""


@dataclass(frozen=True, slots=True)
class Session:
    """User/database (and for disconnections host/port) named by a connection message."""

    user: str
    database: str
    host: str = ""
    port: str = ""


# Names are printed unescaped: take the widest quoted span where one name is alone in the message.
_USER = r'"(?P<user>.*)"'
_DATABASE = r'"(?P<database>.*)"'
_HBA_TAIL = r'host "(?P<host>[^"]*)", user "(?P<user>[^"]*)"(?:, database "(?P<database>[^"]*)")?'

# FATAL messages of failed connection attempts (PostgreSQL src/backend/libpq/auth.c, utils/init/
# postinit.c, storage/lmgr/proc.c), in match order, with their SQLSTATE and our `command`.
_TOO_MANY = "too_many_connections"
_CONNECTION_FAILURES: tuple[tuple[re.Pattern[str], str, str], ...] = tuple(
    (re.compile(pattern), sqlstate, command)
    for pattern, sqlstate, command in (
        (rf"password authentication failed for user {_USER}", "28P01", "password"),
        (rf"no pg_hba\.conf entry for (?:replication connection from )?{_HBA_TAIL}", "28000", "pg_hba"),
        (rf"pg_hba\.conf rejects (?:replication )?connection for {_HBA_TAIL}", "28000", "pg_hba"),
        # Ident, Peer, GSSAPI, SSPI, PAM (RDS IAM auth), BSD, LDAP, certificate, RADIUS; none = trust/reject.
        (rf"(?:(?P<method>\w+) )?authentication failed for user {_USER}", "28000", ""),
        (rf"role {_USER} (?:does not exist|is not permitted to log in)", "28000", "role"),
        (rf"database {_DATABASE} does not exist", "3D000", "database"),
        (rf"permission denied for database {_DATABASE}", "42501", "database"),
        (rf"database {_DATABASE} is not currently accepting connections", "55000", "database"),
        (rf"too many connections for (?:role {_USER}|database {_DATABASE})", "53300", _TOO_MANY),
        (r"sorry, too many clients already|remaining connection slots are reserved", "53300", _TOO_MANY),
    )
)

# "connection authorized: user=%s database=%s application_name=%s SSL enabled (…)" (postinit.c); the
# replication form has no database.
_AUTHORIZED = re.compile(
    r"(?:replication )?connection authorized: user=(?P<user>.*?)(?: database=(?P<database>.*?))?"
    r"(?= application_name=| SSL enabled| GSS \(|$)",
    re.DOTALL,
)
# "disconnection: session time: %d:%02d:%02d.%03d user=%s database=%s host=%s[ port=%s]" (postgres.c)
_DISCONNECTION = re.compile(
    r"disconnection: session time: \S+ user=(?P<user>.*?) database=(?P<database>.*?)"
    r" host=(?P<host>.*?)(?: port=(?P<port>\S*))?",
    re.DOTALL,
)
# log_statement, log_min_duration_statement and the extended protocol's execute step (postgres.c).
# "parse"/"bind" steps are not statements that ran, so they give no event.
_STATEMENT = re.compile(
    r"(?:duration: \S+ ms\s+)?(?:statement|execute (?:fetch from )?[^:\n]*): (?P<sql>.*)",
    re.DOTALL,
)
_AUDIT = re.compile(r"AUDIT:\s")
# The few ERROR texts whose SQLSTATE matters to alerting (insufficient_privilege); others stay unknown.
_INSUFFICIENT_PRIVILEGE = re.compile(
    r"permission denied\b|must be (?:owner of|superuser|a superuser|member of)"
)


def connection_failure(message: str) -> ConnectionFailure | None:
    """The failed connection a FATAL message reports, or None for any other FATAL."""
    for pattern, sqlstate, command in _CONNECTION_FAILURES:
        match = pattern.match(message)
        if match is not None:
            groups = match.groupdict()
            method = groups.get("method")
            return ConnectionFailure(
                command=command or (method.lower() if method else "authentication"),
                sqlstate=sqlstate,
                user=groups.get("user") or "",
                database=groups.get("database") or "",
                host=groups.get("host") or "",
            )
    return None


def connection_authorized(message: str) -> Session | None:
    """User and database of a `connection authorized` message, or None."""
    match = _AUTHORIZED.match(message)
    if match is None:
        return None
    return Session(match["user"], match["database"] or "")


def disconnection(message: str) -> Session | None:
    """User, database, host and port of a `disconnection` message, or None."""
    match = _DISCONNECTION.fullmatch(message)
    if match is None:
        return None
    return Session(match["user"], match["database"], match["host"], match["port"] or "")


def logged_statement(message: str) -> str | None:
    """The SQL of a `statement:`, `execute <name>:` or `duration: … statement:` message, or None."""
    match = _STATEMENT.match(message)
    return None if match is None else match["sql"]


def audit_payload(message: str) -> str | None:
    """The CSV after `AUDIT:` of a pgaudit message, or None when the message is not one."""
    match = _AUDIT.match(message)
    return None if match is None else message[match.end() :]


def error_sqlstate(message: str) -> str:
    """The SQLSTATE an ERROR text implies when the prefix has no %e; "" when not recognised."""
    return "42501" if _INSUFFICIENT_PRIVILEGE.match(message) else ""
