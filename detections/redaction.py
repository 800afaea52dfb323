"""Mask secrets in SQL text (passwords, password hashes, replication and foreign-server passwords).

The server cannot be trusted to have done it (`log_statement` writes `PASSWORD '…'` in clear text), so
every statement shown in an alert or log goes through `redact_statement`. Each secret literal is
replaced, quotes and all, by REDACTED; every other character is kept.

Where the literal ends depends on the dialect (`\\'` is an escape in MySQL, not in standard PostgreSQL
strings; `#` and nested comments differ), so the text is scanned under each dialect and the union of
what any of them calls a secret is masked. Over-masking is the accepted failure. Literals that hold
SQL (PREPARE s FROM '…', a `$$` function body) are redacted inside: a dollar-quoted body in place, a
quoted one whole.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache

from detections.sql_tokens import LITERAL_KINDS, Dialect, Token, TokenKind, split_statements, tokenize

REDACTED = "'***'"

_DIALECTS = (Dialect.ANY, Dialect.MYSQL, Dialect.POSTGRES)
_MAX_PASSES = 8  # redaction repeats until nothing changes, so a second call changes nothing
_MAX_NESTING = 3  # SQL inside a literal inside a literal …: deeper text is masked whole if it may hold one
# Text without any of these cannot hold a secret this module recognizes (the fast path).
_HINTS = ("passw", "identified", "://", "rds_set_external")
# A libpq connection string or URL with a password: CREATE SUBSCRIPTION … CONNECTION '…', dblink.
_CONNECTION_SECRET = re.compile(r"password\s*=|://[^/\s@]*:[^@\s]*@", re.IGNORECASE)
_CONCATENATED = frozenset({TokenKind.STRING, TokenKind.DQUOTED})  # 'a' 'b' is one string 'ab'

Edit = tuple[int, int, str]  # replace text[start:end] with the string
Memo = dict[tuple[str, int], str]  # (literal content, nesting) -> its redaction, within one call


# Recent texts and their redaction, as for classification (detections.sql): the same statement
# repeats, the result is a pure function of the text. Bounded in entries and in text length.
CACHED_TEXTS = 2048
CACHED_TEXT_CHARS = 2048


def redact_statement(sql: str) -> str:
    """`sql` with every secret literal replaced by REDACTED; never raises, idempotent."""
    if len(sql) <= CACHED_TEXT_CHARS:
        return _redact_cached(sql)
    return _redact(sql, 0, {})


@lru_cache(maxsize=CACHED_TEXTS)
def _redact_cached(sql: str) -> str:
    """`redact_statement` of a short text, remembered (the fast test for a secret too: texts repeat)."""
    return _redact(sql, 0, {})


def _may_hold_secret(sql: str) -> bool:
    """Cheap test: does the text mention anything a secret could follow?"""
    lowered = sql.lower()
    for hint in _HINTS:  # noqa: SIM110 - a loop: no generator per statement on the hot path
        if hint in lowered:
            return True
    return False


def _redact(sql: str, nesting: int, memo: Memo) -> str:
    """Redact until a pass changes nothing (a masked literal can change how the rest tokenizes)."""
    for _ in range(_MAX_PASSES):
        if not _may_hold_secret(sql):
            return sql
        edits = [edit for dialect in _DIALECTS for edit in _edits(sql, dialect, nesting, memo)]
        redacted = _apply(sql, _merge(edits))
        if redacted == sql:
            return sql
        sql = redacted
    return sql


def _overlap(a: Edit, b: Edit) -> bool:
    """Whether two edits touch common characters."""
    return a[0] < b[1] and b[0] < a[1]


def _merge(edits: list[Edit]) -> list[Edit]:
    """Edits sorted and made disjoint: duplicates dropped, overlapping ones joined into REDACTED.

    An in-place redaction of a literal's body that overlaps a masked literal waits for the next pass
    (another dialect read the body as code and masked a secret in it; the body is redone after that).
    """
    unique = set(edits)
    masks = [edit for edit in unique if edit[2] == REDACTED]
    kept = masks + [
        edit for edit in unique if edit[2] != REDACTED and not any(_overlap(edit, mask) for mask in masks)
    ]
    merged: list[Edit] = []
    for edit in sorted(kept, key=lambda e: (e[0], -e[1])):
        if merged and edit[0] < merged[-1][1]:
            start, end, _ = merged[-1]
            merged[-1] = (start, max(end, edit[1]), REDACTED)
        else:
            merged.append(edit)
    return merged


def _apply(sql: str, edits: list[Edit]) -> str:
    """The text with non-overlapping, sorted edits applied."""
    parts: list[str] = []
    position = 0
    for start, end, replacement in edits:
        parts.append(sql[position:start])
        parts.append(replacement)
        position = end
    parts.append(sql[position:])
    return "".join(parts)


def _edits(sql: str, dialect: Dialect, nesting: int, memo: Memo) -> Iterator[Edit]:
    """The edits one dialect's reading of the text calls for."""
    for statement in split_statements(tokenize(sql, dialect)):
        for index in _secret_indexes(statement):
            yield from _mask_run(statement, index)
        for token in statement:
            if token.kind in LITERAL_KINDS:
                yield from _nested_edits(token, nesting, memo)


def _secret_indexes(tokens: list[Token]) -> Iterator[int]:
    """Indexes of the tokens that start a secret literal in one statement."""
    identified = False  # inside a MySQL IDENTIFIED … clause (until the next account's comma)
    depth = 0
    set_password = len(tokens) > 1 and tokens[0].is_word("SET") and tokens[1].is_word("PASSWORD")
    for i, token in enumerate(tokens):
        if token.kind is TokenKind.PUNCT:
            if token.upper in "()":
                depth += 1 if token.upper == "(" else -1
            elif token.upper == "," and depth <= 0:
                identified = False
            elif token.upper == "=" and set_password:
                yield from _value_at(tokens, i + 1)  # SET PASSWORD [FOR u] = '…'
                set_password = False
            continue
        word = token.upper if token.kind is TokenKind.WORD else ""
        if word == "IDENTIFIED":
            identified = True
        elif identified and word in ("BY", "AS", "USING"):
            yield from _value_at(tokens, i + 1)  # IDENTIFIED [WITH|VIA plugin] BY|AS|USING '…'
        elif word == "PASSWORD" or word.endswith("_PASSWORD"):
            yield from _value_at(tokens, i + 1)  # [ENCRYPTED] PASSWORD '…', MASTER_PASSWORD = '…'
        elif word == "REPLACE":
            yield from _value_at(tokens, i + 1, function=False)  # MySQL … REPLACE 'current password'
    yield from _rds_replication_password(tokens)


def _value_at(tokens: list[Token], i: int, *, function: bool = True) -> Iterator[int]:
    """The literal a password keyword at `i - 1` introduces, past `=`, `=>`, `(`, PASSWORD(…), _charset."""
    n = len(tokens)
    if function:
        if i < n and tokens[i].is_punct("="):
            i += 1
            if i < n and tokens[i].is_punct(">"):
                i += 1
        if i < n and tokens[i].kind is TokenKind.WORD and tokens[i].upper in ("PASSWORD", "OLD_PASSWORD"):
            i += 1  # IDENTIFIED BY PASSWORD 'hash', = PASSWORD('…'), USING PASSWORD('…')
        if i < n and tokens[i].is_punct("("):
            i += 1
    if _is_charset_introducer(tokens, i):
        i += 1  # MySQL charset introducer: _utf8mb4'…'
    if i < n and tokens[i].kind in LITERAL_KINDS:
        yield i


def _is_charset_introducer(tokens: list[Token], i: int) -> bool:
    """Whether token `i` is a MySQL `_charset` word glued to the string after it."""
    if i + 1 >= len(tokens) or tokens[i].kind is not TokenKind.WORD or not tokens[i].upper.startswith("_"):
        return False
    return tokens[i + 1].kind is TokenKind.STRING and tokens[i + 1].start == tokens[i].end


def _rds_replication_password(tokens: list[Token]) -> Iterator[int]:
    """CALL mysql.rds_set_external_master…/…source…(host, port, user, 'password', …): the 4th argument."""
    if not tokens or not tokens[0].is_word("CALL"):
        return
    name_end = next((i for i, token in enumerate(tokens) if token.is_punct("(")), len(tokens))
    if "RDS_SET_EXTERNAL" not in "".join(token.upper for token in tokens[1:name_end]):
        return
    depth = 0
    argument = 0
    for i in range(name_end, len(tokens)):
        token = tokens[i]
        if token.is_punct("("):
            depth += 1
        elif token.is_punct(")"):
            depth -= 1
        elif depth == 1 and token.is_punct(","):
            argument += 1
        elif depth == 1 and argument == 3 and token.kind in LITERAL_KINDS:
            yield i
            return


def _mask_run(tokens: list[Token], i: int) -> Iterator[Edit]:
    """Mask the literal at `i` and any literals concatenated to it ('ab' 'cd', separated by a gap)."""
    last = i
    while last + 1 < len(tokens) and tokens[last].kind in _CONCATENATED:
        following = tokens[last + 1]
        if following.kind not in _CONCATENATED or following.start == tokens[last].end:
            break
        last += 1
    if last == i and tokens[i].text == REDACTED:
        return
    yield tokens[i].start, tokens[last].end, REDACTED


def _nested_edits(token: Token, nesting: int, memo: Memo) -> Iterator[Edit]:
    """Secrets inside a literal that holds SQL or a connection string."""
    if _CONNECTION_SECRET.search(token.value):
        yield token.start, token.end, REDACTED
        return
    if not _may_hold_secret(token.value):
        return
    if nesting >= _MAX_NESTING:
        yield token.start, token.end, REDACTED
        return
    key = (token.value, nesting + 1)
    if key not in memo:  # each dialect, and each pass, meets the same literals again
        memo[key] = _redact(token.value, nesting + 1, memo)
    inner = memo[key]
    if inner == token.value:
        return
    if token.kind is TokenKind.DOLLAR:
        # the body of $tag$…$tag$ is raw text: redact it in place
        body_start = token.start + token.text.index("$", 1) + 1
        yield body_start, body_start + len(token.value), inner
    else:
        yield token.start, token.end, REDACTED
