"""Parse statements that change what the server audits: SET/RESET of audit settings, plugin/extension removal.

MySQL/MariaDB: `SET [GLOBAL|SESSION|PERSIST] server_audit_x = v [, …]`, `SET @@global.server_audit_x = v`,
`UNINSTALL PLUGIN server_audit`, `UNINSTALL SONAME 'server_audit'`. PostgreSQL: `SET [SESSION|LOCAL] x
TO|= v`, `RESET x|ALL`, `ALTER SYSTEM SET|RESET`, `ALTER ROLE|USER r [IN DATABASE d] SET|RESET`, `ALTER
DATABASE d SET|RESET`, `set_config('x', v, local)` anywhere in a statement, `DROP EXTENSION pgaudit`.
A SET whose text ends inside the name of an audit setting (the log cut it: a small
server_audit_query_log_limit logs its own SET as `SET GLOBAL serve`) is an AUDIT_SETTING of that name
prefix followed by CUT.
Only the facts are extracted here (setting, value, scope); whether a change weakens auditing is the
audit-disabled rule's decision. Settings that are not about auditing leave the statement to the rest of
the classifier.
"""

from __future__ import annotations

from detections.sql_accounts import Cursor, account_name, name_list, qualified_name, render
from detections.sql_statement import Statement, StatementKind
from detections.sql_tokens import LITERAL_KINDS, Token, TokenKind

# Settings (besides every pgaudit.*) that decide what reaches the audit log.
AUDIT_SETTINGS = frozenset(
    {
        # MariaDB server_audit / RDS MySQL audit plugin / Aurora MySQL advanced auditing
        "server_audit_logging",
        "server_audit_events",
        "server_audit_excl_users",
        "server_audit_incl_users",
        "server_audit_query_log_limit",
        # PostgreSQL core logging the postgres parser reads
        "log_connections",
        "log_disconnections",
        "log_statement",
        "shared_preload_libraries",  # pgaudit only runs when preloaded
    }
)
CUT = "…"  # ends the setting name of a SET whose text the log cut inside the name
_MIN_CUT_NAME = 5  # "SET GLOBAL serve" (server_audit_query_log_limit=16 logs its own SET like that)
AUDIT_PLUGIN = "server_audit"
AUDIT_EXTENSION = "pgaudit"
_SCOPE_WORDS = {
    "GLOBAL": "global",
    "PERSIST": "global",
    "PERSIST_ONLY": "global",
    "SESSION": "session",
    "LOCAL": "session",
}


def is_audit_setting(name: str) -> bool:
    """Whether a (lower-case) setting name decides what is audited."""
    return name in AUDIT_SETTINGS or name.startswith(f"{AUDIT_EXTENSION}.")


def _is_cut_audit_name(name: str) -> bool:
    """Whether a SET that ends inside `name` may have been cut from an audit setting's name."""
    if len(name) < _MIN_CUT_NAME or is_audit_setting(name):
        return False
    return any(setting.startswith(name) for setting in (*AUDIT_SETTINGS, f"{AUDIT_EXTENSION}."))


def audit_statements(word: str, cursor: Cursor) -> list[Statement] | None:
    """The audit changes of a statement led by `word` (cursor past it); None leaves the cursor in place."""
    start = cursor.i
    if word == "SET":
        found = _set(cursor)
    elif word == "RESET":
        found = _reset(cursor, "session", ())
    elif word == "ALTER":
        found = _alter(cursor)
    elif word == "UNINSTALL":
        found = _uninstall(cursor)
    elif word == "DROP" and cursor.accept("EXTENSION"):
        cursor.accept("IF", "EXISTS")
        names = [name.rsplit(".", 1)[-1].lower() for name in name_list(cursor, qualified_name)]
        found = (
            [Statement(StatementKind.AUDIT_REMOVED, (AUDIT_EXTENSION,))] if AUDIT_EXTENSION in names else []
        )
    else:
        found = []
    if not found:
        cursor.i = start
        return None
    return found


def set_config_calls(tokens: list[Token]) -> list[Statement]:
    """PostgreSQL set_config('pgaudit.log', 'none', local) calls on audit settings anywhere in a statement."""
    found = []
    for i, token in enumerate(tokens):
        if not token.is_word("SET_CONFIG") or i + 4 >= len(tokens) or not tokens[i + 1].is_punct("("):
            continue
        name, comma, value = tokens[i + 2], tokens[i + 3], tokens[i + 4]
        setting = name.value.lower()
        if name.kind in LITERAL_KINDS and comma.is_punct(",") and is_audit_setting(setting):
            shown = value.value if value.kind in LITERAL_KINDS else value.text
            found.append(
                Statement(StatementKind.AUDIT_SETTING, setting=setting, value=shown, scope="session")
            )
    return found


def _set(cursor: Cursor) -> list[Statement]:
    """SET [scope] name =|:=|TO value [, [scope] name = value …]: the audit settings among them."""
    found = []
    while cursor.peek() is not None:
        scope = "session"
        if _is_scope_word(cursor, 0):
            scope = _SCOPE_WORDS[cursor.word()]
            cursor.i += 1
        name, scope = _setting_name(cursor, scope)
        if not _accept_assignment(cursor):
            if cursor.peek() is None and _is_cut_audit_name(name):
                found.append(Statement(StatementKind.AUDIT_SETTING, setting=f"{name}{CUT}", scope=scope))
            break
        value = _value(cursor)
        if is_audit_setting(name):
            found.append(Statement(StatementKind.AUDIT_SETTING, setting=name, value=value, scope=scope))
        if cursor.punct() != ",":
            break
        cursor.i += 1
    return found


def _is_scope_word(cursor: Cursor, ahead: int) -> bool:
    """Whether GLOBAL/SESSION/LOCAL/PERSIST at `ahead` is a scope (not a variable being assigned)."""
    if cursor.word(ahead) not in _SCOPE_WORDS or cursor.word(ahead + 1) == "TO":
        return False
    return cursor.peek(ahead + 1) is not None and cursor.punct(ahead + 1) not in ("=", ":")


def _setting_name(cursor: Cursor, scope: str) -> tuple[str, str]:
    """A setting name (lower-case) and its scope: `name`, `pgaudit.log`, `@@global.name`, `@@name`."""
    if cursor.punct() == "@" and cursor.punct(1) == "@":
        cursor.i += 2
        name = (qualified_name(cursor) or "").lower()
        head, _, rest = name.partition(".")
        if rest and head.upper() in _SCOPE_WORDS:
            return rest, _SCOPE_WORDS[head.upper()]
        return name, scope
    if cursor.punct() == "@":
        cursor.i += 1
        qualified_name(cursor)
        return "", scope  # a MySQL user variable
    return (qualified_name(cursor) or "").lower(), scope


def _accept_assignment(cursor: Cursor) -> bool:
    """Consume `=`, `:=` or `TO` if it comes next."""
    if cursor.punct() == "=":
        cursor.i += 1
        return True
    if cursor.accept("TO"):
        return True
    if cursor.punct() == ":" and cursor.punct(1) == "=":
        cursor.i += 2
        return True
    return False


def _assignment_follows(cursor: Cursor, ahead: int) -> bool:
    """Whether `[scope] name =|:=|TO` or `@@…` starts `ahead` tokens on (without moving the cursor)."""
    probe = Cursor(cursor.tokens, cursor.i + ahead)
    if _is_scope_word(probe, 0):
        probe.i += 1
    if probe.punct() == "@":
        return True
    return qualified_name(probe) is not None and _accept_assignment(probe)


def _value(cursor: Cursor) -> str | None:
    """The assigned value up to the next assignment or the end: None for DEFAULT, else its text unquoted."""
    tokens: list[Token] = []
    depth = 0
    while (token := cursor.peek()) is not None:
        if depth == 0 and token.is_punct(",") and _assignment_follows(cursor, 1):
            break
        depth += 1 if token.is_punct("(") else -1 if token.is_punct(")") else 0
        tokens.append(token)
        cursor.i += 1
    if len(tokens) == 1 and tokens[0].is_word("DEFAULT"):
        return None
    if len(tokens) == 1 and tokens[0].kind is not TokenKind.PUNCT:
        return tokens[0].value
    if all(token.kind in LITERAL_KINDS or token.is_punct(",") for token in tokens):
        return render(tokens)  # a PostgreSQL list: 'ddl', 'role'
    return render(tokens, quoted=True)  # an expression, as written


def _reset(cursor: Cursor, scope: str, objects: tuple[str, ...]) -> list[Statement]:
    """RESET name | RESET ALL (cursor just past RESET): an audit setting back to its default."""
    name = "all" if cursor.accept("ALL") else (qualified_name(cursor) or "").lower()
    if name != "all" and not is_audit_setting(name):
        return []
    return [Statement(StatementKind.AUDIT_SETTING, objects, setting=name, scope=scope)]


def _alter(cursor: Cursor) -> list[Statement]:
    """ALTER SYSTEM | DATABASE d | ROLE|USER r [IN DATABASE d] followed by SET … or RESET …."""
    word = cursor.word()
    cursor.i += 1
    objects: tuple[str, ...]
    if word == "SYSTEM":
        scope, objects = "system", ()
    elif word == "DATABASE":
        scope, objects = "database", tuple(filter(None, [qualified_name(cursor)]))
    elif word in ("ROLE", "USER"):
        scope, objects = "role", tuple(filter(None, [account_name(cursor)]))
        if cursor.accept("IN", "DATABASE"):
            qualified_name(cursor)
    else:
        return []
    if cursor.accept("RESET"):
        return _reset(cursor, scope, objects)
    if not cursor.accept("SET"):
        return []
    name = (qualified_name(cursor) or "").lower()
    if cursor.accept("FROM", "CURRENT"):
        value: str | None = "FROM CURRENT"  # the session's current value: unknown here
    elif _accept_assignment(cursor):
        value = _value(cursor)
    else:
        return []
    if not is_audit_setting(name):
        return []
    return [Statement(StatementKind.AUDIT_SETTING, objects, setting=name, value=value, scope=scope)]


def _uninstall(cursor: Cursor) -> list[Statement]:
    """UNINSTALL PLUGIN server_audit | UNINSTALL SONAME 'server_audit[.so]'."""
    if not (cursor.accept("PLUGIN") or cursor.accept("SONAME")):
        return []
    token = cursor.peek()
    name = token.value.lower() if token is not None and token.kind is not TokenKind.PUNCT else ""
    if not name.startswith(AUDIT_PLUGIN):
        return []
    return [Statement(StatementKind.AUDIT_REMOVED, (AUDIT_PLUGIN,))]
