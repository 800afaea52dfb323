"""What a rule can match, declared so records no enabled rule can match are dropped before parsing.

A rule declares the statement kinds it classifies (`RuleNeeds`); a rule without a declaration needs
everything and turns the pre-filter off. The keywords below are the words the classifier
(detections.sql) must see in a statement's text to produce each kind: a statement containing none
of them, in any case, can never be classified as that kind — not even through a DO block or dynamic
SQL, whose literal text still holds the word.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from detections.sql_statement import StatementKind
from parsers.event import STATEMENT_ACTIONS, Action
from parsers.prefilter import Prefilter

if TYPE_CHECKING:  # the Activity Stream parser is imported by the Activity Stream path only
    from parsers.prefilter_das import ActivityPrefilter

LOGIN_ACTIONS = frozenset({Action.CONNECT, Action.FAILED_CONNECT})

# Words the classifier needs for each kind (see detections/sql.py and detections/sql_accounts.py).
KIND_KEYWORDS: dict[StatementKind, tuple[str, ...]] = {
    StatementKind.DROP_TABLE: ("drop",),
    StatementKind.DROP_DATABASE: ("drop",),
    StatementKind.DROP_USER: ("drop",),
    StatementKind.TRUNCATE: ("truncate",),
    StatementKind.GRANT: ("grant", "alter"),  # PostgreSQL ALTER GROUP g ADD USER u
    StatementKind.REVOKE: ("revoke", "alter"),  # PostgreSQL ALTER GROUP g DROP USER u
    StatementKind.CREATE_USER: ("create",),
    StatementKind.CREATE_ROLE: ("create",),
    StatementKind.ALTER_USER: ("alter", "rename"),  # ALTER USER/ROLE/GROUP, RENAME USER
    StatementKind.SET_PASSWORD: ("password",),  # SET PASSWORD
    # SET/RESET (also inside set_config() and ALTER … SET), ALTER SYSTEM|ROLE|DATABASE … SET|RESET
    StatementKind.AUDIT_SETTING: ("set", "alter"),
    StatementKind.AUDIT_REMOVED: ("uninstall", "drop"),  # UNINSTALL PLUGIN|SONAME, DROP EXTENSION
}


@dataclass(frozen=True, slots=True)
class RuleNeeds:
    """What a rule can match: the statement kinds it classifies and the actions of the events it reads.

    The engine calls a rule only on observations whose event action is listed (a statement rule
    reads only statement and TABLE records: only those are correlated into table evidence), and a
    statement rule only when a classified statement is of one of its kinds or, with
    `drop_evidence`, when DROP table evidence came with it (detections/rule_index.py).
    """

    statement_kinds: frozenset[StatementKind] = frozenset()
    actions: frozenset[Action] = STATEMENT_ACTIONS
    # Reads DROP evidence (Observation.dropped_tables): called on it whatever the statement text holds.
    drop_evidence: bool = False

    @classmethod
    def statements(cls, *kinds: StatementKind, drop_evidence: bool = False) -> RuleNeeds:
        """A statement rule matching these kinds (and, with `drop_evidence`, DROP table evidence)."""
        return cls(statement_kinds=frozenset(kinds), drop_evidence=drop_evidence)

    @classmethod
    def logins(cls) -> RuleNeeds:
        """A login rule: it reads successful and failed connections only, never a statement."""
        return cls(actions=LOGIN_ACTIONS)


def statement_keywords(needs: Iterable[RuleNeeds | None]) -> tuple[str, ...] | None:
    """Lower-case words one of which a statement must contain to matter; None when any rule needs all."""
    words: set[str] = set()
    for need in needs:
        if need is None:
            return None  # an undeclared rule (a user rule, say) may match any statement
        for kind in need.statement_kinds:
            kind_words = KIND_KEYWORDS.get(kind)
            if kind_words is None:
                return None  # DML, SELECT, OTHER …: no keyword tells them apart cheaply
            words.update(kind_words)
    return tuple(sorted(words))


def declared_needs(needs: Iterable[RuleNeeds | None]) -> tuple[tuple[str, ...], frozenset[Action]] | None:
    """The statement keywords and the actions rules with these needs read; None when any rule needs all."""
    declared = list(needs)
    keywords = statement_keywords(declared)
    if keywords is None:
        return None
    return keywords, frozenset(action for need in declared if need is not None for action in need.actions)


def prefilter_for(needs: Iterable[RuleNeeds | None]) -> Prefilter | None:
    """A fresh pre-filter (its own counter) for rules with these needs; None when it cannot filter."""
    declared = declared_needs(needs)
    return None if declared is None else Prefilter(*declared)


def activity_prefilter_for(needs: Iterable[RuleNeeds | None]) -> ActivityPrefilter | None:
    """A fresh Activity Stream pre-filter (one batch) for rules with these needs; None: it cannot filter."""
    declared = declared_needs(needs)
    if declared is None:
        return None
    from parsers.prefilter_das import ActivityPrefilter  # noqa: PLC0415 - see the TYPE_CHECKING import

    return ActivityPrefilter(*declared)
