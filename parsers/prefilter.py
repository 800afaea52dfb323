"""A cheap pre-filter per dialect: drop records no enabled rule can match, before any event exists.

Built from what the enabled rules declare (detections/rule_needs.py): the actions they read and
the keywords a statement must contain for one of them to match. For MySQL-family audit logs it
decides on the raw text split at its fixed leading fields, over one batch of records:
- a connection record whose action no rule reads (DISCONNECT, CHANGEUSER … for the built-ins) is
  dropped;
- a QUERY line complete on its physical line whose statement is ASCII and holds none of the
  keywords (any case) is dropped, unless a kept TABLE line announced it;
- TABLE lines are evidence only through their operation (a DROP line names a dropped table). A
  line whose operation is a keyword (DROP, CREATE, ALTER, RENAME for the built-ins) or whose
  return code is an error is kept, with its whole group (same connection and query id) and the
  group's QUERY line. A group of only READ/WRITE lines (what every DML statement writes, the bulk
  of an audit log) goes with its QUERY line: all dropped when the QUERY line is dropped; when the
  QUERY line stays, only its first line stays (the group keeps its place in the batch's order);
  when the QUERY line is not in the batch, all stay.
A record is dropped only after a complete line (never inside, or right after, a multi-line
statement: the parser's joining of continuation lines stays exactly the same), and only when its
connection id is numeric; anything else the parser might reject is kept. PostgreSQL records are
not filtered (ERROR/STATEMENT and pgaudit siblings complete a statement); Activity Stream events
have their own pre-filter (parsers/prefilter_das.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

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


def holds_any(text: str, words: Sequence[str]) -> bool:
    """Whether `text` contains one of `words` (a plain loop: no generator per call on the hot path)."""
    for word in words:  # noqa: SIM110 - any() over a generator costs more than the scans it saves
        if word in text:
            return True
    return False


class Prefilter:
    """Drops records that cannot matter to rules with these keywords and actions; counts them."""

    __slots__ = ("_kept_operations", "_table_ids", "dropped", "keywords")

    def __init__(self, keywords: Iterable[str], actions: Iterable[Action]) -> None:
        """Keep the lower-case statement keywords and the actions some rule reads."""
        self.keywords = tuple(sorted({word.lower() for word in keywords}))
        wanted = frozenset(actions)
        # Connection operations some rule reads (QUERY and TABLE lines are decided on their text).
        self._kept_operations = frozenset(
            operation
            for operation, action in OPERATION_ACTIONS.items()
            if operation not in _QUERY_OPERATIONS and action is not Action.TABLE and action in wanted
        )
        self.dropped = 0
        self._table_ids: dict[tuple[str, str], None] = {}

    def records(self, source: Source, records: Sequence[RawRecord]) -> list[RawRecord]:
        """The records of one batch in `source`'s dialect that may matter (all of them for other dialects)."""
        if source not in _FILTERED_SOURCES:
            return list(records)
        return self._mysql(records)

    def _mysql(self, records: Sequence[RawRecord]) -> list[RawRecord]:
        """MySQL-family audit records minus those no rule can match."""
        kept = [True] * len(records)
        anchored: set[tuple[str, str]] = set()  # groups with a kept line: their place is taken
        first_plain: dict[tuple[str, str], int] = {}  # a group's first line, if plain: kept if it lives
        after_complete_line = True  # False while the parser may hold an open statement
        for index, record in enumerate(records):
            text = record.text
            if not text or text.isspace():
                continue  # blank: skipped by the parser, or part of an open statement
            parts = text.split(",", 8)
            if len(parts) < 9 or TIMESTAMP_PREFIX.match(text) is None:
                after_complete_line = False  # a continuation or a bad line: keep it and what follows
                continue
            operation = parts[6]
            droppable = after_complete_line and parts[4].isdigit()
            after_complete_line = True
            action = OPERATION_ACTIONS.get(operation)
            if action is not Action.TABLE and operation not in _QUERY_OPERATIONS:  # a connection record
                if droppable and action is not None and operation not in self._kept_operations:
                    kept[index] = False
                continue
            group = (parts[4], parts[5])
            if action is Action.TABLE:
                if droppable and self._plain_table_line(operation, parts[8]):
                    kept[index] = False  # a READ/WRITE line: at most the group's place matters
                    if group not in anchored:
                        first_plain.setdefault(group, index)
                    continue
                if group in first_plain:  # the group lives: its first line keeps its place
                    kept[first_plain.pop(group)] = True
                anchored.add(group)
                self._remember_table_line(group)
            else:
                rest = parts[8]
                if rest.endswith(("\n", "\r")):
                    rest = rest.rstrip("\r\n")
                if not statement_closes_on_line(rest):
                    after_complete_line = False  # a multi-line statement opens here
                elif droppable and not self._matters(group, rest):
                    kept[index] = False  # with its READ/WRITE lines: nothing in the group can match
                    first_plain.pop(group, None)
                    continue
                if group in first_plain:
                    kept[first_plain.pop(group)] = True
                anchored.add(group)
        self.dropped += kept.count(False)
        return [record for record, keep in zip(records, kept, strict=True) if keep]

    def _plain_table_line(self, operation: str, rest: str) -> bool:
        """Whether a TABLE line is a successful operation no rule's keyword names (READ, WRITE …).

        Such a line is evidence of nothing a rule reads (only DROP lines are, see
        detections.observation), and a failed one could change the outcome its group reports.
        """
        if operation.lower() in self.keywords:
            return False
        fields = rest.rstrip("\r\n").split(",")
        return len(fields) >= 2 and fields[1] in ("", "0")

    def _remember_table_line(self, group: tuple[str, str]) -> None:
        """Note a kept TABLE line's ids: its QUERY line (later) is kept for the evidence to join."""
        self._table_ids[group] = None
        if len(self._table_ids) > TABLE_IDS_KEPT:
            del self._table_ids[next(iter(self._table_ids))]

    def _matters(self, group: tuple[str, str], statement: str) -> bool:
        """Whether a complete QUERY line may matter: announced by TABLE lines, non-ASCII, or a keyword."""
        if group in self._table_ids:
            return True
        text = keyword_text(statement)
        return text is None or holds_any(text, self.keywords)
