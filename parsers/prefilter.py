"""A cheap pre-filter per dialect: drop records no enabled rule can match, before any event exists.

Built from what the enabled rules declare (detections/rule_needs.py): the actions they read and
the keywords a statement must contain for one of them to match. For MySQL-family audit logs it
drops, on the raw text split at its fixed leading fields:
- a connection record whose action no rule reads (DISCONNECT, CHANGEUSER … for the built-ins);
- a QUERY line complete on its physical line whose statement is ASCII, holds none of the keywords
  (any case), and was not announced by an earlier TABLE line of the same query.
TABLE lines all stay (DROP evidence for a cut statement; the first line of a group is where a
finding from that evidence points). A record is dropped only after a complete line (never inside,
or right after, a multi-line statement: the parser's joining of continuation lines stays exactly
the same), and only when its connection id is numeric; anything else the parser might reject is
kept. PostgreSQL and Activity Stream records are not filtered (ERROR/STATEMENT and pgaudit
siblings complete a statement).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from parsers.event import Action, Source
from parsers.mysql_audit import OPERATION_ACTIONS, statement_closes_on_line
from parsers.mysql_fields import TIMESTAMP_PREFIX
from parsers.records import RawRecord

_QUERY_OPERATIONS = frozenset({"QUERY", "QUERY_DDL", "QUERY_DML", "QUERY_DCL"})
# TABLE lines precede their QUERY line; remember this many recent (connection, query) ids.
TABLE_IDS_KEPT = 4096
_FILTERED_SOURCES = frozenset({Source.AURORA_MYSQL, Source.MYSQL_AUDIT})


def keyword_text(statement: str) -> str | None:
    """The text to look for keywords in: lower case, backslashes removed; None when not ASCII.

    Removing backslashes matters: the classifier unescapes string literals it runs (EXECUTE
    IMMEDIATE 'DR\\OP TABLE t' drops a table), and an audit line escapes the backslash once more.
    Beyond ASCII, case mapping (e.g. U+017F → "S") could make a keyword: such text is never gated.
    """
    if not statement.isascii():
        return None
    lowered = statement.lower()
    return lowered.replace("\\", "") if "\\" in lowered else lowered


class Prefilter:
    """Drops records that cannot matter to rules with these keywords and actions; counts them."""

    __slots__ = ("_kept_operations", "_table_ids", "dropped", "keywords")

    def __init__(self, keywords: Iterable[str], actions: Iterable[Action]) -> None:
        """Keep the lower-case statement keywords and the actions some rule reads."""
        self.keywords = tuple(sorted({word.lower() for word in keywords}))
        wanted = frozenset(actions)
        # Bare (non-QUERY) operations worth parsing: connections some rule reads, every TABLE line.
        self._kept_operations = frozenset(
            operation
            for operation, action in OPERATION_ACTIONS.items()
            if operation not in _QUERY_OPERATIONS and (action is Action.TABLE or action in wanted)
        )
        self.dropped = 0
        self._table_ids: dict[tuple[str, str], None] = {}

    def records(self, source: Source, records: Iterable[RawRecord]) -> Iterator[RawRecord]:
        """The records of one batch in `source`'s dialect that may matter (all of them for other dialects)."""
        if source not in _FILTERED_SOURCES:
            yield from records
            return
        yield from self._mysql(records)

    def _mysql(self, records: Iterable[RawRecord]) -> Iterator[RawRecord]:
        """MySQL-family audit records minus those no rule can match."""
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
            droppable = after_complete_line and parts[4].isdigit()
            after_complete_line = True
            if operation not in _QUERY_OPERATIONS:
                if operation in self._kept_operations or operation not in OPERATION_ACTIONS:
                    if OPERATION_ACTIONS.get(operation) is Action.TABLE:
                        self._remember_table_line(parts[4], parts[5])
                    yield record
                elif droppable:
                    self.dropped += 1
                else:
                    yield record
                continue
            rest = parts[8].rstrip("\r\n")
            if not statement_closes_on_line(rest):
                after_complete_line = False  # a multi-line statement opens here
                yield record
            elif droppable and not self._matters(parts[4], parts[5], rest):
                self.dropped += 1
            else:
                yield record

    def _remember_table_line(self, connection_id: str, query_id: str) -> None:
        """Note a kept TABLE line's ids: its QUERY line (later) is kept for the evidence to join."""
        self._table_ids[(connection_id, query_id)] = None
        if len(self._table_ids) > TABLE_IDS_KEPT:
            del self._table_ids[next(iter(self._table_ids))]

    def _matters(self, connection_id: str, query_id: str, statement: str) -> bool:
        """Whether a complete QUERY line may matter: announced by TABLE lines, non-ASCII, or a keyword."""
        if (connection_id, query_id) in self._table_ids:
            return True
        text = keyword_text(statement)
        return text is None or any(word in text for word in self.keywords)
