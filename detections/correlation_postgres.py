"""PostgreSQL log correlation: the records one backend writes for one query string, told apart by order.

A backend runs one query string at a time and logs it in this order: the `statement:` line
(log_statement, before execution), pgaudit `AUDIT:` records (one statement id per statement of the
string; utility commands are logged after they succeeded, queries when the executor starts), and, if
a statement fails, `ERROR:` + `STATEMENT:`. So a record joins the backend's current execution only
when it can be part of it; a new `statement:` line, a new pgaudit statement id that does not advance
through the query string, or an ERROR after a completed utility command starts a new execution.
Texts are compared with pgaudit's password redaction in mind (`PASSWORD <REDACTED>`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from enum import Enum

from detections.observation import Observation, TableOperation
from detections.statement_selection import Piece, select_piece, split_query
from parsers.event import AuditEvent, Source

REDACTION_MARK = "<REDACTED>"  # what pgaudit writes instead of a password
# pgaudit logs these when they start (executor hooks, DO, CREATE/ALTER EXTENSION): an ERROR after
# their record can still be theirs. Other commands are logged only once they succeeded.
_LOGGED_BEFORE_EXECUTION = frozenset(
    {"SELECT", "INSERT", "UPDATE", "DELETE", "MERGE", "DO", "CREATE EXTENSION", "ALTER EXTENSION"}
)


class PostgresRecord(Enum):
    """The part a PostgreSQL log record plays in an execution."""

    STATEMENT_LINE = "statement"  # log_statement `statement:` line
    AUDIT = "audit"  # pgaudit record (query id `statement.substatement`)
    ERROR = "error"  # ERROR + STATEMENT


def postgres_record(event: AuditEvent) -> PostgresRecord | None:
    """Which part a statement event of the PostgreSQL log plays; None for other sources."""
    if event.source is not Source.POSTGRES:
        return None
    if "." in event.query_id:
        return PostgresRecord.AUDIT
    return PostgresRecord.STATEMENT_LINE if event.succeeded else PostgresRecord.ERROR


def same_query(left: str | None, right: str | None) -> bool:
    """Whether two records can carry the same query string (unknown text never disproves it).

    pgaudit replaces a password (and may drop what follows it) with `<REDACTED>`: the redacted text's
    parts must then appear in order in the other text.
    """
    if left is None or right is None or left == right:
        return True
    for redacted, clear in ((left, right), (right, left)):
        if REDACTION_MARK in redacted and REDACTION_MARK not in clear:
            first, *rest = redacted.split(REDACTION_MARK)
            if not clear.startswith(first):
                return False
            position = len(first)
            for part in (p.strip() for p in rest):
                found = clear.find(part, position)
                if found < 0:
                    return False
                position = found + len(part)
            return True
    return False


def _statement_id(event: AuditEvent) -> str:
    """The pgaudit statement id of a record (`12` of `12.3`)."""
    return event.query_id.split(".", 1)[0]


@dataclass
class _Audited:
    """The pgaudit records of one statement id (and one text), the statement they name, their error."""

    records: list[AuditEvent]
    piece: int | None  # index of the statement in the query string; None: the text names it
    error: AuditEvent | None = None

    @property
    def before_execution(self) -> bool:
        """Whether pgaudit logged this statement when it started (so it may still fail)."""
        return self.records[0].command.upper() in _LOGGED_BEFORE_EXECUTION


@dataclass
class Execution:
    """One query string run by one backend: its `statement:` line, pgaudit records and ERROR."""

    opened_at: int
    statement_line: AuditEvent | None = None
    text: str | None = None  # the query string (from the `statement:` line when there is one)
    statements: dict[str, _Audited] = field(default_factory=dict)  # statement id → its records
    nested: dict[tuple[str, str], _Audited] = field(default_factory=dict)  # (id, text) of inner SQL
    last_piece: int = -1
    error: AuditEvent | None = None  # a failure of the statements after the last audited one

    @classmethod
    def of_statement_line(cls, position: int, event: AuditEvent) -> Execution:
        """An execution opened by a log_statement line."""
        return cls(opened_at=position, statement_line=event, text=event.statement)

    def add_audit(self, event: AuditEvent) -> bool:
        """Take a pgaudit record when it belongs to this execution; False when it starts another one."""
        statement_id, text = _statement_id(event), event.statement
        known = self.statements.get(statement_id)
        if known is not None:
            if same_query(self.text, text):
                known.records.append(event)
            else:  # SQL run inside the statement (a function body, dynamic SQL): its own text
                self.nested.setdefault((statement_id, text or ""), _Audited([], None)).records.append(event)
            return True
        if self.error is not None or not same_query(self.text, text):
            return False
        pieces = split_query(self.text or text or "")
        if len(pieces) <= 1:
            if self.statements:
                return False  # the same single statement run again
            piece = None
        else:
            piece = select_piece(pieces, event.command, event.object, self.last_piece)
            if piece is not None and piece <= self.last_piece:
                return False  # the query string started over: a new execution
        self.statements[statement_id] = _Audited([event], piece)
        if piece is not None:
            self.last_piece = piece
        if self.text is None:
            self.text = text
        return True

    def take_error(self, event: AuditEvent) -> bool:
        """Take an ERROR when it is the failure of this execution; False when it is a later one's."""
        if self.error is not None or not same_query(self.text, event.statement):
            return False
        if not self.statements:
            self.error = event
            return True
        if self._selected() and self.last_piece < len(split_query(self.text or "")) - 1:
            self.error = event  # a statement after the last audited one failed
            return True
        last = next(reversed(self.statements.values()))
        if last.before_execution or self.statement_line is not None:
            last.error = event
            return True
        return False  # the audited utility command had completed: this is a new execution failing

    def _selected(self) -> bool:
        """Whether the query string holds several statements and every record named one of them."""
        pieces = split_query(self.text or "")
        return len(pieces) > 1 and all(a.piece is not None for a in self.statements.values())

    def observations(self) -> list[Observation]:
        """The observations of a finished execution, one per statement it ran (or attempted)."""
        if not self.statements:
            records = [e for e in (self.statement_line, self.error) if e is not None]
            return [_merged(records[0], records, self.error)]
        pieces = split_query(self.text or "")
        committed = self._committed_through(pieces)
        found: list[Observation] = []
        outcomes: dict[str, tuple[str | None, _Audited]] = {}  # statement id → (its text, outcome)
        for statement_id, audited in self.statements.items():
            text = self.text if audited.piece is None else pieces[audited.piece].text
            outcome = audited
            if audited.error is None and audited.piece is not None and audited.piece > committed:
                # the string is one implicit transaction: the ERROR rolled this statement back too
                outcome = dataclasses.replace(audited, error=self.error)
            outcomes[statement_id] = (text, outcome)
        inner_found = []
        for (statement_id, inner_text), inner in self.nested.items():
            text, outer = outcomes[statement_id]
            if inner_text and text and inner_text in text:
                # the statement's own text holds this SQL (a DO block, EXECUTE '…'): classifying that
                # text already finds it, so its records only add the tables they name
                outer = dataclasses.replace(outer, records=[*outer.records, *inner.records])
                outcomes[statement_id] = (text, outer)
            else:  # SQL run inside a statement (a function): undone when that statement fails
                outcome = dataclasses.replace(inner, error=inner.error or outer.error)
                inner_found.append(_audited_observation(outcome, inner.records[0].statement))
        found.extend(_audited_observation(outcome, text) for text, outcome in outcomes.values())
        found.extend(inner_found)
        found.extend(self._unaudited(pieces, committed))
        if self.statement_line is not None:
            found[0].merged_records += 1
        return found

    def _committed_through(self, pieces: tuple[Piece, ...]) -> int:
        """The index up to which the string's statements are durable despite the ERROR that ended it.

        PostgreSQL runs a multi-statement query string as one implicit transaction: an ERROR rolls
        back every statement before it, except those a COMMIT (or END) in the string committed.
        Without an ERROR every statement stands.
        """
        if self.error is None:
            return len(pieces)
        commits = [
            i for i, p in enumerate(pieces[: self.last_piece + 1]) if p.words[:1] in (("COMMIT",), ("END",))
        ]
        return commits[-1] if commits else -1

    def _unaudited(self, pieces: tuple[Piece, ...], committed: int) -> list[Observation]:
        """Statements of a multi-statement string no pgaudit record named, as one observation per
        outcome: done, or attempted (after the last audited one when an ERROR ended the string, or
        rolled back by it).

        Only the ERROR's STATEMENT (for the statements after the last audited one) or a `statement:`
        line shows them. Without either, an unnamed statement is one pgaudit does not audit (its class
        is not in pgaudit.log) or one an earlier execution of this pid already reported (pgaudit cut
        the text at a redacted password, so the records did not share it): it is not reported again.
        """
        if not self._selected():
            return []
        chosen = {a.piece for a in self.statements.values()}
        visible = (
            range(len(pieces)) if self.statement_line is not None else range(self.last_piece + 1, len(pieces))
        )
        unnamed = [i for i in visible if i not in chosen]
        done = [pieces[i].text for i in unnamed if self.error is None or i <= committed]
        undone = [pieces[i].text for i in unnamed if self.error is not None and i > committed]
        found = []
        if done and self.statement_line is not None:
            found.append(
                Observation(event=dataclasses.replace(self.statement_line, statement="; ".join(done)))
            )
        if undone and self.error is not None:
            found.append(Observation(event=dataclasses.replace(self.error, statement="; ".join(undone))))
        return found


def _merged(best: AuditEvent, records: list[AuditEvent], error: AuditEvent | None) -> Observation:
    """An observation of `best` carrying the failure of `error` (if any) and the records' table names."""
    if error is not None and best.succeeded:
        best = dataclasses.replace(best, status=error.status, error_message=error.error_message)
    operations = tuple(
        dict.fromkeys(TableOperation(e.command, e.object) for e in records if "." in e.query_id and e.object)
    )
    return Observation(event=best, table_operations=operations, merged_records=len(records))


def _audited_observation(audited: _Audited, text: str | None) -> Observation:
    """One statement's observation: its first pgaudit record, named by the statement it is about."""
    first = audited.records[0]
    best = first if text is None or text == first.statement else dataclasses.replace(first, statement=text)
    records = audited.records if audited.error is None else [*audited.records, audited.error]
    return _merged(best, records, audited.error)
