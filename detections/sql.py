"""Classify SQL text (MySQL/MariaDB or PostgreSQL) into the statements detection rules ask about.

Works on tokens (`detections.sql_tokens`), so keywords inside comments, string literals, quoted
identifiers and routine definitions never count. Events are classified in the dialect of the server that
wrote them (`dialect_of`): on MySQL/MariaDB `SELECT 1--1; DROP TABLE t` drops a table and `/*! … */` runs,
on PostgreSQL both are comments. Decisions on dialect-ambiguous text:

- Routine definitions (CREATE PROCEDURE/FUNCTION/TRIGGER/EVENT …) are OTHER_DDL: their body does not
  run now (MariaDB logs a procedure's inner statements as their own lines when it is CALLed).
- Code that runs at once is replaced by the statements it runs: a PostgreSQL `DO` block, and the
  literal of `EXECUTE 'sql'` / `EXECUTE IMMEDIATE 'sql'` (PL/pgSQL dynamic SQL, MariaDB); only the
  kinds other than OTHER are kept, and a block with none is one OTHER. `PREPARE s FROM '…'` runs
  nothing (the server logs the prepared text again on EXECUTE).
- A MariaDB compound statement outside a routine (`BEGIN NOT ATOMIC …`, IF/WHILE/LOOP/CASE/FOR) is
  split at `;` like any text; each piece is classified after its control-flow prefix (`IF x THEN`,
  `BEGIN NOT ATOMIC`, labels …) is skipped, so `END IF` / `END` pieces come out as OTHER.
"""

from __future__ import annotations

from functools import lru_cache

from detections.sql_accounts import (
    Cursor,
    account_name,
    account_statement,
    alter_group,
    grant_statement,
    name_list,
    qualified_name,
    rename_user,
    revoke_statement,
    set_password,
)
from detections.sql_audit import audit_statements, set_config_calls
from detections.sql_statement import SUPERUSER_ROLES, Statement, StatementKind
from detections.sql_tokens import Dialect, Token, TokenKind, split_statements, tokenize
from parsers.event import AuditEvent, Source

__all__ = ["SUPERUSER_ROLES", "Dialect", "Statement", "StatementKind", "classify", "dialect_of"]

_MAX_NESTING = 4  # DO inside EXECUTE inside DO …: deeper text is not looked into
_OTHER = Statement(StatementKind.OTHER)
_SELECT_WORDS = frozenset({"SELECT", "VALUES", "TABLE"})  # TABLE t: PostgreSQL / MySQL 8 shorthand
_DML_WORDS = frozenset({"INSERT", "UPDATE", "DELETE", "REPLACE", "MERGE", "COPY"})
_DDL_WORDS = frozenset({"COMMENT", "SECURITY", "IMPORT", "REASSIGN"})
_CONTROL_WORDS = frozenset({"ELSE", "LOOP", "REPEAT", "EXCEPTION"})  # skipped alone
_CONTROL_CONDITIONS = frozenset({"IF", "ELSIF", "ELSEIF", "WHEN", "WHILE", "FOR", "FOREACH", "CASE"})
_CONDITION_ENDS = frozenset({"THEN", "LOOP", "DO"})  # … skipped up to and including one of these
_BODY_KINDS = frozenset({TokenKind.STRING, TokenKind.DOLLAR, TokenKind.DQUOTED})


_MYSQL_ENGINES = frozenset({"aurora-mysql", "aurora_mysql", "mysql", "mariadb"})
_MYSQL_SOURCES = frozenset({Source.AURORA_MYSQL, Source.MYSQL_AUDIT})


def dialect_of(event: AuditEvent) -> Dialect:
    """The SQL dialect the server that wrote `event` speaks (DAS: by engine; unknown engines: PostgreSQL)."""
    if event.source in _MYSQL_SOURCES:
        return Dialect.MYSQL
    if event.source is Source.ACTIVITY_STREAM and event.engine.lower() in _MYSQL_ENGINES:
        return Dialect.MYSQL
    return Dialect.POSTGRES


# Applications repeat the same statement text; classifying it again gives the same (immutable)
# result, so recent texts are remembered. Bounded: at most CACHED_STATEMENTS texts of at most
# CACHED_STATEMENT_CHARS characters each (a few MB), long one-off texts are never kept.
CACHED_STATEMENTS = 2048
CACHED_STATEMENT_CHARS = 2048


def classify(sql: str, dialect: Dialect = Dialect.ANY) -> tuple[Statement, ...]:
    """One Statement per statement in `sql`, in order (a DO block gives the statements it runs).

    `dialect` decides the lexical differences (MySQL `--x` is code, PostgreSQL's is a comment …); the
    default `Dialect.ANY` is for text of unknown origin (see `detections.sql_tokens`).
    """
    if len(sql) <= CACHED_STATEMENT_CHARS:
        return _classify_cached(sql, dialect)
    return _classify_text(sql, dialect)


def _classify_text(sql: str, dialect: Dialect) -> tuple[Statement, ...]:
    """Classify `sql` from scratch."""
    return tuple(_classify_tokens(tokenize(sql, dialect), 0, dialect))


_classify_cached = lru_cache(maxsize=CACHED_STATEMENTS)(_classify_text)


def _classify_tokens(tokens: list[Token], nesting: int, dialect: Dialect) -> list[Statement]:
    """Classify every statement in a token stream."""
    found: list[Statement] = []
    for statement in split_statements(tokens):
        found.extend(_classify_statement(statement, nesting, dialect))
    return found


def _executed(sql: str, nesting: int, dialect: Dialect) -> list[Statement]:
    """What code that runs now (a DO body, dynamic SQL) does: its non-OTHER statements, or one OTHER."""
    if nesting > _MAX_NESTING:
        return [_OTHER]
    tokens = tokenize(sql, dialect)
    found = [s for s in _classify_tokens(tokens, nesting, dialect) if s.kind is not StatementKind.OTHER]
    return found or [_OTHER]


def _skip_control_flow(cursor: Cursor) -> None:
    """Move past labels, BEGIN [NOT] ATOMIC, ELSE, IF … THEN, WHILE … LOOP|DO and the like."""
    while (token := cursor.peek()) is not None:
        word = cursor.word()
        if token.kind is TokenKind.WORD and cursor.punct(1) == ":" and cursor.punct(2) != "=":
            cursor.i += 2  # MariaDB label `name:`
        elif token.is_punct("<") and cursor.punct(1) == "<":
            cursor.i += 2  # PL/pgSQL label <<name>>
            while (part := cursor.peek()) is not None and not part.is_punct(">"):
                cursor.i += 1
            while cursor.punct() == ">":
                cursor.i += 1
        elif word == "BEGIN":
            cursor.i += 1
            if not cursor.accept("NOT", "ATOMIC"):
                cursor.accept("ATOMIC")
        elif word in _CONTROL_WORDS:
            cursor.i += 1
        elif word in _CONTROL_CONDITIONS:
            end = _condition_end(cursor)
            if end is None:
                return
            cursor.i = end + 1
        else:
            return


def _condition_end(cursor: Cursor) -> int | None:
    """Index of the THEN/LOOP/DO that ends the control-flow condition at the cursor, if any."""
    depth = 0
    for j in range(cursor.i + 1, len(cursor.tokens)):
        token = cursor.tokens[j]
        if token.is_punct("("):
            depth += 1
        elif token.is_punct(")"):
            depth -= 1
        elif depth <= 0 and token.kind is TokenKind.WORD and token.upper in _CONDITION_ENDS:
            return j
    return None


def _classify_statement(tokens: list[Token], nesting: int, dialect: Dialect) -> list[Statement]:
    """Classify one statement's tokens (a list: code that runs now may hold several)."""
    cursor = Cursor(tokens)
    _skip_control_flow(cursor)
    while cursor.punct() == "(":
        cursor.i += 1  # (SELECT …) UNION …
    word = cursor.word()
    cursor.i += 1
    if word == "DO":
        return _do_block(cursor, nesting, dialect)
    if word == "EXECUTE":
        return _execute(cursor, nesting, dialect)
    if word == "SET" and cursor.accept("STATEMENT") and (statement := _after_for(cursor)):
        if nesting > _MAX_NESTING:
            return [_OTHER]
        return _classify_statement(statement, nesting + 1, dialect)  # MariaDB SET STATEMENT v=x FOR stmt
    audit = audit_statements(word, cursor)
    if audit is not None:
        return audit
    return [_classify_simple(word, cursor), *set_config_calls(tokens)]


def _after_for(cursor: Cursor) -> list[Token]:
    """The tokens after the first top-level FOR (the statement a MariaDB SET STATEMENT runs), or []."""
    depth = 0
    for j in range(cursor.i, len(cursor.tokens)):
        token = cursor.tokens[j]
        depth += 1 if token.is_punct("(") else -1 if token.is_punct(")") else 0
        if depth <= 0 and token.is_word("FOR"):
            return cursor.tokens[j + 1 :]
    return []


def _classify_simple(word: str, cursor: Cursor) -> Statement:
    """Classify a statement by its leading keyword (`cursor` is just past it)."""
    if word in _SELECT_WORDS:
        return Statement(StatementKind.SELECT)
    if word in _DML_WORDS or (word == "LOAD" and cursor.word() in ("DATA", "XML")):
        return Statement(StatementKind.DML)
    if word == "WITH":
        return _with(cursor)
    if word == "DROP":
        return _drop(cursor)
    if word == "TRUNCATE":
        return _truncate(cursor)
    if word == "GRANT":
        return grant_statement(cursor)
    if word == "REVOKE":
        return revoke_statement(cursor)
    if word in ("CREATE", "ALTER"):
        return _create_or_alter(word, cursor)
    if word == "SET" and cursor.accept("PASSWORD"):
        return set_password(cursor)
    if word == "RENAME":
        return rename_user(cursor) if cursor.accept("USER") else Statement(StatementKind.OTHER_DDL)
    if word in _DDL_WORDS:
        return Statement(StatementKind.OTHER_DDL)
    return _OTHER


def _with(cursor: Cursor) -> Statement:
    """WITH … SELECT is SELECT unless the main statement or a CTE body writes (PostgreSQL)."""
    depth = 0
    previous: Token | None = None
    for token in cursor.tokens[cursor.i :]:
        if token.is_punct("("):
            depth += 1
        elif token.is_punct(")"):
            depth -= 1
        elif token.kind is TokenKind.WORD and token.upper in _DML_WORDS | _SELECT_WORDS:
            writes = token.upper in _DML_WORDS
            if writes and (depth <= 0 or (previous is not None and previous.is_punct("("))):
                return Statement(StatementKind.DML)
            if depth <= 0:
                return Statement(StatementKind.SELECT)
        previous = token
    return Statement(StatementKind.SELECT)


def _drop(cursor: Cursor) -> Statement:
    """DROP [TEMPORARY] TABLE|DATABASE|SCHEMA|USER|ROLE|… [IF EXISTS] names."""
    temporary = cursor.accept("TEMPORARY")
    word = cursor.word()
    if word in ("TABLE", "TABLES"):
        kind = StatementKind.DROP_TABLE
    elif word in ("DATABASE", "SCHEMA"):
        kind = StatementKind.DROP_DATABASE
    elif word in ("USER", "ROLE", "GROUP") and cursor.word(1) != "MAPPING":
        kind = StatementKind.DROP_USER
    elif word == "PREPARE":
        return _OTHER  # DROP PREPARE s deallocates a prepared statement
    else:
        return Statement(StatementKind.OTHER_DDL)
    cursor.i += 1
    if_exists = cursor.accept("IF", "EXISTS")
    read = account_name if kind is StatementKind.DROP_USER else qualified_name
    names = tuple(name_list(cursor, read))
    return Statement(kind, names, temporary=temporary, if_exists=if_exists, schema=word == "SCHEMA")


def _truncate(cursor: Cursor) -> Statement:
    """TRUNCATE [TABLE] [ONLY] name [*] [, …] [RESTART IDENTITY] [CASCADE]."""
    cursor.accept("TABLE")
    names: list[str] = []
    while True:
        cursor.accept("ONLY")
        name = qualified_name(cursor)
        if name is None:
            break
        names.append(name)
        if cursor.punct() == "*":
            cursor.i += 1  # PostgreSQL: descendant tables too
        if cursor.punct() != ",":
            break
        cursor.i += 1
    return Statement(StatementKind.TRUNCATE, tuple(names))


def _create_or_alter(verb: str, cursor: Cursor) -> Statement:
    """CREATE/ALTER USER|ROLE|GROUP are account statements; anything else is OTHER_DDL."""
    cursor.accept("OR", "REPLACE")  # MariaDB CREATE OR REPLACE USER
    word = cursor.word()
    if word == "USER" and cursor.word(1) == "MAPPING" and cursor.word(2) in ("FOR", "IF"):
        return Statement(StatementKind.OTHER_DDL)  # PostgreSQL CREATE USER MAPPING (a foreign server login)
    if word not in ("USER", "ROLE", "GROUP"):
        return Statement(StatementKind.OTHER_DDL)
    cursor.i += 1
    if verb == "ALTER":
        if word == "GROUP":
            return alter_group(cursor)
        return account_statement(cursor, StatementKind.ALTER_USER, login=False)
    if word == "USER":
        return account_statement(cursor, StatementKind.CREATE_USER, login=True)
    return account_statement(cursor, StatementKind.CREATE_ROLE, login=False)


def _do_block(cursor: Cursor, nesting: int, dialect: Dialect) -> list[Statement]:
    """PostgreSQL DO [LANGUAGE l] 'code': the statements its PL/pgSQL body runs (MySQL DO expr: OTHER)."""
    language = ""
    body: Token | None = None
    while (token := cursor.peek()) is not None:
        cursor.i += 1
        if token.is_word("LANGUAGE") and (name := cursor.peek()) is not None:
            language = name.value.lower()
            cursor.i += 1
        elif body is None and token.kind in _BODY_KINDS:
            body = token
    if body is None or language not in ("", "plpgsql", "sql"):
        return [_OTHER]
    return _executed(body.value, nesting + 1, dialect)


def _execute(cursor: Cursor, nesting: int, dialect: Dialect) -> list[Statement]:
    """EXECUTE [IMMEDIATE] 'sql' / EXECUTE format('sql', …) runs its text; EXECUTE name is OTHER."""
    cursor.accept("IMMEDIATE")
    if cursor.word() == "FORMAT" and cursor.punct(1) == "(":
        cursor.i += 2
    text = cursor.peek()
    if text is None or text.kind not in _BODY_KINDS:
        return [_OTHER]
    body = text.value
    if text.kind is TokenKind.STRING:  # adjacent literals are one string: 'DR' 'OP TABLE t'
        while (following := cursor.peek(1)) is not None and following.kind is TokenKind.STRING:
            body += following.value
            cursor.i += 1
    return _executed(body, nesting + 1, dialect)
