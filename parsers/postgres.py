"""RDS/Aurora PostgreSQL stderr log (with pgaudit) → AuditEvent: connections, failed logins, statements."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from parsers.event import Action, AuditEvent, ParseFailure, ParseResult, Source
from parsers.pgaudit import NOT_LOGGED, PREVIOUSLY_LOGGED, PgAuditFormatError, PgAuditRecord, parse_pgaudit
from parsers.postgres_entries import SOURCE, LogEntry, group_entries
from parsers.postgres_messages import (
    audit_payload,
    connection_authorized,
    connection_failure,
    disconnection,
    error_sqlstate,
    logged_statement,
)
from parsers.postgres_prefix import SUCCESS_SQLSTATE, match_prefix
from parsers.records import Origin, RawRecord

AURORA_LOG_GROUP_PREFIX = "/aws/rds/cluster/"
# Lines elog.c writes right after their ERROR/FATAL line, in the same write; never events themselves.
AUXILIARY_SEVERITIES = frozenset({"DETAIL", "HINT", "CONTEXT", "STATEMENT", "QUERY", "LOCATION"})
# pgaudit writes at LOG unless pgaudit.log_level (with log_client) says otherwise.
AUDIT_SEVERITIES = frozenset(
    {"LOG", "INFO", "NOTICE", "WARNING", "DEBUG1", "DEBUG2", "DEBUG3", "DEBUG4", "DEBUG5"}
)
AUDIT_CLASS_ACTIONS = {
    "DDL": Action.QUERY_DDL,
    "ROLE": Action.QUERY_DCL,
    "READ": Action.QUERY_DML,
    "WRITE": Action.QUERY_DML,
}  # FUNCTION, MISC, MISC_SET and unknown classes → QUERY
DETAIL_SEPARATOR = " | "
_NO_ORIGIN = Origin()


def looks_like_postgres(line: str) -> bool:
    """Whether one physical line starts with a PostgreSQL log-line prefix we read."""
    return match_prefix(line) is not None


def parse_postgres(records: Iterable[RawRecord], origin: Origin = _NO_ORIGIN) -> Iterator[ParseResult]:
    """Parse PostgreSQL log records (file lines or CloudWatch messages) into events and failures.

    Some events wait for a later entry to decide them (a CONNECT for its pid's next entry, an ERROR or
    FATAL for the DETAIL/STATEMENT lines written right after it), so output order can lag input order;
    those still waiting at the end of input come last, in input order.
    """
    reader = _EntryReader(origin)
    for item in group_entries(records):
        if isinstance(item, ParseFailure):
            yield item
        else:
            yield from reader.read(item)
    yield from reader.finish()


@dataclass(slots=True)
class _OpenReport:
    """An ERROR or FATAL waiting for the DETAIL/STATEMENT lines written with it."""

    sequence: int
    pid: str
    event: AuditEvent  # FAILED_CONNECT for a FATAL, QUERY (no statement yet) for an ERROR
    is_error: bool
    details: list[str] = field(default_factory=list)
    raw_lines: list[str] = field(default_factory=list)
    statement: str | None = None

    def attach(self, entry: LogEntry) -> None:
        """Take in an auxiliary entry of the same pid."""
        self.raw_lines.append(entry.raw)
        if entry.prefix.severity == "DETAIL":
            self.details.append(entry.message)
        elif entry.prefix.severity == "STATEMENT" and self.statement is None:
            self.statement = entry.message

    def result(self, *, cut: bool = False) -> AuditEvent | None:
        """The event this report makes: an ERROR makes one only with its STATEMENT, unless `cut`.

        elog writes an ERROR and its STATEMENT in one go, so a later entry means none is coming; but
        the end of a CloudWatch payload can fall between them (`cut`): the ERROR then still fails the
        pid's execution (correlation joins it to its `statement:` line) and the text follows as the
        next payload's leading STATEMENT.
        """
        raw = "\n".join([self.event.raw, *self.raw_lines])
        if self.is_error:
            if self.statement is None and not cut:
                return None
            return replace(self.event, statement=self.statement, raw=raw)
        message = DETAIL_SEPARATOR.join([self.event.error_message, *self.details])
        return replace(self.event, error_message=message, raw=raw)


class _EntryReader:
    """Turns log entries into events, tracking per-pid connection state and pgaudit statements."""

    def __init__(self, origin: Origin) -> None:
        """Start with no pending connections and no open report."""
        self._origin = origin
        self._engine = (
            "aurora-postgresql" if origin.log_group.startswith(AURORA_LOG_GROUP_PREFIX) else "postgres"
        )
        self._sequence = 0
        self._pending_connects: dict[str, tuple[int, AuditEvent]] = {}
        self._open: _OpenReport | None = None
        self._leading: str | None = (
            ""  # pid of the auxiliary lines opening the batch ("": none yet; None: over)
        )
        self._audit_statements: dict[str, tuple[int, str]] = {}  # pid → (statement id, statement text)

    def read(self, entry: LogEntry) -> list[ParseResult]:
        """The results an entry completes (possibly none, possibly earlier held events)."""
        self._sequence += 1
        prefix = entry.prefix
        if (
            self._open is not None
            and self._open.pid == prefix.pid
            and prefix.severity in AUXILIARY_SEVERITIES
        ):
            self._open.attach(entry)
            return []
        if (lone := self._leading_statement(entry)) is not None:
            return [lone]
        results = self._close_open()
        pending = self._pending_connects.pop(prefix.pid, None)
        if pending is not None:
            if prefix.severity == "FATAL":
                self._open = self._failed_connect_report(pending, entry)
                return results
            results.append(pending[1])
        results.extend(self._dispatch(entry))
        return results

    def finish(self) -> list[ParseResult]:
        """The held events at the end of input, in input order."""
        held: list[tuple[int, AuditEvent]] = list(self._pending_connects.values())
        if self._open is not None:
            report = self._open.result(cut=True)
            if report is not None:
                held.append((self._open.sequence, report))
        self._open = None
        self._pending_connects.clear()
        return [event for _, event in sorted(held, key=lambda item: item[0])]

    def _leading_statement(self, entry: LogEntry) -> AuditEvent | None:
        """A STATEMENT among the auxiliary lines opening the batch: its ERROR ended the previous payload.

        The statement failed. Any other entry ends the opening lines; STATEMENT lines after that
        (log_statement_stats' QUERY STATISTICS has one) stay ignored.
        """
        prefix = entry.prefix
        if self._leading is None:
            return None
        if prefix.severity not in AUXILIARY_SEVERITIES or self._leading not in ("", prefix.pid):
            self._leading = None
            return None
        self._leading = prefix.pid
        if prefix.severity != "STATEMENT":
            return None
        self._leading = None
        return self._event(
            entry,
            Action.QUERY,
            statement=entry.message,
            status=_status(prefix.sqlstate, "") or "ERROR",
            error_message="failed: its ERROR line ended the previous log batch",
        )

    def _close_open(self) -> list[ParseResult]:
        """Emit the open report (if it makes an event) and forget it."""
        report, self._open = self._open, None
        event = None if report is None else report.result()
        return [] if event is None else [event]

    def _dispatch(self, entry: LogEntry) -> list[ParseResult]:
        """Events for an entry that is not held by an open report or a pending connection."""
        prefix, message = entry.prefix, entry.message
        severity = prefix.severity
        if severity == "FATAL":
            failure = connection_failure(message)
            if failure is not None:
                event = self._event(
                    entry,
                    Action.FAILED_CONNECT,
                    user=prefix.user or failure.user,
                    database=prefix.database or failure.database,
                    client_host=prefix.client_host or failure.host,
                    command=failure.command,
                    status=_status(prefix.sqlstate, failure.sqlstate),
                    error_message=message,
                )
                self._open = _OpenReport(self._sequence, prefix.pid, event, is_error=False)
            return []
        if severity == "ERROR":
            status = _status(prefix.sqlstate, error_sqlstate(message)) or "ERROR"
            event = self._event(entry, Action.QUERY, status=status, error_message=message)
            self._open = _OpenReport(self._sequence, prefix.pid, event, is_error=True)
            return []
        if severity in AUDIT_SEVERITIES and (payload := audit_payload(message)) is not None:
            return [self._audit_event(entry, payload)]
        if severity == "LOG":
            return self._log_event(entry)
        return []

    def _log_event(self, entry: LogEntry) -> list[ParseResult]:
        """Events of a LOG entry: connection authorized (held), disconnection, logged statement."""
        prefix, message = entry.prefix, entry.message
        if (session := connection_authorized(message)) is not None:
            event = self._event(
                entry,
                Action.CONNECT,
                user=session.user or prefix.user,
                database=session.database or prefix.database,
                status=_status(prefix.sqlstate, ""),
            )
            self._pending_connects[prefix.pid] = (self._sequence, event)
            return []
        if (session := disconnection(message)) is not None:
            return [
                self._event(
                    entry,
                    Action.DISCONNECT,
                    user=session.user or prefix.user,
                    database=session.database or prefix.database,
                    client_host=session.host or prefix.client_host,
                    client_port=session.port or prefix.client_port,
                    status=_status(prefix.sqlstate, ""),
                )
            ]
        if (statement := logged_statement(message)) is not None:
            return [
                self._event(entry, Action.QUERY, statement=statement, status=_status(prefix.sqlstate, ""))
            ]
        return []

    def _failed_connect_report(self, pending: tuple[int, AuditEvent], entry: LogEntry) -> _OpenReport:
        """A held CONNECT whose pid's next entry is a FATAL: the connection failed after all."""
        sequence, connect = pending
        failure = connection_failure(entry.message)
        event = replace(
            connect,
            action=Action.FAILED_CONNECT,
            command=failure.command if failure else "",
            status=_status(entry.prefix.sqlstate, failure.sqlstate if failure else "FATAL"),
            error_message=entry.message,
            raw="\n".join([connect.raw, entry.raw]),
        )
        return _OpenReport(sequence, entry.prefix.pid, event, is_error=False)

    def _audit_event(self, entry: LogEntry, payload: str) -> ParseResult:
        """The event of a pgaudit record, or a ParseFailure when its CSV is malformed."""
        try:
            record = parse_pgaudit(payload)
        except PgAuditFormatError as exc:
            return ParseFailure(SOURCE, f"malformed pgaudit record: {exc}", entry.raw, entry.location)
        return self._event(
            entry,
            AUDIT_CLASS_ACTIONS.get(record.audit_class, Action.QUERY),
            query_id=f"{record.statement_id}.{record.substatement_id}",
            command=record.command,
            object_type=record.object_type,
            object=record.object_name,
            statement=self._audit_statement(entry.prefix.pid, record),
            status=_status(entry.prefix.sqlstate, ""),
        )

    def _audit_statement(self, pid: str, record: PgAuditRecord) -> str | None:
        """The statement text, resolving `<previously logged>` from the pid's last logged statement."""
        if record.statement == PREVIOUSLY_LOGGED:
            known = self._audit_statements.get(pid)
            return known[1] if known is not None and known[0] == record.statement_id else None
        if record.statement in (NOT_LOGGED, ""):
            return None
        self._audit_statements[pid] = (record.statement_id, record.statement)
        return record.statement

    def _event(self, entry: LogEntry, action: Action, **fields: Any) -> AuditEvent:
        """An event with the entry's prefix, location and the batch origin; `fields` override."""
        prefix, origin = entry.prefix, self._origin
        values: dict[str, Any] = {
            "user": prefix.user,
            "database": prefix.database,
            "client_host": prefix.client_host,
            "client_port": prefix.client_port,
            **fields,
        }
        return AuditEvent(
            source=Source.POSTGRES,
            time=prefix.time,
            action=action,
            engine=self._engine,
            cluster=origin.cluster,
            session_id=prefix.pid,
            log_group=origin.log_group,
            log_stream=origin.log_stream,
            event_id=entry.event_id,
            location=entry.location,
            raw=entry.raw,
            **values,
        )


def _status(prefix_sqlstate: str, inferred: str) -> str:
    """The %e SQLSTATE when the prefix has one (success `00000` → ""), else what the message implies."""
    if prefix_sqlstate:
        return "" if prefix_sqlstate == SUCCESS_SQLSTATE else prefix_sqlstate
    return inferred
