"""The demo's attack, written as the databases would log it (layouts of FORMATS 1.3, 3.2–3.4, 4.3).

An attacker guesses the Aurora MySQL master password from one address, gets in, drops a table,
creates a user with a password, grants it everything and tries to turn auditing off; on Aurora
PostgreSQL the same story runs through `log_statement`, pgaudit and `FATAL: password authentication
failed` lines; the Aurora PostgreSQL cluster's Database Activity Stream sees another user drop a
table and raise a role. Times are relative to `start`, so the logs look fresh to CloudWatch.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

REGION: Final = "eu-west-1"
MYSQL_CLUSTER: Final = "demo-aurora-mysql"
MYSQL_INSTANCE: Final = "demo-aurora-mysql-instance-1"
MYSQL_LOG_GROUP: Final = f"/aws/rds/cluster/{MYSQL_CLUSTER}/audit"
PG_CLUSTER: Final = "demo-aurora-pg"
PG_INSTANCE: Final = "demo-aurora-pg-instance-1"
PG_LOG_GROUP: Final = f"/aws/rds/cluster/{PG_CLUSTER}/postgresql"
# The Aurora PostgreSQL cluster's resource id (what the DAS stream is named after and KMS binds to).
PG_CLUSTER_RESOURCE_ID: Final = "cluster-DEMOAPG4HNY5V4RRNPKKYB7IC"
PG_INSTANCE_RESOURCE_ID: Final = "db-DEMOAPGFZJTMYKCXQBUUZ6VLU7N"
DAS_STREAM: Final = f"aws-rds-das-{PG_CLUSTER_RESOURCE_ID}"

ATTACKER: Final = "203.0.113.7"
PG_ATTACKER: Final = "198.51.100.23"
MYSQL_FAILURES: Final = 8
PG_FAILURES: Final = 6
# Every password the scenario's statements carry: none may appear in anything the demo prints.
MYSQL_NEW_USER_PASSWORD: Final = "Tr0ub4dor&3-demo"  # noqa: S105 - a scenario value the tests look for
PG_ROLE_PASSWORD: Final = "pg-Demo-Secret-42"  # noqa: S105
DAS_ROLE_PASSWORD: Final = "das-Demo-Secret-77"  # noqa: S105
SCENARIO_PASSWORDS: Final = (MYSQL_NEW_USER_PASSWORD, PG_ROLE_PASSWORD, DAS_ROLE_PASSWORD)


@dataclass(frozen=True, slots=True)
class LogLine:
    """One line a database wrote: when CloudWatch got it and its text."""

    time: datetime
    message: str


def _mysql_quoted(statement: str) -> str:
    """The object field of a QUERY line: single-quoted, `\\` and `'` backslash-escaped (FORMATS 1.5)."""
    return "'" + statement.replace("\\", "\\\\").replace("'", "\\'") + "'"


@dataclass(frozen=True, slots=True)
class _MysqlConnection:
    """One client connection to the Aurora MySQL instance, as its audit lines name it."""

    user: str
    host: str
    connection: int

    def line(
        self, time: datetime, operation: str, *, query: int = 0, db: str = "", obj: str = "", ret: str = "0"
    ) -> LogLine:
        """An advanced-auditing line: µs epoch, instance, user, host, ids, op, db, object, retcode."""
        micros = int(time.timestamp()) * 1_000_000 + time.microsecond
        fields = (str(micros), MYSQL_INSTANCE, self.user, self.host, str(self.connection), str(query))
        return LogLine(time, ",".join((*fields, operation, db, obj, ret)))


def aurora_mysql_lines(start: datetime) -> list[LogLine]:
    """The Aurora MySQL audit log of the attack, in time order."""
    lines: list[LogLine] = []
    at = start
    for attempt in range(MYSQL_FAILURES):
        client = _MysqlConnection("admin", ATTACKER, 4100 + attempt)
        lines.append(client.line(at, "FAILED_CONNECT", ret="1045"))
        # Aurora follows every failed login with a DISCONNECT (retcode 0) of the same connection.
        lines.append(client.line(at + timedelta(microseconds=19), "DISCONNECT"))
        at += timedelta(seconds=3)
    client = _MysqlConnection("admin", ATTACKER, 4100 + MYSQL_FAILURES)
    lines.append(client.line(at, "CONNECT"))
    statements = (
        ("shop", "DROP TABLE orders", "0"),
        ("mysql", f"CREATE USER 'backup_svc'@'%' IDENTIFIED BY '{MYSQL_NEW_USER_PASSWORD}'", "0"),
        ("mysql", "GRANT ALL PRIVILEGES ON *.* TO 'backup_svc'@'%' WITH GRANT OPTION", "0"),
        # Aurora's master user has no SUPER: the attempt fails (1227) but is audited.
        ("mysql", "SET GLOBAL server_audit_logging=OFF", "1227"),
    )
    for index, (db, statement, retcode) in enumerate(statements):
        at += timedelta(seconds=2)
        query = 981_000 + index
        if statement.startswith("DROP TABLE"):  # with TABLE events on, the dropped table has its own line
            lines.append(client.line(at, "DROP", query=query, db=db, obj="orders", ret=""))
        lines.append(client.line(at, "QUERY", query=query, db=db, obj=_mysql_quoted(statement), ret=retcode))
    return lines


@dataclass(frozen=True, slots=True)
class _PgSession:
    """One PostgreSQL backend, as the default RDS prefix `%t:%r:%u@%d:[%p]:` names it."""

    remote: str
    user: str
    db: str
    pid: int

    def line(self, time: datetime, severity: str, text: str) -> LogLine:
        """A log line: prefix, level, two spaces (as PostgreSQL writes them), message."""
        stamp = time.strftime("%Y-%m-%d %H:%M:%S UTC")
        return LogLine(time, f"{stamp}:{self.remote}:{self.user}@{self.db}:[{self.pid}]:{severity}:  {text}")


_PG_HBA_DETAIL = 'Connection matched pg_hba.conf line 14: "host all all 0.0.0.0/0 md5"'
_PG_TLS = "SSL enabled (protocol=TLSv1.3, cipher=TLS_AES_256_GCM_SHA384, bits=256)"
# (pgaudit class, command, object type, object name, statement, what pgaudit writes when it redacts)
_PG_STATEMENTS = (
    # log_statement writes the password in clear text; pgaudit redacts it (FORMATS 3.4).
    (
        "ROLE",
        "CREATE ROLE",
        "",
        "",
        f"CREATE ROLE reporter WITH LOGIN PASSWORD '{PG_ROLE_PASSWORD}'",
        "CREATE ROLE reporter WITH LOGIN PASSWORD <REDACTED>",
    ),
    ("DDL", "DROP TABLE", "TABLE", "public.invoices", "DROP TABLE invoices", ""),
    ("ROLE", "GRANT", "", "", "GRANT rds_superuser TO reporter", ""),
    ("ROLE", "ALTER ROLE", "", "", "ALTER ROLE app_ro SET pgaudit.log TO 'none'", ""),
)


def aurora_postgres_lines(start: datetime) -> list[LogLine]:
    """The Aurora PostgreSQL log (log_connections, log_statement=ddl, pgaudit.log=ddl,role) of the attack."""
    lines: list[LogLine] = []
    at = start + timedelta(seconds=1)
    for attempt in range(PG_FAILURES + 1):
        port = 50110 + attempt
        unknown = _PgSession(f"{PG_ATTACKER}({port})", "[unknown]", "[unknown]", 21400 + attempt)
        session = _PgSession(unknown.remote, "app_ro", "shop", unknown.pid)
        lines.append(unknown.line(at, "LOG", f"connection received: host={PG_ATTACKER} port={port}"))
        if attempt == PG_FAILURES:
            lines.append(
                session.line(at, "LOG", f"connection authorized: user=app_ro database=shop {_PG_TLS}")
            )
            break
        lines.append(session.line(at, "FATAL", 'password authentication failed for user "app_ro"'))
        lines.append(session.line(at, "DETAIL", _PG_HBA_DETAIL))
        at += timedelta(seconds=4)
    for number, (klass, command, object_type, object_name, statement, redacted) in enumerate(
        _PG_STATEMENTS, 1
    ):
        at += timedelta(seconds=2)
        lines.append(session.line(at, "LOG", f"statement: {statement}"))
        fields = (
            klass,
            command,
            object_type,
            object_name,
            _pgaudit_csv(redacted or statement),
            "<not logged>",
        )
        lines.append(session.line(at, "LOG", f"AUDIT: SESSION,{number},1," + ",".join(fields)))
    return lines


def _pgaudit_csv(value: str) -> str:
    """A pgaudit CSV field: double-quoted (inner quotes doubled) iff it holds , \" or a line break."""
    if any(character in value for character in ',"\n\r'):
        return '"' + value.replace('"', '""') + '"'
    return value


def _das_event(at: datetime, statement_id: int, **fields: Any) -> dict[str, Any]:
    """An Aurora PostgreSQL activity event (version 1.1 fields, FORMATS 4.3) from the ETL host."""
    stamp = at.strftime("%Y-%m-%d %H:%M:%S.%f+00")
    event: dict[str, Any] = {
        "startTime": stamp,
        "logTime": stamp,
        "statementId": statement_id,
        "substatementId": 1,
        "objectType": None,
        "command": "CONNECT",
        "objectName": None,
        "databaseName": "finance",
        "dbUserName": "etl_svc",
        "remoteHost": "10.0.8.21",
        "remotePort": "41822",
        "sessionId": "6750a1f2.5a3c",
        "rowCount": None,
        "commandText": None,
        "paramList": [],
        "pid": 23100,
        "clientApplication": "psql",
        "exitCode": None,
        "class": "MISC",
        "serverVersion": "15.4",
        "serverType": "PostgreSQL",
        "serviceName": "Amazon Aurora PostgreSQL-Compatible edition",
        "serverHost": "10.0.2.15",
        "netProtocol": "TCP",
        "dbProtocol": "Postgres 3.0",
        "type": "record",
        "errorMessage": None,
    }
    event.update(fields)
    return event


def activity_stream_record(start: datetime) -> dict[str, Any]:
    """The decrypted DatabaseActivityMonitoringRecord the Aurora PostgreSQL cluster's stream carries."""
    at = start + timedelta(seconds=30)
    events = [
        _das_event(at, 1),
        _das_event(
            at + timedelta(seconds=1),
            2,
            command="DROP TABLE",
            commandText="DROP TABLE payroll_archive;",
            objectType="TABLE",
            objectName="public.payroll_archive",
            exitCode=0,
            **{"class": "DDL"},
        ),
        _das_event(
            at + timedelta(seconds=2),
            3,
            command="ALTER ROLE",
            commandText=f"ALTER ROLE etl_svc WITH SUPERUSER PASSWORD '{DAS_ROLE_PASSWORD}';",
            exitCode=0,
            **{"class": "ROLE"},
        ),
        {"type": "heartbeat"},
    ]
    return {
        "type": "DatabaseActivityMonitoringRecord",
        "clusterId": PG_CLUSTER_RESOURCE_ID,
        "instanceId": PG_INSTANCE_RESOURCE_ID,
        "databaseActivityEventList": events,
    }


@dataclass(frozen=True, slots=True)
class Step:
    """One act of the scenario: lines one database writes to a log group, or one activity-stream record."""

    title: str
    log_group: str = ""
    log_stream: str = ""
    lines: tuple[LogLine, ...] = ()
    activity_record: dict[str, Any] | None = None


def scenario_steps(start: datetime) -> list[Step]:
    """The attack in the order the databases see it."""
    mysql = aurora_mysql_lines(start)
    mysql_cut = 2 * MYSQL_FAILURES  # FAILED_CONNECT + DISCONNECT per attempt
    pg = aurora_postgres_lines(start)
    pg_cut = 3 * PG_FAILURES  # connection received + FATAL + DETAIL per attempt
    return [
        Step(
            f"Aurora MySQL: {MYSQL_FAILURES} failed logins for admin from {ATTACKER}",
            MYSQL_LOG_GROUP,
            MYSQL_INSTANCE,
            tuple(mysql[:mysql_cut]),
        ),
        Step(
            "Aurora MySQL: admin gets in, drops a table, creates a user with a password, grants it "
            "everything, tries to turn auditing off",
            MYSQL_LOG_GROUP,
            MYSQL_INSTANCE,
            tuple(mysql[mysql_cut:]),
        ),
        Step(
            f"Aurora PostgreSQL: {PG_FAILURES} failed logins for app_ro from {PG_ATTACKER}",
            PG_LOG_GROUP,
            PG_INSTANCE,
            tuple(pg[:pg_cut]),
        ),
        Step(
            "Aurora PostgreSQL: app_ro gets in, creates a role with a password, drops a table, grants "
            "rds_superuser, turns pgaudit off for itself",
            PG_LOG_GROUP,
            PG_INSTANCE,
            tuple(pg[pg_cut:]),
        ),
        Step(
            "Aurora PostgreSQL activity stream: etl_svc drops payroll_archive and makes itself superuser",
            activity_record=activity_stream_record(start),
        ),
    ]
