"""Joins records that describe one statement (TABLE lines, DAS MAIN/AUX, pgaudit + log_statement + ERROR)."""

from __future__ import annotations

import dataclasses
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta

from detections.observation import Observation, TableOperation
from parsers.event import STATEMENT_ACTIONS, Action, AuditEvent, Source

# Duplicates of one PostgreSQL statement (log_statement, pgaudit, ERROR+STATEMENT) are logged
# within milliseconds of each other; a generous window still never spans two user actions.
TEXT_MATCH_WINDOW = timedelta(seconds=5)
# How many later records may pass before an open group is closed (TABLE lines precede their QUERY
# line; DAS AUX events may arrive before or after MAIN, in other records).
DEFAULT_HORIZON = 512

_MYSQL_ENGINES = ("aurora-mysql", "mysql", "mariadb")


@dataclass
class _Group:
    """Records collected for one statement, waiting for their siblings."""

    events: list[AuditEvent]
    opened_at: int
    pgaudit_ids: set[str] = field(default_factory=set)


def correlation_key(event: AuditEvent) -> tuple[str, ...] | None:
    """The key that identifies one statement across its records, or None when the event stands alone."""
    if event.action not in STATEMENT_ACTIONS:
        return None
    uses_query_ids = event.source in (Source.AURORA_MYSQL, Source.MYSQL_AUDIT) or (
        event.source is Source.ACTIVITY_STREAM and event.engine in _MYSQL_ENGINES
    )
    if uses_query_ids:
        if event.query_id in ("", "0"):
            return None
        return ("query", event.resource, event.session_id, event.query_id)
    if event.statement is None or not event.statement.strip():
        return None
    return ("text", event.resource, event.session_id, event.statement.strip())


def _pgaudit_id(event: AuditEvent) -> str:
    """The pgaudit statement id of an event ("" when the record is not a pgaudit one)."""
    if event.source is Source.POSTGRES and "." in event.query_id:
        return event.query_id.split(".", 1)[0]
    return ""


def _accepts(group: _Group, key: tuple[str, ...], event: AuditEvent) -> bool:
    """Whether an event belongs to an open group with the same key."""
    if key[0] == "query":
        return True
    if event.time - group.events[0].time > TEXT_MATCH_WINDOW:
        return False
    statement_id = _pgaudit_id(event)
    # The same text run again is a new statement: pgaudit gives it a new statement id.
    return not (statement_id and group.pgaudit_ids and statement_id not in group.pgaudit_ids)


def _table_operation(event: AuditEvent) -> TableOperation | None:
    """The table a TABLE/AUX/pgaudit record names, if any."""
    if not event.object or not event.command:
        return None
    if event.action is Action.TABLE and event.database and "." not in event.object:
        return TableOperation(event.command, f"{event.database}.{event.object}")
    if event.action is Action.TABLE or _pgaudit_id(event):
        return TableOperation(event.command, event.object)
    return None


def _observation(events: list[AuditEvent]) -> Observation:
    """One observation from a group: the most complete statement record, failure details merged in."""
    statements = [e for e in events if e.action is not Action.TABLE and e.statement]
    complete = [e for e in statements if not e.statement_truncated]
    best = (complete or statements or events)[0]
    failed = next((e for e in events if not e.succeeded), None)
    if failed is not None and best.succeeded:
        best = dataclasses.replace(best, status=failed.status, error_message=failed.error_message)
    operations = tuple(dict.fromkeys(op for e in events if (op := _table_operation(e)) is not None))
    return Observation(event=best, table_operations=operations, merged_records=len(events))


def correlate(events: Iterable[AuditEvent], *, horizon: int = DEFAULT_HORIZON) -> Iterator[Observation]:
    """Turn events into observations, merging records of one statement; streams with bounded memory."""
    open_groups: OrderedDict[tuple[str, ...], _Group] = OrderedDict()
    for position, event in enumerate(events):
        key = correlation_key(event)
        if key is None:
            yield Observation(event=event)
        else:
            group = open_groups.get(key)
            if group is not None and not _accepts(group, key, event):
                yield _observation(open_groups.pop(key).events)
                group = None
            if group is None:
                group = open_groups[key] = _Group(events=[], opened_at=position)
            group.events.append(event)
            if statement_id := _pgaudit_id(event):
                group.pgaudit_ids.add(statement_id)
        while open_groups:
            oldest_key, oldest = next(iter(open_groups.items()))
            if position - oldest.opened_at < horizon:
                break
            del open_groups[oldest_key]
            yield _observation(oldest.events)
    for group in open_groups.values():
        yield _observation(group.events)
