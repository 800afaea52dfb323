"""Builders of real-format audit log lines, run through the parsers, correlation and the built-in rules."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from detections.catalogue import builtin_rules
from detections.correlation import correlate
from detections.engine import DetectionEngine
from detections.observation import Observation
from detections.state import InMemoryStateStore
from parsers.event import AuditEvent, ParseResult
from parsers.mysql_audit import parse_mysql_audit
from parsers.records import Origin, RawRecord
from tests.unit.parsers.postgres_lines import log, parse

_ADMIN = {"user": "admin_user", "database": "appdb", "remote": "127.0.0.1(40222)"}


def pg_statement(text: str, pid: int = 18982) -> str:
    """A log_statement line (logged before the statement runs)."""
    return log(pid, "LOG", f"statement: {text}", **_ADMIN)


def pg_audit(
    statement_id: int,
    audit_class: str,
    command: str,
    text: str,
    *,
    object_name: str = "",
    object_type: str = "",
    pid: int = 18982,
    substatement: int = 1,
) -> str:
    """A pgaudit SESSION record, statement quoted the way pgaudit quotes it."""
    quoted = f'"{text.replace(chr(34), chr(34) * 2)}"' if any(c in text for c in ',"\n') else text
    head = f"SESSION,{statement_id},{substatement},{audit_class},{command},{object_type},{object_name}"
    return log(pid, "LOG", f"AUDIT: {head},{quoted},<not logged>", **_ADMIN)


def pg_error(message: str, text: str, pid: int = 18982) -> list[str]:
    """An ERROR line and the STATEMENT line elog.c writes with it."""
    return [log(pid, "ERROR", message, **_ADMIN), log(pid, "STATEMENT", text, **_ADMIN)]


def _records(lines: Sequence[str], file: str) -> list[RawRecord]:
    """Lines as file records (location file:line, no CloudWatch id)."""
    return [RawRecord(line, f"{file}:{n}") for n, line in enumerate(lines, start=1)]


def _events(results: Iterable[ParseResult]) -> list[AuditEvent]:
    """The events of parser output (fails the test on a parse failure)."""
    events = list(results)
    assert all(isinstance(e, AuditEvent) for e in events), events
    return [e for e in events if isinstance(e, AuditEvent)]


def postgres_events(lines: Sequence[str]) -> list[AuditEvent]:
    """PostgreSQL log entries parsed into events (no log group: titles name no cluster)."""
    return _events(parse(*lines, origin=Origin()))


def mariadb_events(lines: Sequence[str]) -> list[AuditEvent]:
    """MariaDB server_audit lines parsed into events."""
    return _events(parse_mysql_audit(_records(lines, "server_audit.log")))


def observations(events: Iterable[AuditEvent]) -> list[Observation]:
    """Correlated observations of the events."""
    return list(correlate(events))


def findings(events: Iterable[AuditEvent], *rule_ids: str) -> list[tuple[str, str]]:
    """(rule id, title) of every finding the built-in rules give, optionally only for some rules."""
    engine = DetectionEngine(builtin_rules(), InMemoryStateStore())
    found = [(f.rule_id, f.title) for f in engine.detect(events)]
    return [f for f in found if not rule_ids or f[0] in rule_ids]
