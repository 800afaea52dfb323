"""Parser for MySQL-family text audit logs: Aurora MySQL advanced auditing, RDS MySQL / MariaDB server_audit.

Line shape (FORMATS 1.3, 2.3, 2.4):
`<ts>,<serverhost>,<user>,<host>,<connid>,<queryid>,<operation>,<database>,<object>,<retcode>[,<tail>]`
Fields 1-8 are read from the left (they carry no escaping: a comma inside one makes the line ambiguous
and it becomes a ParseFailure). The object is a single-quoted, backslash-escaped statement for QUERY
operations (commas and quotes inside survive) and a bare token otherwise; the tail is anchored from the
right: retcode, then RDS MySQL's `,,` (QUERY) or `,<connection_type>` (connection events).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from parsers.event import Action, AuditEvent, ParseFailure, ParseResult, Source
from parsers.mysql_fast_path import FastLineReader
from parsers.mysql_fields import (
    HEADER_PREFIX,
    QUOTED_OBJECT_ACTIONS,
    STATEMENT_TAIL,
    TIMESTAMP_PREFIX,
    AuditTimestamp,
    MalformedAuditLineError,
    parse_timestamp,
    reaches_query_log_limit,
    require_numeric_id,
    split_host_port,
    unescape_statement,
)
from parsers.mysql_fields import OPERATION_ACTIONS as FIELD_OPERATION_ACTIONS
from parsers.records import Origin, RawRecord, SplitRecord

FAILURE_SOURCE = "mysql_audit"
# Operation names → actions, as the pre-filter reads them (parsers/prefilter.py); defined with the fields.
OPERATION_ACTIONS: dict[str, Action] = FIELD_OPERATION_ACTIONS

# A bare object, the retcode (empty on TABLE events), then RDS MySQL's connection_type if present.
BARE_OBJECT_TAIL = re.compile(r"([^,]*),(-?\d*)(?:,([A-Za-z][A-Za-z/_ ]*))?", re.ASCII)

# A QUERY record left open (raw newline inside the statement) absorbs at most this much text.
MAX_OPEN_STATEMENT_CHARS = 1 << 20

_NO_ORIGIN = Origin()


def looks_like_mysql_audit(line: str) -> bool:
    """Cheap sniff: does this physical line start with a MySQL-family audit header of either form?"""
    return HEADER_PREFIX.match(line) is not None


@dataclass(frozen=True, slots=True)
class _Header:
    """Fields 1-8 of a line, validated, plus the unparsed rest (object and tail)."""

    timestamp: AuditTimestamp
    server_host: str
    user: str
    host: str
    connection_id: str
    query_id: str
    operation: str
    action: Action
    database: str
    rest: str


@dataclass(frozen=True, slots=True)
class _Body:
    """Fields 9 onward: the object or statement, retcode, and whether an RDS MySQL tail was present."""

    object: str
    statement: str | None
    statement_truncated: bool
    status: str
    rds_tail: bool


def _strip_line_end(text: str) -> str:
    """Drop a trailing CR/LF (CRLF files, a message ending in a newline); the tail never ends in one."""
    return text.rstrip("\r\n")


def _read_header(line: str) -> _Header:
    """Split fields 1-8 from the left and validate them."""
    parts = line.split(",", 8)
    if len(parts) < 9:
        raise MalformedAuditLineError("too few fields")
    timestamp_text, server_host, user, host, connection_id, query_id, operation, database, rest = parts
    timestamp = parse_timestamp(timestamp_text)
    # Ids before the operation: a comma in a user or host name shows up first as a non-numeric id.
    connection_id = require_numeric_id(connection_id, "connection id")
    query_id = require_numeric_id(query_id, "query id")
    action = FIELD_OPERATION_ACTIONS.get(operation)
    if action is None:
        raise MalformedAuditLineError("unknown operation")
    return _Header(
        timestamp=timestamp,
        server_host=server_host,
        user=user,
        host=host,
        connection_id=connection_id,
        query_id=query_id,
        operation=operation,
        action=action,
        database=database,
        rest=rest,
    )


def _closing_quote_tail(last_line: str, opening_quote_at: int) -> re.Match[str] | None:
    """Find the statement's closing quote + tail at the end of the last line (None: still open)."""
    closing = last_line.rfind("'")
    if closing <= opening_quote_at:
        return None
    return STATEMENT_TAIL.fullmatch(last_line, closing + 1)


def statement_closes_on_line(rest: str) -> bool:
    """Whether fields 9+ of one physical QUERY line (`'<escaped>',<retcode>[,,]`) end the statement there."""
    return rest.startswith("'") and "\n" not in rest and _closing_quote_tail(rest, 0) is not None


def _read_statement_body(rest: str, query_log_limit: int | None) -> _Body | None:
    """Read `'<escaped>',<retcode>[,,]`; None when the closing quote and tail are not there yet."""
    if not rest.startswith("'"):
        raise MalformedAuditLineError("unquoted statement")
    last_newline = rest.rfind("\n")
    opening_quote_at = 0 if last_newline < 0 else -1
    last_line = rest[last_newline + 1 :]
    tail = _closing_quote_tail(last_line, opening_quote_at)
    if tail is None:
        return None
    escaped = rest[1 : last_newline + 1 + tail.start() - 1]
    unescaped = unescape_statement(escaped)
    truncated = (
        unescaped.dangling_backslash
        # a cut multi-byte character, decoded with errors="replace" by the file reader
        or unescaped.text.endswith("\ufffd")
        or (query_log_limit is not None and reaches_query_log_limit(escaped, query_log_limit))
    )
    return _Body(
        object="",
        statement=unescaped.text,
        statement_truncated=truncated,
        status=tail.group(1),
        rds_tail=tail.group(2) is not None,
    )


def _read_bare_body(rest: str) -> _Body:
    """Read `<object>,<retcode>[,<connection_type>]` of connection and TABLE events."""
    match = BARE_OBJECT_TAIL.fullmatch(rest)
    if match is None:
        raise MalformedAuditLineError("unexpected field count")
    return _Body(
        object=match.group(1),
        statement=None,
        statement_truncated=False,
        status=match.group(2),
        rds_tail=match.group(3) is not None,
    )


def _engine(header: _Header, body: _Body, client_port: str) -> str:
    """Tell the engine from what the line carries; "" when the plugin format cannot tell."""
    if header.timestamp.source is Source.AURORA_MYSQL:
        return "aurora-mysql"
    if body.rds_tail:
        return "mysql"  # RDS for MySQL's connection_type field
    if client_port:
        return "mariadb"  # MariaDB >= 12.0.1 writes host:port
    return ""


def _build_event(header: _Header, body: _Body, first: RawRecord, raw: str, origin: Origin) -> AuditEvent:
    """Assemble the normalized event from the validated pieces."""
    client_host, client_port = split_host_port(header.host)
    return AuditEvent(
        source=header.timestamp.source,
        time=header.timestamp.time,
        action=header.action,
        engine=_engine(header, body, client_port),
        cluster=origin.cluster,
        server_host=header.server_host,
        user=header.user,
        client_host=client_host,
        client_port=client_port,
        session_id=header.connection_id,
        query_id=header.query_id,
        command=header.operation if header.action is Action.TABLE else "",
        database=header.database,
        object=body.object,
        statement=body.statement,
        statement_truncated=body.statement_truncated,
        status=body.status,
        log_group=origin.log_group,
        log_stream=origin.log_stream,
        event_id=first.event_id,
        location=first.location,
        raw=raw,
    )


class _OpenStatement:
    """A QUERY record whose closing quote has not arrived: later non-header records join it."""

    __slots__ = ("chars", "first", "header", "texts")

    def __init__(self, header: _Header, first: RawRecord) -> None:
        """Start with the record that opened the statement."""
        self.header = header
        self.first = first
        self.texts = [first.text]
        self.chars = len(first.text)

    def rest(self) -> str:
        """The statement part collected so far, physical lines joined with newlines."""
        continuation = "\n".join(_strip_line_end(text) for text in self.texts[1:])
        return f"{self.header.rest}\n{continuation}"

    def raw(self) -> str:
        """Every absorbed record, as delivered, joined with newlines."""
        return "\n".join(self.texts)

    def failure(self, reason: str) -> ParseFailure:
        """Give up on the open statement."""
        return ParseFailure(FAILURE_SOURCE, reason, self.raw(), self.first.location)


def _failure(reason: str, record: RawRecord) -> ParseFailure:
    """A ParseFailure for one record."""
    return ParseFailure(FAILURE_SOURCE, reason, record.text, record.location)


class _MysqlAuditReader:
    """Turns a stream of records into results, holding at most one open (multi-line) statement."""

    __slots__ = ("open", "origin", "query_log_limit")

    def __init__(self, origin: Origin, query_log_limit: int | None) -> None:
        """Remember what every event gets copied onto it."""
        self.origin = origin
        self.query_log_limit = query_log_limit
        self.open: _OpenStatement | None = None

    def feed(self, record: RawRecord) -> Iterator[ParseResult]:
        """Consume one record; yield whatever it completes."""
        if self.open is not None:
            if TIMESTAMP_PREFIX.match(record.text) is None:
                yield from self._continue_open(self.open, record)
                return
            yield self.open.failure("unterminated statement")
            self.open = None
        if not record.text.strip():
            return
        try:
            yield from self._start(record)
        except MalformedAuditLineError as exc:
            yield _failure(exc.reason, record)

    def finish(self) -> Iterator[ParseResult]:
        """End of input: a statement still open never got its closing quote."""
        if self.open is not None:
            yield self.open.failure("unterminated statement")
            self.open = None

    def _start(self, record: RawRecord) -> Iterator[ParseResult]:
        """Parse a record that is not a continuation."""
        header = _read_header(_strip_line_end(record.text))
        if header.action not in QUOTED_OBJECT_ACTIONS:
            yield _build_event(header, _read_bare_body(header.rest), record, record.text, self.origin)
            return
        body = _read_statement_body(header.rest, self.query_log_limit)
        if body is None:
            self.open = _OpenStatement(header, record)
            return
        yield _build_event(header, body, record, record.text, self.origin)

    def _continue_open(self, open_statement: _OpenStatement, record: RawRecord) -> Iterator[ParseResult]:
        """Join a non-header record to the open statement; emit it once its closing quote arrives."""
        open_statement.texts.append(record.text)
        open_statement.chars += len(record.text) + 1
        if open_statement.chars > MAX_OPEN_STATEMENT_CHARS:
            self.open = None
            yield open_statement.failure("unterminated statement")
            return
        # Only the newest line can hold the closing quote + tail: check it before joining everything.
        if _closing_quote_tail(_strip_line_end(record.text), -1) is None:
            return
        self.open = None
        body = _read_statement_body(open_statement.rest(), self.query_log_limit)
        if body is None:  # pragma: no cover - the newest line was just seen to close the statement
            yield open_statement.failure("unterminated statement")
            return
        yield _build_event(
            open_statement.header, body, open_statement.first, open_statement.raw(), self.origin
        )


def parse_mysql_audit(
    records: Iterable[RawRecord], origin: Origin = _NO_ORIGIN, *, query_log_limit: int | None = None
) -> Iterator[ParseResult]:
    """Parse MySQL-family audit records (one physical line or CloudWatch message each) into results.

    Blank records are skipped. A QUERY record whose closing quote and tail are missing absorbs the
    following records that do not start with a timestamp (joined with "\\n", location = first line);
    see tests for the pinned behaviour. With `query_log_limit`, a statement whose escaped text fills
    that many UTF-8 bytes (or one less: a cut escape pair) is marked truncated (server_audit cuts
    silently). Common one-line records take the fast path (parsers/mysql_fast_path.py).
    """
    return _parse(((record, None) for record in records), origin, query_log_limit, fast=True)


def parse_mysql_split(
    lines: Iterable[SplitRecord], origin: Origin = _NO_ORIGIN, *, query_log_limit: int | None = None
) -> list[ParseResult]:
    """parse_mysql_audit for records the pre-filter already split (Prefilter.split_records): no re-split."""
    return list(_parse(lines, origin, query_log_limit, fast=True))


def parse_mysql_audit_carefully(
    records: Iterable[RawRecord], origin: Origin = _NO_ORIGIN, *, query_log_limit: int | None = None
) -> Iterator[ParseResult]:
    """parse_mysql_audit without the fast path: the reference its results must equal (tests compare)."""
    return _parse(((record, None) for record in records), origin, query_log_limit, fast=False)


def _parse(
    lines: Iterable[SplitRecord], origin: Origin, query_log_limit: int | None, *, fast: bool
) -> Iterator[ParseResult]:
    """Each record through the fast path when no statement is open and it is sure, else the careful reader."""
    reader = _MysqlAuditReader(origin, query_log_limit)
    fast_event = FastLineReader(origin, query_log_limit).event_of if fast else None
    for record, parts in lines:
        try:
            if fast_event is not None and reader.open is None:
                event = fast_event(record, record.text.split(",", 8) if parts is None else parts)
                if event is not None:
                    yield event
                    continue
            yield from reader.feed(record)
        except Exception as exc:  # noqa: BLE001 - per-record isolation boundary: one bad line never stops a batch
            reader.open = None
            yield _failure(f"internal error: {type(exc).__name__}", record)
    yield from reader.finish()
