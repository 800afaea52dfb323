"""A cheap pre-filter per dialect: drop records no enabled rule can match, before any event exists.

Only what is provably irrelevant is dropped: a MySQL-family QUERY line complete on its own physical
line whose statement holds none of the rules' keywords (any case), that no earlier TABLE line of the
same query announced, and that follows a complete line (so no multi-line statement can change how
the parser joins what comes next). Every other record — connections (login rules), TABLE lines (DROP
evidence for cut statements), failed statements with a keyword, non-ASCII text (case mapping beyond
ASCII could make a keyword), anything the parser might reject — is kept. PostgreSQL and Activity
Stream records are not filtered (their ERROR/STATEMENT and pgaudit siblings complete a statement).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from parsers.event import Source
from parsers.mysql_audit import statement_closes_on_line
from parsers.mysql_fields import TIMESTAMP_PREFIX
from parsers.records import RawRecord

_QUERY_OPERATIONS = frozenset({"QUERY", "QUERY_DDL", "QUERY_DML", "QUERY_DCL"})
_TABLE_OPERATIONS = frozenset({"READ", "WRITE", "CREATE", "ALTER", "RENAME", "DROP"})
# TABLE lines precede their QUERY line; remember this many recent (connection, query) ids.
TABLE_IDS_KEPT = 4096
_FILTERED_SOURCES = frozenset({Source.AURORA_MYSQL, Source.MYSQL_AUDIT})


class Prefilter:
    """Drops records that cannot matter to the rules whose statement keywords it was given; counts them."""

    __slots__ = ("_table_ids", "dropped", "keywords")

    def __init__(self, keywords: Iterable[str]) -> None:
        """Keep the lower-case keywords one of which a statement must contain to matter."""
        self.keywords = tuple(sorted({word.lower() for word in keywords}))
        self.dropped = 0
        self._table_ids: dict[tuple[str, str], None] = {}

    def records(self, source: Source, records: Iterable[RawRecord]) -> Iterator[RawRecord]:
        """The records of one batch in `source`'s dialect that may matter (all of them for other dialects)."""
        if source not in _FILTERED_SOURCES:
            yield from records
            return
        yield from self._mysql(records)

    def _mysql(self, records: Iterable[RawRecord]) -> Iterator[RawRecord]:
        """MySQL-family audit records minus complete QUERY lines without a keyword."""
        after_complete_line = True  # False while the parser may hold an open statement
        for record in records:
            text = record.text
            if not text.strip():
                yield record  # blank: skipped by the parser, or part of an open statement
                continue
            parts = text.split(",", 8)
            if len(parts) < 9 or TIMESTAMP_PREFIX.match(text) is None:
                after_complete_line = False  # a continuation or a bad line: keep it and what follows
                yield record
                continue
            operation = parts[6]
            if operation not in _QUERY_OPERATIONS:
                if operation in _TABLE_OPERATIONS:
                    self._remember_table_line(parts[4], parts[5])
                after_complete_line = True
                yield record
                continue
            rest = parts[8].rstrip("\r\n")
            if not statement_closes_on_line(rest):
                after_complete_line = False  # a multi-line statement opens here
                yield record
                continue
            if after_complete_line and parts[4].isdigit() and not self._matters(parts[4], parts[5], rest):
                self.dropped += 1
                continue
            after_complete_line = True
            yield record

    def _remember_table_line(self, connection_id: str, query_id: str) -> None:
        """Note a TABLE line's ids: its QUERY line (later) is kept for the evidence to join."""
        self._table_ids[(connection_id, query_id)] = None
        if len(self._table_ids) > TABLE_IDS_KEPT:
            del self._table_ids[next(iter(self._table_ids))]

    def _matters(self, connection_id: str, query_id: str, statement: str) -> bool:
        """Whether a complete QUERY line may matter: announced by TABLE lines, non-ASCII, or a keyword."""
        if (connection_id, query_id) in self._table_ids or not statement.isascii():
            return True
        lowered = statement.lower()
        return any(word in lowered for word in self.keywords)
