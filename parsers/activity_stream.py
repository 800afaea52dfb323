"""Parse a decrypted Database Activity Stream record (`databaseActivityEventList`) into AuditEvents."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import NamedTuple

from parsers.activity_stream_fields import (
    AURORA_MYSQL,
    AURORA_POSTGRESQL,
    SQLSERVER,
    ActivityFieldError,
    engine_of,
    error_number_in,
    optional_text,
    parse_log_time,
    raw_json,
    sqlserver_status,
    text,
)
from parsers.cloudwatch_logs import json_type_name
from parsers.event import Action, AuditEvent, ParseFailure, ParseResult, Source

SOURCE_SLUG = Source.ACTIVITY_STREAM.value
DECRYPTED_RECORD_TYPE = "DatabaseActivityMonitoringRecord"
ENVELOPE_TYPE = "DatabaseActivityMonitoringRecords"
EVENT_LIST_KEY = "databaseActivityEventList"

# Connection verbs across engines: Aurora MySQL MAIN commands, Aurora PostgreSQL CONNECT/MISC commands
# and the iann0036 consumer's "AUTH FAILURE", RDS for Oracle LOGON/LOGOFF, RDS for SQL Server LOGIN class.
_CONNECT_COMMANDS = frozenset({"CONNECT", "LOGON", "LOGIN SUCCEEDED"})
_DISCONNECT_COMMANDS = frozenset({"DISCONNECT", "LOGOFF", "LOGOFF BY CLEANUP", "LOGOUT"})
_FAILED_CONNECT_COMMANDS = frozenset({"FAILED_CONNECT", "AUTH FAILURE", "LOGIN FAILED"})
_CHANGE_USER_COMMANDS = frozenset({"CHANGEUSER"})
_SESSION_COMMANDS = (
    _CONNECT_COMMANDS | _DISCONNECT_COMMANDS | _FAILED_CONNECT_COMMANDS | _CHANGE_USER_COMMANDS
)
_POSTGRES_CLASS_ACTIONS = {
    "DDL": Action.QUERY_DDL,
    "ROLE": Action.QUERY_DCL,
    "READ": Action.QUERY_DML,
    "WRITE": Action.QUERY_DML,
}


class Classified(NamedTuple):
    """What one event means once its engine's conventions are applied (a tuple: built per event, fast)."""

    action: Action
    statement: str | None
    status: str
    error_message: str


def parse_activity_stream_record(record: Mapping[str, object], location: str = "") -> Iterator[ParseResult]:
    """Yield one AuditEvent per activity event (heartbeats skipped) and a ParseFailure per bad item."""
    listed = activity_event_list(record, location)
    if isinstance(listed, ParseFailure):
        yield listed
        return
    events, cluster = listed
    for index, item in enumerate(events):
        result = parse_activity_event(item, cluster, f"{location}[{index}]")
        if result is not None:
            yield result


def activity_event_list(record: object, location: str) -> tuple[list[object], str] | ParseFailure:
    """A decrypted record's event list and cluster (the doc samples' nesting undone), or why it has none."""
    if not isinstance(record, Mapping):
        return _failure(
            f"activity-stream record is not an object (got {json_type_name(record)})", record, location
        )
    if record.get("type") == ENVELOPE_TYPE:
        inner = record.get("databaseActivityEvents")
        if not isinstance(inner, Mapping):
            return _failure(
                "activity-stream record is still encrypted (decrypt the envelope first)", record, location
            )
        # The AWS docs print Aurora PostgreSQL samples with the decrypted record nested in the envelope.
        record = inner
    events = record.get(EVENT_LIST_KEY)
    if not isinstance(events, list):
        return _failure(f"activity-stream record has no {EVENT_LIST_KEY} array", record, location)
    return events, text(record.get("clusterId")) or text(record.get("instanceId"))


def parse_activity_event(item: object, cluster: str, location: str) -> ParseResult | None:
    """One list item → AuditEvent, None for a heartbeat, or a ParseFailure (never raises)."""
    try:
        return _parse_event(item, cluster, location)
    except ActivityFieldError as exc:
        return _failure(str(exc), item, location)
    except Exception as exc:  # noqa: BLE001 — per-record isolation boundary: one item never stops the rest
        return _failure(f"unexpected {type(exc).__name__} while reading the activity event", item, location)


def _parse_event(item: object, cluster: str, location: str) -> AuditEvent | None:
    """One list item → AuditEvent; None for a heartbeat; ActivityFieldError when unusable."""
    if not isinstance(item, Mapping):
        raise ActivityFieldError(f"activity event is not an object (got {json_type_name(item)})")
    # Items without "type" (the RDS for Oracle samples) and unknown types are read as records.
    if text(item.get("type")).strip().lower() == "heartbeat":
        return None
    log_time = item.get("logTime")
    time = parse_log_time(log_time)
    engine = engine_of(item)
    pid = text(item.get("pid"))
    statement_id = text(item.get("statementId"))
    substatement_id = text(item.get("substatementId"))
    classified = classify_event(item, engine)
    return AuditEvent(
        source=Source.ACTIVITY_STREAM,
        time=time,
        action=classified.action,
        engine=engine,
        cluster=cluster,
        server_host=text(item.get("serverHost")),
        user=text(item.get("dbUserName")),
        client_host=text(item.get("remoteHost")),
        client_port=text(item.get("remotePort")),
        session_id=text(item.get("sessionId")),
        query_id=query_id_of(engine, pid, statement_id, substatement_id),
        command=text(item.get("command")),
        database=text(item.get("databaseName")),
        object=text(item.get("objectName")),
        object_type=text(item.get("objectType")),
        statement=classified.statement,
        status=classified.status,
        error_message=classified.error_message,
        event_id=f"{cluster}:{pid}:{statement_id}:{substatement_id}:{text(log_time)}",
        location=location,
        raw=raw_json(item),
    )


def classify_event(item: Mapping[str, object], engine: str) -> Classified:
    """Map class/command/exitCode to an Action with the engine's status conventions."""
    command = text(item.get("command")).strip().upper()
    event_class = text(item.get("class")).strip().upper()
    statement = optional_text(item.get("commandText"))
    error_message = text(item.get("errorMessage"))
    if engine == SQLSERVER:
        status = sqlserver_status(item.get("exitCode"), item.get("engineNativeAuditFields"))
    else:
        status = text(item.get("exitCode")).strip()
    failed = status not in ("", "0") or bool(error_message)

    if engine == AURORA_MYSQL and event_class == "AUX":
        # AUX commandText holds the object name, not SQL: the MAIN event carries the statement.
        return Classified(Action.TABLE, None, status, error_message)
    if command in _FAILED_CONNECT_COMMANDS or (command in _CONNECT_COMMANDS and failed):
        return _failed_connect(statement, status, error_message)
    if command in _CONNECT_COMMANDS or (engine == AURORA_POSTGRESQL and event_class == "CONNECT"):
        if command in _DISCONNECT_COMMANDS:
            return Classified(Action.DISCONNECT, None, status, error_message)
        action = Action.FAILED_CONNECT if failed else Action.CONNECT
        return Classified(action, None, status, error_message)
    if command in _DISCONNECT_COMMANDS:
        return Classified(Action.DISCONNECT, None, status, error_message)
    if command in _CHANGE_USER_COMMANDS:
        return Classified(Action.CHANGE_USER, None, status, error_message)
    if engine == AURORA_POSTGRESQL:
        action = _POSTGRES_CLASS_ACTIONS.get(event_class, Action.QUERY)
        return Classified(action, statement, status, error_message)
    return Classified(Action.QUERY, statement, status, error_message)


def surely_statement(command: str, event_class: str) -> bool:
    """Whether classify_event gives a statement action to this command and class (stripped, upper
    case) whatever the engine and exit code: no session verb, not the CONNECT class (Aurora PostgreSQL).
    """
    return command not in _SESSION_COMMANDS and event_class != "CONNECT"


def _failed_connect(statement: str | None, status: str, error_message: str) -> Classified:
    """A failed login: carry an error code in status and the reason in error_message."""
    if not error_message and statement is not None:
        # SQL Server puts "Login failed for user 'x'. Reason: …" in commandText: it is the error text.
        error_message = statement
    if status in ("", "0"):
        # UNVERIFIED which field holds 1045 for Aurora MySQL: take a number from errorMessage if any.
        status = error_number_in(error_message) or status
    return Classified(Action.FAILED_CONNECT, None, status, error_message)


def query_id_of(engine: str, pid: str, statement_id: str, substatement_id: str) -> str:
    """Aurora MySQL: `pid:statementId` so MAIN and AUX pair up; others: `statementId.substatementId`."""
    if engine == AURORA_MYSQL:
        return f"{pid}:{statement_id}"
    return f"{statement_id}.{substatement_id}" if substatement_id else statement_id


def _failure(reason: str, raw: object, location: str) -> ParseFailure:
    """A ParseFailure for the activity-stream source keeping the offending JSON as raw text."""
    return ParseFailure(source=SOURCE_SLUG, reason=reason, raw=raw_json(raw), location=location)
