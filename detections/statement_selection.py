"""Which statement of a multi-statement query string an audit record is about (pgaudit / DAS COMMAND).

pgaudit (and the Aurora PostgreSQL activity stream built on it) repeats the whole query string in the
record of every statement it runs; only the COMMAND field (a PostgreSQL command tag such as
`DROP TABLE`, `CREATE ROLE`, `GRANT ROLE`) says which statement a record describes. These helpers
split a query string into its statements and pick the one a command tag names.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from detections.sql_tokens import Dialect, TokenKind, split_statements, tokenize

_LEADING_WORDS = 8  # a command tag's words all appear within a statement's first few keywords
# Keywords a statement may spell where its command tag says ROLE (CREATE USER → tag CREATE ROLE).
_ROLE_SYNONYMS = frozenset({"USER", "GROUP"})
# Command tags of statements that may start with a WITH clause (`WITH x AS (…) DELETE …`).
_WITH_COMMANDS = frozenset({"SELECT", "INSERT", "UPDATE", "DELETE", "MERGE"})
_FULL, _FIRST_WORD = 2, 1  # how well a statement matches a command tag


@dataclass(frozen=True, slots=True)
class Piece:
    """One statement of a query string: its text and its leading keywords (upper case)."""

    text: str
    words: tuple[str, ...]


@lru_cache(maxsize=256)
def split_query(text: str) -> tuple[Piece, ...]:
    """The statements of a PostgreSQL query string, in order, each from its first to its last token."""
    pieces = []
    for tokens in split_statements(tokenize(text, Dialect.POSTGRES)):
        words = tuple(t.upper for t in tokens if t.kind is TokenKind.WORD)[:_LEADING_WORDS]
        pieces.append(Piece(text[tokens[0].start : tokens[-1].end], words))
    return tuple(pieces)


def _match_level(piece: Piece, command: tuple[str, ...]) -> int:
    """2 when every word of the command tag appears in order in the statement's leading keywords,
    1 when only the first word matches, 0 when the statement is of another command.
    """
    if not piece.words or not command:
        return 0
    words = tuple("ROLE" if w in _ROLE_SYNONYMS else w for w in piece.words)
    if words[0] != command[0]:
        return _FIRST_WORD if words[0] == "WITH" and command[0] in _WITH_COMMANDS else 0
    position = 1
    for wanted in command[1:]:
        try:
            position = words.index(wanted, position) + 1
        except ValueError:
            return _FIRST_WORD
    return _FULL


def _names_object(piece: Piece, object_name: str) -> bool:
    """Whether a statement's text mentions the last part of an object name (public.t → t)."""
    name = object_name.rsplit(".", 1)[-1].strip('"').lower()
    return bool(name) and name in piece.text.lower()


def select_piece(
    pieces: tuple[Piece, ...], command: str, object_name: str = "", after: int = -1
) -> int | None:
    """The index of the statement a record with this command tag describes; None when the text holds
    one statement (it names the statement itself) or no statement matches the command.

    Statements after `after` (the last one an earlier record of the same query string named) come
    first; then one naming the record's object; then the first in order.
    """
    if len(pieces) <= 1:
        return None
    tag = tuple(command.upper().split())
    levels = [_match_level(piece, tag) for piece in pieces]
    best = max(levels)
    if best == 0:
        return None
    candidates = [i for i, level in enumerate(levels) if level == best]
    later = [i for i in candidates if i > after]
    candidates = later or candidates
    if object_name:
        named = [i for i in candidates if _names_object(pieces[i], object_name)]
        candidates = named or candidates
    return candidates[0]
