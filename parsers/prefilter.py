"""A cheap pre-filter per dialect: drop records no enabled rule can match, before any event exists.

Built from what the enabled rules declare (detections/rule_needs.py): the actions they read and
the keywords a statement must contain for one of them to match. For MySQL-family audit logs it
decides on the raw text split at its fixed leading fields, over one batch of records:
- a connection record whose action no rule reads (DISCONNECT, CHANGEUSER … for the built-ins) is
  dropped;
- a QUERY line complete on its physical line whose statement is ASCII and holds none of the
  keywords (any case) is dropped, unless a kept TABLE line of its group (same connection and query
  id) names it, before or after it (Aurora's lines are not in order);
- TABLE lines are evidence only through their operation (a DROP line names a dropped table). A
  line whose operation is a keyword (DROP, CREATE, ALTER, RENAME for the built-ins) or whose
  return code is an error is kept, with its group's first line and QUERY line. A group of only
  READ/WRITE lines (what every DML statement writes, the bulk of an audit log) goes with its QUERY
  line: all dropped when the QUERY line is dropped; when the QUERY line stays, only the group's
  first line stays (the group keeps its place in the batch's order).
Only a line the parser surely reads is dropped: its timestamp a real time, its ids ASCII numbers,
a connection or TABLE line's tail of the expected shape, and never inside or right after a
multi-line statement (the parser's joining of continuation lines stays exactly the same); anything
it might reject is kept, so it is reported. PostgreSQL records are not filtered (ERROR/STATEMENT
and pgaudit siblings complete a statement); Activity Stream events have their own pre-filter
(parsers/prefilter_das.py).

Dropping records brings the records of one statement closer together in the batch: two that were
more than the correlator's horizon (detections.correlation, 512 records) apart can be joined into
one observation with the pre-filter and stay two without it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from copy import copy
from functools import partial
from itertools import compress
from typing import TypeVar

from parsers.event import Action, Source
from parsers.mysql_audit import BARE_OBJECT_TAIL, OPERATION_ACTIONS
from parsers.mysql_fields import STATEMENT_TAIL, TIMESTAMP_PREFIX, MalformedAuditLineError, parse_timestamp
from parsers.records import RawRecord, RecordColumns, SplitRecord
from parsers.statement_keywords import ascii_letters_lowered, holds_any, keyword_text

_T = TypeVar("_T")
_QUERY_OPERATIONS = frozenset({"QUERY", "QUERY_DDL", "QUERY_DML", "QUERY_DCL"})
# TABLE lines precede their QUERY line; remember this many recent (connection, query) ids.
TABLE_IDS_KEPT = 4096
# What the pre-filter does with an operation's lines (Prefilter._operation_kinds).
_KEPT, _UNREAD, _TABLE, _TABLE_KEYWORD, _QUERY = "kept", "unread", "table", "table keyword", "query"
# Return codes of a successful TABLE line. A plain TABLE line (READ, WRITE …: no rule's keyword names
# its operation) is evidence of nothing a rule reads (only DROP lines are, see
# detections.observation), unless it failed: a failed one could change the outcome its group reports.
_SUCCESS = ("", "0")
STAMPS_KEPT = 4096  # distinct plugin timestamps (one per second) whose validity is remembered
TAILS_KEPT = 4096  # distinct connection/TABLE line and statement tails whose shape is remembered
TAIL_CHARS_KEPT = 256
# Distinct QUERY statements (the same texts repeat: health checks, ORM queries) whose keyword check is
# remembered, up to this length each.
STATEMENTS_KEPT = 4096
STATEMENT_CHARS_KEPT = 512
# Distinct letters of statements (ascii_letters_lowered) whose keyword check is remembered: statements
# that differ only in numbers and marks (multi-row INSERTs, IN lists of ids) have the same letters.
LETTERS_KEPT = 1024
LETTER_CHARS_KEPT = 4096
_AURORA_STAMP_LENGTH = 16  # µs since the epoch: always a valid time
MYSQL_FAMILY = frozenset({Source.AURORA_MYSQL, Source.MYSQL_AUDIT})  # the dialects filtered here


class _Groups:
    """A batch's statement groups (same connection and query id) as the pre-filter decides them."""

    __slots__ = ("anchored", "dropped_queries", "first_plain", "kept")

    def __init__(self, kept: list[bool]) -> None:
        """Decide into `kept` (one flag per record of the batch)."""
        self.kept = kept
        self.anchored: set[tuple[str, str]] = set()  # groups with a kept line: their place is taken
        self.first_plain: dict[tuple[str, str], int] = {}  # a group's first line if plain: kept if it lives
        self.dropped_queries: dict[tuple[str, str], list[tuple[int, ...]]] = {}  # QUERY lines (+ anchor)

    def plain(self, group: tuple[str, str], index: int) -> None:
        """Drop a READ/WRITE line, remembering it if it is the first line of its group."""
        self.kept[index] = False
        if group not in self.anchored:
            self.first_plain.setdefault(group, index)

    def live(self, group: tuple[str, str], *, evidence: bool = True) -> None:
        """A kept line of the group: its first line keeps its place; evidence brings back its statement."""
        if group in self.first_plain:
            self.kept[self.first_plain.pop(group)] = True
        if evidence:  # Aurora's lines are not in order: evidence may follow its (dropped) statement
            for dropped in self.dropped_queries.pop(group, ()):
                for earlier in dropped:
                    self.kept[earlier] = True
        self.anchored.add(group)

    def drop_query(self, group: tuple[str, str], index: int) -> None:
        """Drop a QUERY line with its READ/WRITE lines, to be kept again if DROP evidence follows."""
        self.kept[index] = False
        anchor = self.first_plain.pop(group, None)
        self.dropped_queries.setdefault(group, []).append((index,) if anchor is None else (anchor, index))


class _Remembered(dict[str, _T]):
    """Texts seen → what `read` made of them, on demand: a hit is a plain dict lookup, a miss reads once.

    The same tails (objects, return codes) repeat on nearly every line; at most `kept` texts
    (TAILS_KEPT) are kept, each at most `chars` (TAIL_CHARS_KEPT) long.
    """

    __slots__ = ("_chars", "_kept", "_read")

    def __init__(
        self, read: Callable[[str], _T], kept: int = TAILS_KEPT, chars: int = TAIL_CHARS_KEPT
    ) -> None:
        """Remember what `read` returns per text."""
        super().__init__()
        self._read = read
        self._kept = kept
        self._chars = chars

    def __missing__(self, text: str) -> _T:
        """Read a text not seen yet and remember the answer."""
        value = self._read(text)
        if len(text) <= self._chars:  # a longer text is odd: not worth its memory
            if len(self) >= self._kept:
                self.clear()
            self[text] = value
        return value


def _bare_tail_code(rest: str) -> str | None:
    """The return code of a connection or TABLE line's fields 9+, None when the parser rejects them."""
    match = BARE_OBJECT_TAIL.fullmatch(rest.rstrip("\r\n"))
    return None if match is None else match.group(2)


def _statement_tail_fits(tail: str) -> bool:
    """Whether the text after a QUERY line's last quote is the tail that closes its statement."""
    return STATEMENT_TAIL.fullmatch(tail) is not None


def _numeric_id(text: str) -> bool:
    """Whether a connection or query id is one the parser accepts (ASCII digits, maybe signed)."""
    digits = text[1:] if text.startswith("-") else text
    return digits.isascii() and digits.isdigit()


def _plugin_stamp_reads(stamp: str) -> bool:
    """Whether a non-Aurora timestamp is one the parser reads (a real date and time)."""
    try:
        parse_timestamp(stamp)
    except MalformedAuditLineError:
        return False
    return True


class Prefilter:
    """Drops records that cannot matter to rules with these keywords and actions; counts them."""

    __slots__ = (
        "_letter_keywords",
        "_letters",
        "_operation_kinds",
        "_stamps",
        "_statement_tails",
        "_statements",
        "_table_ids",
        "_tails",
        "dropped",
        "keywords",
    )

    def __init__(self, keywords: Iterable[str], actions: Iterable[Action]) -> None:
        """Keep the lower-case statement keywords and the actions some rule reads."""
        self.keywords = tuple(sorted({word.lower() for word in keywords}))
        self._letter_keywords = all(word.isascii() and word.isalpha() for word in self.keywords)
        wanted = frozenset(actions)
        # What each operation's lines need: connection records some rule reads are kept, those no
        # rule reads may go; a TABLE line whose operation is a keyword (DROP …) is evidence, kept with
        # its group; other TABLE and QUERY lines are decided on their text.
        self._operation_kinds = {
            operation: _QUERY
            if operation in _QUERY_OPERATIONS
            else (_TABLE_KEYWORD if operation.lower() in self.keywords else _TABLE)
            if action is Action.TABLE
            else _KEPT
            if action in wanted
            else _UNREAD
            for operation, action in OPERATION_ACTIONS.items()
        }
        self.dropped = 0
        self._table_ids: dict[tuple[str, str], None] = {}
        self._stamps: dict[str, bool] = {}  # plugin timestamps seen, and whether the parser reads them
        self._tails = _Remembered(_bare_tail_code)  # connection/TABLE fields 9+ seen → return code
        self._statement_tails = _Remembered(_statement_tail_fits)  # after a QUERY line's last quote
        self._statements: dict[str, bool] = {}  # short QUERY fields 9+ seen → whether a rule may match
        # letters seen → whether they hold a keyword (holds_any, not a method: no cycle through self)
        self._letters = _Remembered(partial(holds_any, words=self.keywords), LETTERS_KEPT, LETTER_CHARS_KEPT)

    def for_batch(self) -> Prefilter:
        """A pre-filter for another batch of the same rules: the remembered answers shared, its own count.

        What is remembered per text (tails, statements, letters, stamps) depends only on the text and
        the rules' keywords, so a warm container keeps it across batches; the TABLE ids a batch saw
        and its drop count stay with that batch.
        """
        batch = copy(self)
        batch.dropped = 0
        batch._table_ids = {}
        return batch

    def records(self, source: Source, records: Sequence[RawRecord]) -> list[RawRecord]:
        """The records of one batch in `source`'s dialect that may matter (all of them for other dialects)."""
        if source not in MYSQL_FAMILY:
            return list(records)
        return [record for record, _parts in self._mysql(records)]

    def split_records(self, source: Source, records: Sequence[RawRecord]) -> list[SplitRecord]:
        """`records()` with each record's text as split at its first eight commas (None: not split).

        The MySQL-family parser takes the split text (parse_mysql_split) instead of splitting again.
        """
        if source not in MYSQL_FAMILY:
            return [(record, None) for record in records]
        return self._mysql(records)

    def _mysql(self, records: Sequence[RawRecord]) -> list[SplitRecord]:
        """MySQL-family audit records minus those no rule can match, each with its split text."""
        if isinstance(records, RecordColumns):  # a CloudWatch payload: records made for kept lines only
            kept, split = self._decide(records.texts)
            return list(zip(records.picked(kept), compress(split, kept), strict=True))
        kept, split = self._decide([record.text for record in records])
        return list(compress(zip(records, split, strict=True), kept))

    def _decide(self, texts: Sequence[str]) -> tuple[list[bool], list[list[str] | None]]:
        """Whether each line may matter, and its text split at its first eight commas; counts drops.

        The usual line (Aurora's stamp, ASCII ids: 16 digits before the first comma is what
        TIMESTAMP_PREFIX matches) is judged inline; a READ/WRITE or connection line no rule reads
        costs a split, two dictionary lookups and a few C checks. Anything else takes `_readable`.
        """
        kept = [True] * len(texts)
        split: list[list[str] | None] = [None] * len(texts)
        groups = _Groups(kept)
        anchored, first_plain_setdefault = groups.anchored, groups.first_plain.setdefault
        after_complete_line = True  # False while the parser may hold an open statement
        kind_of = self._operation_kinds.get
        tail_code = self._tails
        for index, text in enumerate(texts):
            parts = text.split(",", 8)
            if len(parts) < 9:
                if text and not text.isspace():  # blank: skipped by the parser, or part of an open statement
                    split[index] = parts
                    after_complete_line = False  # a continuation or a bad line: keep it and what follows
                continue
            stamp, connection_id, query_id = parts[0], parts[4], parts[5]
            if (
                len(stamp) == _AURORA_STAMP_LENGTH
                and stamp.isdigit()
                and (text.isascii() or (stamp + connection_id + query_id).isascii())  # the first: O(1)
            ):
                kind: str | None = kind_of(parts[6], _KEPT)  # an unknown operation: the parser's to report
                if kind is _KEPT:  # a login some rule reads, or an unknown operation: no more to decide
                    split[index] = parts
                    after_complete_line = True
                    continue
                droppable = after_complete_line and (
                    (connection_id.isdigit() and query_id.isdigit())
                    or self._readable(stamp, connection_id, query_id)
                )
            else:
                kind, droppable = self._unusual_line(parts, after_complete_line)
                if kind is None or kind is _KEPT:  # not a record's first line, or kept
                    split[index] = parts
                    after_complete_line = kind is _KEPT
                    continue
            after_complete_line = True
            if kind is _UNREAD:  # a connection record no rule reads
                if droppable and tail_code[parts[8]] is not None:
                    kept[index] = False
                    continue
            elif kind is not _QUERY:  # a TABLE line
                group = (connection_id, query_id)
                # READ, WRITE … (no rule's keyword names them) that succeeded: at most the group's
                # place matters (_Groups.plain, inline)
                if droppable and kind is _TABLE and tail_code[parts[8]] in _SUCCESS:
                    kept[index] = False
                    if group not in anchored and first_plain_setdefault(group, index) == index:
                        split[index] = parts  # the group's first line: kept again if the group lives
                    continue
                groups.live(group)
                self._remember_table_line(group)
            else:
                group = (connection_id, query_id)
                after_complete_line = self._query_line(groups, group, index, parts[8], droppable)
                if not kept[index]:
                    continue
            # Only a split the parser may read is held: a dropped line's list is freed at once, before
            # the gc tracks it for long. A QUERY line kept again (DROP evidence after it) is split again.
            split[index] = parts
        self.dropped += kept.count(False)
        return kept, split

    def _query_line(
        self, groups: _Groups, group: tuple[str, str], index: int, rest: str, droppable: bool
    ) -> bool:
        """Decide a QUERY line (fields 9+ in `rest`); whether its statement closes on it."""
        if rest.endswith(("\n", "\r")):
            rest = rest.rstrip("\r\n")
        # statement_closes_on_line(rest), with the tail's match remembered (the same tails repeat)
        closing = rest.rfind("'")
        if not (
            rest.startswith("'")
            and closing > 0
            and "\n" not in rest
            and self._statement_tails[rest[closing + 1 :]]
        ):
            groups.live(group, evidence=False)
            return False  # a multi-line statement opens here
        if droppable and not self._matters(group, rest):
            groups.drop_query(group, index)
        else:
            groups.live(group, evidence=False)
        return True

    def _unusual_line(self, parts: list[str], after_complete_line: bool) -> tuple[str | None, bool]:
        """(what the line's operation needs, whether it may go) for a line `_decide` does not judge inline.

        None: the line does not start a record (a continuation or a bad line, kept).
        """
        if TIMESTAMP_PREFIX.match(parts[0] + ",") is None:
            return None, False
        kind = self._operation_kinds.get(parts[6], _KEPT)  # an unknown operation is the parser's to report
        return kind, after_complete_line and self._readable(parts[0], parts[4], parts[5])

    def _readable(self, stamp: str, connection_id: str, query_id: str) -> bool:
        """Whether the parser surely reads this timestamp and these ids (else the line stays, reported)."""
        if not (
            (
                connection_id.isdigit()
                and query_id.isdigit()
                and connection_id.isascii()
                and query_id.isascii()
            )
            or (_numeric_id(connection_id) and _numeric_id(query_id))
        ):
            return False
        # TIMESTAMP_PREFIX matched: a 16-character stamp is ASCII µs, always a valid time
        return len(stamp) == _AURORA_STAMP_LENGTH or self._plugin_stamp_reads(stamp)

    def _plugin_stamp_reads(self, stamp: str) -> bool:
        """Whether the parser reads a `YYYYMMDD HH:MM:SS` stamp as a real time (remembered per stamp)."""
        readable = self._stamps.get(stamp)
        if readable is None:
            if len(self._stamps) >= STAMPS_KEPT:
                self._stamps.clear()
            readable = self._stamps[stamp] = _plugin_stamp_reads(stamp)
        return readable

    def _bare_tail(self, rest: str) -> str | None:
        """The return code of a connection or TABLE line's fields 9+, None when the parser rejects them."""
        return self._tails[rest]

    def _remember_table_line(self, group: tuple[str, str]) -> None:
        """Note a kept TABLE line's ids: its QUERY line (later) is kept for the evidence to join."""
        self._table_ids[group] = None
        if len(self._table_ids) > TABLE_IDS_KEPT:
            del self._table_ids[next(iter(self._table_ids))]

    def _matters(self, group: tuple[str, str], statement: str) -> bool:
        """Whether a complete QUERY line may matter: announced by TABLE lines, non-ASCII, or a keyword."""
        if group in self._table_ids:
            return True
        if len(statement) > STATEMENT_CHARS_KEPT:  # long texts rarely repeat: hashing one costs a check
            return self._may_match(statement)
        may_match = self._statements.get(statement)
        if may_match is None:
            if len(self._statements) >= STATEMENTS_KEPT:
                self._statements.clear()
            may_match = self._statements[statement] = self._may_match(statement)
        return may_match

    def _may_match(self, statement: str) -> bool:
        """Whether a statement is not ASCII or holds one of the keywords (see keyword_text)."""
        # No keyword in the letters alone: none in keyword_text's text either. One C pass, far cheaper
        # than keyword_text on long statements (multi-row INSERTs).
        if (
            self._letter_keywords
            and statement.isascii()
            and not self._letters[ascii_letters_lowered(statement)]
        ):
            return False
        text = keyword_text(statement)
        return text is None or holds_any(text, self.keywords)
