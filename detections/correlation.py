"""Joins records that describe one execution of a statement, and only those, into one observation.

- MySQL family (Aurora advanced auditing, RDS MySQL / MariaDB server_audit, DAS Aurora MySQL):
  connection id + query id; TABLE lines (which come first) and AUX events join their statement.
  Records without a query id (0 or absent) stand alone. In text logs a group holds one QUERY
  record: server_audit can reuse a query id, and a second QUERY record starts another execution.
- PostgreSQL log: per backend pid, by the order of `statement:` → pgaudit → ERROR/STATEMENT
  (`detections.correlation_postgres`); never by text equality alone. Without a pid (a log line
  prefix lacking %p) every record stands alone.
- Database Activity Streams (other engines): session + the record's statementId and substatementId
  (the substatements of a multi-statement query are separate statements).

A record delivered twice (same CloudWatch event id, same file line) is used once.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from operator import attrgetter
from typing import TypeVar

from detections.correlation_postgres import Execution, PostgresRecord, postgres_record
from detections.observation import Observation, TableOperation
from detections.statement_selection import select_piece, split_query
from parsers.event import STATEMENT_ACTIONS, Action, AuditEvent, Source, evolve

# How many later records may pass before an open group is closed (TABLE lines precede their QUERY
# line; DAS AUX events may arrive before or after MAIN, in other records; a PostgreSQL ERROR follows
# its statement). Also how far back a record delivered twice is recognised.
DEFAULT_HORIZON = 512

_MYSQL_ENGINES = ("aurora-mysql", "mysql", "mariadb")
_TEXT_MYSQL_SOURCES = (Source.AURORA_MYSQL, Source.MYSQL_AUDIT)
_NO_ID = ("", "0")
# Enum members bound once: on Python 3.11 each `Source.X` / `Action.X` lookup costs ~85 ns (the
# class attribute is a descriptor), several per record on this path.
_POSTGRES = Source.POSTGRES
_ACTIVITY_STREAM = Source.ACTIVITY_STREAM
_TABLE = Action.TABLE


@dataclass(slots=True)
class _Group:
    """Records collected for one statement (same ids), waiting for their siblings."""

    events: list[AuditEvent]
    opened_at: int
    has_statement: bool = False  # a QUERY-family record is in it (a MySQL-family group holds one)


_GroupT = TypeVar("_GroupT", _Group, Execution)


def correlation_key(event: AuditEvent) -> tuple[str, ...] | None:
    """The ids that identify one execution across its records, or None when the event stands alone
    (or, for the PostgreSQL log, is joined by order instead; see `correlation_postgres`).
    """
    if event.action not in STATEMENT_ACTIONS:
        return None
    source = event.source
    if source in _TEXT_MYSQL_SOURCES:
        return (
            None if event.query_id in _NO_ID else ("query", event.resource, event.session_id, event.query_id)
        )
    if source is _ACTIVITY_STREAM:
        if event.engine in _MYSQL_ENGINES:  # query id is pid:statementId
            pid, _, statement_id = event.query_id.rpartition(":")
            key_id = f"{pid}:{statement_id}"
        else:  # query id is statementId.substatementId: each substatement is its own statement, as in
            # pgaudit, which repeats the whole query text and names its piece in COMMAND
            statement_id, key_id = event.query_id.split(".", 1)[0], event.query_id
        return None if statement_id in _NO_ID else ("das", event.resource, event.session_id, key_id)
    return None


def _table_operation(event: AuditEvent) -> TableOperation | None:
    """The table a TABLE/AUX record names, if any."""
    if event.action is not _TABLE or not event.object or not event.command:
        return None
    if event.database and "." not in event.object:
        return TableOperation(event.command, f"{event.database}.{event.object}")
    return TableOperation(event.command, event.object)


def _selected(event: AuditEvent) -> AuditEvent:
    """A pgaudit or DAS PostgreSQL record named by the statement of its query string its COMMAND names."""
    source = event.source
    if source is _ACTIVITY_STREAM:
        if event.engine in _MYSQL_ENGINES:
            return event
    elif source is not _POSTGRES or postgres_record(event) is not PostgresRecord.AUDIT:
        return event
    if not event.statement or not event.command:
        return event
    pieces = split_query(event.statement)
    piece = select_piece(pieces, event.command, event.object)
    return event if piece is None else evolve(event, statement=pieces[piece].text)


def _observation(events: list[AuditEvent]) -> Observation:
    """One observation from a group: the most complete statement record, failure details merged in."""
    if len(events) == 1:  # the common case (a statement without TABLE lines): nothing to merge
        only = events[0]
        operation = _table_operation(only)
        return Observation(_selected(only), () if operation is None else (operation,))
    # One pass: the first complete statement record (else the first truncated one, else the first
    # record), the first failed record, and the tables named, each once, in order.
    complete = truncated = failed = None
    operations: list[TableOperation] = []  # a list: usually one, so no hashing (a Python __hash__)
    for event in events:
        if event.action is _TABLE:
            if (operation := _table_operation(event)) is not None and operation not in operations:
                operations.append(operation)
        elif event.statement and complete is None:
            if not event.statement_truncated:
                complete = event
            elif truncated is None:
                truncated = event
        if failed is None and not event.succeeded:
            failed = event
    best = complete if complete is not None else truncated if truncated is not None else events[0]
    if failed is not None and best.succeeded:
        best = evolve(best, status=failed.status, error_message=failed.error_message)
    return Observation(_selected(best), tuple(operations), len(events))


class _Correlator:
    """Open groups and PostgreSQL executions in opening order, plus recently seen record identities."""

    def __init__(self, horizon: int) -> None:
        """Start with nothing open."""
        self.horizon = horizon
        self.open: dict[tuple[str, ...], _Group | Execution] = {}
        # What was opened, in opening order, for expiry; an entry whose key was closed (or closed and
        # opened again) meanwhile is skipped when it comes up.
        self.opened: deque[tuple[int, tuple[str, ...], _Group | Execution]] = deque()
        self.seen: dict[tuple[str, ...], int] = {}  # identity → position it was last used at
        self._trim_at = 8 * horizon  # the trim keeps at most `horizon`: it runs every 7 horizons or more

    def is_new(self, position: int, event: AuditEvent) -> bool:
        """Whether the record was not already used within the horizon (and remember it if so).

        What makes a record itself: its CloudWatch event id in its stream, else its file line or
        stream record + index (a DAS event id is built from fields that may be empty or repeat); a
        record without either is always new. The text is part of it: one delivered message holding
        several PostgreSQL entries gives them one id and one location.
        """
        if event.event_id and event.source is not _ACTIVITY_STREAM:
            identity: tuple[str, ...] = (event.log_group, event.log_stream, event.event_id, event.raw)
        elif event.location:
            identity = (event.location, event.raw)
        else:
            return True
        seen_at = self.seen.setdefault(identity, position)  # one lookup for a new record, the usual one
        if seen_at != position:
            if position - seen_at < self.horizon:
                return False  # the same record delivered again
            self.seen[identity] = position
        elif len(self.seen) > self._trim_at:
            # Identities are trimmed in bulk, now and then (older ones are new again anyway), instead
            # of being checked on every record.
            self.seen = {key: at for key, at in self.seen.items() if position - at < self.horizon}
        return True

    def add(self, position: int, event: AuditEvent) -> list[Observation]:
        """The observations that this new event completes (possibly its own)."""
        if event.source is _POSTGRES:
            role = postgres_record(event) if event.action in STATEMENT_ACTIONS else None
            if event.session_id:
                return list(self._postgres(position, event, role))
            # no pid in the log line prefix: nothing proves a join
            return [Observation(_selected(event) if role is not None else event)]
        if (key := correlation_key(event)) is None:
            operation = _table_operation(event)
            return [Observation(event, () if operation is None else (operation,))]
        closed: list[Observation] = []
        group = self.open.get(key)
        statement_record = event.action is not _TABLE
        if (
            isinstance(group, _Group)
            and statement_record
            and group.has_statement
            and event.source in _TEXT_MYSQL_SOURCES
        ):
            # server_audit may give two statements of one connection the same query id (FORMATS 2,
            # the sample's `1,2,QUERY` lines): a second QUERY record is another execution.
            closed = self._close(key)
            group = None
        if not isinstance(group, _Group):
            group = self._open(position, key, _Group([], position))
        group.events.append(event)
        group.has_statement = group.has_statement or statement_record
        return closed

    def add_text_mysql(self, position: int, event: AuditEvent) -> list[Observation] | None:
        """`add` for a statement or TABLE record of a MySQL-family text log, the bulk of a batch.

        The same groups as `add`, with the key built in place and no list for the usual answer, nothing.
        """
        query_id = event.query_id
        if query_id in _NO_ID:
            operation = _table_operation(event)
            return [Observation(event, () if operation is None else (operation,))]
        key = ("query", event.resource, event.session_id, query_id)
        group = self.open.get(key)
        statement_record = event.action is not _TABLE
        if not isinstance(group, _Group):  # nothing open (an Execution is never under a "query" key)
            self._open(position, key, _Group([event], position, statement_record))
            return None
        if not statement_record:
            group.events.append(event)
            return None
        if group.has_statement:  # a reused query id: another execution (see `add`)
            closed = self._close(key)
            self._open(position, key, _Group([event], position, True))
            return closed
        group.events.append(event)
        group.has_statement = True
        return None

    def _open(self, position: int, key: tuple[str, ...], item: _GroupT) -> _GroupT:
        """Open `item` under `key` (nothing is open under it)."""
        self.open[key] = item
        self.opened.append((position, key, item))
        return item

    def _postgres(
        self, position: int, event: AuditEvent, role: PostgresRecord | None
    ) -> Iterator[Observation]:
        """Place a PostgreSQL log event in its backend's execution (any other event ends that one)."""
        key = ("pg", event.resource, event.session_id)
        current = self.open.get(key)
        execution = current if isinstance(current, Execution) else None
        if role is PostgresRecord.AUDIT and execution is not None and execution.add_audit(event):
            return
        if role is PostgresRecord.ERROR and execution is not None and execution.take_error(event):
            yield from self._close(key)
            return
        yield from self._close(key)
        if role is PostgresRecord.STATEMENT_LINE:
            self._open(position, key, Execution.of_statement_line(position, event))
        elif role is PostgresRecord.AUDIT:
            self._open(position, key, Execution(opened_at=position)).add_audit(event)
        else:
            yield Observation(event)

    def _close(self, key: tuple[str, ...]) -> list[Observation]:
        """Emit and forget what is open under `key`."""
        item = self.open.pop(key, None)
        if item is None:
            return []
        if isinstance(item, Execution):
            return item.observations()
        return [_observation(item.events)]

    def expire(self, position: int) -> list[Observation]:
        """Close what was opened `horizon` records ago (or earlier), in opening order."""
        closed: list[Observation] = []
        opened = self.opened
        while opened and position - opened[0][0] >= self.horizon:
            _, key, item = opened.popleft()
            if self.open.get(key) is item:
                closed.extend(self._close(key))
        return closed

    def finish(self) -> Iterator[Observation]:
        """Everything still open, in opening order (the open dict's order: a reopened key moves last)."""
        still_open, self.open = self.open, {}
        for item in still_open.values():
            if isinstance(item, Execution):
                yield from item.observations()
            else:
                yield _observation(item.events)


_event_id_of = attrgetter("event_id")
_log_group_of = attrgetter("log_group")
_log_stream_of = attrgetter("log_stream")
_source_of = attrgetter("source")


def distinct_log_events(events: list[AuditEvent]) -> bool:
    """Whether the events are distinct log events of one CloudWatch stream: none is a redelivery.

    Then `_Correlator.is_new` would answer yes to each (their identities differ in the event id), so
    a CloudWatch payload, the usual batch, is checked in a few C passes instead of once per event.
    """
    event_ids = list(map(_event_id_of, events))
    return (
        all(event_ids)
        and len(set(event_ids)) == len(event_ids)
        and len(set(map(_log_group_of, events))) <= 1
        and len(set(map(_log_stream_of, events))) <= 1
        and _ACTIVITY_STREAM not in set(map(_source_of, events))
    )


def correlate(events: Iterable[AuditEvent], *, horizon: int = DEFAULT_HORIZON) -> Iterator[Observation]:
    """Turn events into observations, one per execution; streams with bounded memory (`horizon`)."""
    correlator = _Correlator(horizon)
    opened = correlator.opened
    all_new = isinstance(events, list) and distinct_log_events(events)
    for position, event in enumerate(events):
        if all_new or correlator.is_new(position, event):
            source = event.source
            if source in _TEXT_MYSQL_SOURCES:
                if event.action not in STATEMENT_ACTIONS:
                    # A connection record stands alone (`add` would say the same): no group, no table.
                    yield Observation(event)
                elif completed := correlator.add_text_mysql(position, event):
                    yield from completed
            elif event.action not in STATEMENT_ACTIONS and source is not _POSTGRES:
                yield Observation(event)  # a DAS connection record stands alone too
            # Plain lists, usually of zero or one observation: cheaper than two generators per event.
            elif completed := correlator.add(position, event):
                yield from completed
        if opened and position - opened[0][0] >= horizon:
            yield from correlator.expire(position)
    yield from correlator.finish()
