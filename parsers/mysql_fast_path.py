"""Fast path of the MySQL-family parser: one common, unambiguous line straight to an AuditEvent.

`FastLineReader.event` reads a record with `str.split`, `str.isdigit` and cached timestamps, without
the reader's intermediate objects, and returns None whenever it is not sure (a newline in the record,
an unquoted statement or unusual tail, a signed id, an odd timestamp: anything that could open a
multi-line statement or become a ParseFailure); the careful reader in parsers/mysql_audit.py then
reads that record as before. A test runs both over every bundled log, the benchmark lines, edge
lines and generated streams, and asserts identical results (test_mysql_audit_fast_path.py).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from parsers.event import Action, AuditEvent, Source
from parsers.mysql_fields import (
    EPOCH,
    OPERATION_ACTIONS,
    QUOTED_OBJECT_ACTIONS,
    STATEMENT_TAIL,
    MalformedAuditLineError,
    parse_timestamp,
    reaches_query_log_limit,
    split_host_port,
    unescape_statement,
)
from parsers.records import Origin, RawRecord

# What follows a bare object's comma: retcode (empty on TABLE events), then RDS MySQL's connection_type.
_BARE_TAIL = re.compile(r"(-?\d*)(?:,([A-Za-z][A-Za-z/_ ]*))?", re.ASCII)
# Distinct tails remembered (retcodes and connection types repeat); beyond this they are matched each time.
MAX_CACHED_TAILS = 256
MAX_CACHED_TAIL_CHARS = 40

# Operation → (action, whether the object is a quoted statement, the event's `command`).
_OPERATIONS: dict[str, tuple[Action, bool, str]] = {
    operation: (action, action in QUOTED_OBJECT_ACTIONS, operation if action is Action.TABLE else "")
    for operation, action in OPERATION_ACTIONS.items()
}
_NOT_CACHED = ("", False)  # marks a cache miss; compared with `is` (cached values are other tuples)
_AURORA = Source.AURORA_MYSQL
_new_event = object.__new__  # an AuditEvent without running __init__ (see FastLineReader.event_of)
_PLUGIN = Source.MYSQL_AUDIT
_MILLISECONDS = tuple(timedelta(milliseconds=n) for n in range(1000))
_MICROSECONDS = tuple(timedelta(microseconds=n) for n in range(1000))
_AURORA_STAMP_LENGTH = 16  # µs since the epoch: 10 digits of seconds, 6 of microseconds
_PLUGIN_STAMP_LENGTH = 17  # YYYYMMDD HH:MM:SS


class FastLineReader:
    """Reads common single-line MySQL-family records; None for anything the careful reader must see."""

    __slots__ = (
        "_bare_tails",
        "_plugin_stamp",
        "_plugin_time_value",
        "_second",
        "_second_time",
        "_statement_tails",
        "cluster",
        "log_group",
        "log_stream",
        "query_log_limit",
    )

    def __init__(self, origin: Origin, query_log_limit: int | None) -> None:
        """Copy the origin's fields (read per event) and start with empty timestamp and tail caches."""
        self.cluster = origin.cluster
        self.log_group = origin.log_group
        self.log_stream = origin.log_stream
        self.query_log_limit = query_log_limit
        # The last Aurora second and plugin timestamp seen: consecutive lines mostly share them.
        self._second: str | None = None
        self._second_time = EPOCH
        self._plugin_stamp: str | None = None  # never equal to a stamp, even an empty one
        self._plugin_time_value = EPOCH
        self._statement_tails: dict[str, tuple[str, bool] | None] = {}
        self._bare_tails: dict[str, tuple[str, bool] | None] = {}

    def event(self, record: RawRecord) -> AuditEvent | None:
        """The event of a one-line record the fast path is sure of; None hands it to the careful reader."""
        return self.event_of(record, record.text.split(",", 8))

    def event_of(self, record: RawRecord, parts: list[str]) -> AuditEvent | None:  # noqa: PLR0915 -- 24 field stores
        """`event` for a record whose text is already split: `parts` is `record.text.split(",", 8)`.

        Splitting before or after dropping a trailing CR/LF cuts the same fields: only the last differs.
        """
        if len(parts) != 9:  # eight leading fields and the rest
            return None
        stamp, server_host, user, host, connection_id, query_id, operation, database, rest = parts
        rest = rest.rstrip("\r\n")  # the same string when there is nothing to strip (the usual line)
        known = _OPERATIONS.get(operation)
        if (
            known is None
            or not (connection_id.isdigit() and query_id.isdigit())
            or not (connection_id.isascii() and query_id.isascii())
        ):
            return None
        action, quoted, command = known
        if len(stamp) == _AURORA_STAMP_LENGTH and stamp.isdigit() and stamp.isascii():
            second = stamp[:10]
            if second != self._second:
                self._second_time = EPOCH + timedelta(seconds=int(second))
                self._second = second
            micros = int(stamp[10:])  # < 10**6: two table lookups instead of a timedelta product
            time = self._second_time + _MILLISECONDS[micros // 1000] + _MICROSECONDS[micros % 1000]
        else:
            plugin_time = self._plugin_time(stamp)
            if plugin_time is None:
                return None
            time = plugin_time
        if quoted:
            if not rest.startswith("'") or "\n" in rest:
                return None
            closing = rest.rfind("'")
            if closing <= 0:
                return None
            tail = self._statement_tails.get(rest[closing + 1 :], _NOT_CACHED)
            if tail is _NOT_CACHED:
                tail = _match_tail(self._statement_tails, STATEMENT_TAIL, rest[closing + 1 :])
            if tail is None:
                return None
            escaped = rest[1:closing]
            if "\\" in escaped:
                unescaped = unescape_statement(escaped)
                text_of_statement, truncated = unescaped.text, unescaped.dangling_backslash
            else:
                text_of_statement, truncated = escaped, False
            if not truncated:
                truncated = text_of_statement.endswith("\ufffd") or (
                    self.query_log_limit is not None
                    and reaches_query_log_limit(escaped, self.query_log_limit)
                )
            statement: str | None = text_of_statement
            bare_object = ""
        else:
            bare_object, comma, after = rest.partition(",")
            if not comma:
                return None
            tail = self._bare_tails.get(after, _NOT_CACHED)
            if tail is _NOT_CACHED:
                tail = _match_tail(self._bare_tails, _BARE_TAIL, after)
            if tail is None:
                return None
            statement, truncated = None, False
        status, rds_tail = tail
        client_host, client_port = split_host_port(host) if ":" in host else (host, "")
        if len(stamp) == _AURORA_STAMP_LENGTH:
            source, engine = _AURORA, "aurora-mysql"
        else:  # RDS for MySQL's connection_type or `,,` tail; MariaDB >= 12.0.1 writes host:port
            source, engine = _PLUGIN, "mysql" if rds_tail else "mariadb" if client_port else ""
        # Built field by field on a bare instance: a third cheaper than the 24-argument __init__ call,
        # once per kept line. tests/unit/parsers/test_mysql_audit_fast_path.py compares every event
        # with the careful reader's, so a field missed here (unset: AttributeError) fails it.
        event: AuditEvent = _new_event(AuditEvent)
        event.source = source
        event.time = time
        event.action = action
        event.engine = engine
        event.cluster = self.cluster
        event.server_host = server_host
        event.user = user
        event.client_host = client_host
        event.client_port = client_port
        event.session_id = connection_id
        event.query_id = query_id
        event.command = command
        event.database = database
        event.object = bare_object
        event.object_type = ""
        event.statement = statement
        event.statement_truncated = truncated
        event.status = status
        event.error_message = ""
        event.log_group = self.log_group
        event.log_stream = self.log_stream
        event.event_id = record.event_id
        event.location = record.location
        event.raw = record.text
        return event

    def _plugin_time(self, stamp: str) -> datetime | None:
        """A `YYYYMMDD HH:MM:SS` timestamp as parse_timestamp reads it (last one cached); None if odd."""
        if stamp != self._plugin_stamp:
            if len(stamp) != _PLUGIN_STAMP_LENGTH:
                return None
            try:
                parsed = parse_timestamp(stamp)
            except MalformedAuditLineError:
                return None
            self._plugin_stamp, self._plugin_time_value = stamp, parsed.time
        return self._plugin_time_value


def _match_tail(
    cache: dict[str, tuple[str, bool] | None], pattern: re.Pattern[str], tail: str
) -> tuple[str, bool] | None:
    """(status, whether an RDS MySQL field follows) when `pattern` fits all of `tail`, else None; cached."""
    match = pattern.fullmatch(tail)
    parsed = None if match is None else (match.group(1), match.group(2) is not None)
    if len(cache) < MAX_CACHED_TAILS and len(tail) <= MAX_CACHED_TAIL_CHARS:
        cache[tail] = parsed
    return parsed
