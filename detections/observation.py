"""One thing that happened: an event plus what correlated records (TABLE/AUX lines, duplicates) add."""

from __future__ import annotations

from dataclasses import dataclass, field

from detections.sql import Statement, StatementKind, classify, dialect_of
from parsers.event import STATEMENT_ACTIONS, AuditEvent

DROP_COMMANDS = frozenset({"DROP", "DROP TABLE"})  # MySQL TABLE event / DAS AUX, pgaudit COMMAND


# Not `frozen` (as AuditEvent): one is built per table record; still a value, never assigned to.
@dataclass(slots=True, unsafe_hash=True)
class TableOperation:
    """A table touched by a statement, as reported by a TABLE event, a DAS AUX event or pgaudit."""

    command: str  # DROP, CREATE, READ … or pgaudit's "DROP TABLE"
    object: str


# Slotted, with the classification computed on first use by hand: functools.cached_property takes
# a lock on every first computation on Python 3.11, and one observation is built per execution.
@dataclass(eq=False, slots=True)
class Observation:
    """An event as rules see it: the statement classified once, plus correlated evidence."""

    event: AuditEvent
    table_operations: tuple[TableOperation, ...] = ()
    merged_records: int = 1  # how many audit records describe this one thing
    _statements: tuple[Statement, ...] | None = field(default=None, init=False, repr=False)
    _by_kind: dict[StatementKind, tuple[Statement, ...]] | None = field(default=None, init=False, repr=False)

    @property
    def statements(self) -> tuple[Statement, ...]:
        """The statement text split and classified (empty when the event carries no statement)."""
        statements = self._statements
        if statements is None:
            event = self.event
            if event.action not in STATEMENT_ACTIONS or not event.statement:
                statements = ()
            else:
                statements = classify(event.statement, dialect_of(event))
            self._statements = statements
        return statements

    def statements_of(self, *kinds: StatementKind) -> tuple[Statement, ...]:
        """The classified statements of the given kinds."""
        statements = self.statements
        if not statements:
            return ()
        if len(kinds) == 1:  # most rules ask for one kind
            by_kind = self._by_kind
            if by_kind is None:
                by_kind = self._by_kind = _grouped(statements)
            return by_kind.get(kinds[0], ())
        return tuple(s for s in statements if s.kind in kinds)

    @property
    def statement_is_complete(self) -> bool:
        """Whether the statement text is present and was not cut by the source."""
        return bool(self.event.statement) and not self.event.statement_truncated

    def dropped_tables(self) -> tuple[str, ...]:
        """Tables that TABLE / AUX / pgaudit evidence says were dropped (the only evidence rules read)."""
        return tuple(
            op.object for op in self.table_operations if op.command.upper() in DROP_COMMANDS and op.object
        )

    @property
    def has_drop_evidence(self) -> bool:
        """Whether correlated records say a table was dropped, whatever the statement text says."""
        for op in self.table_operations:  # noqa: SIM110 - a loop: most have none, no generator for them
            if op.command.upper() in DROP_COMMANDS:
                return True
        return False


def _grouped(statements: tuple[Statement, ...]) -> dict[StatementKind, tuple[Statement, ...]]:
    """The classified statements grouped by kind, each group in statement order."""
    grouped: dict[StatementKind, list[Statement]] = {}
    for statement in statements:
        grouped.setdefault(statement.kind, []).append(statement)
    return {kind: tuple(group) for kind, group in grouped.items()}
