"""Parse account and privilege statements (GRANT, REVOKE, CREATE/ALTER USER|ROLE, SET PASSWORD …).

Also the token cursor and the name readers (qualified names, `user@host` accounts) that the rest of
the classifier shares. Each `*_statement` function starts just after its leading keywords.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import pairwise

from detections.sql_statement import ROLE_ATTRIBUTES, SUPERUSER_ROLES, Statement, StatementKind
from detections.sql_tokens import LITERAL_KINDS, NAME_KINDS, Token, TokenKind


class Cursor:
    """A read position over one statement's tokens."""

    __slots__ = ("i", "tokens")

    def __init__(self, tokens: list[Token], i: int = 0) -> None:
        """Start reading `tokens` at index `i`."""
        self.tokens = tokens
        self.i = i

    def peek(self, ahead: int = 0) -> Token | None:
        """The token `ahead` places after the current one, if any."""
        j = self.i + ahead
        return self.tokens[j] if j < len(self.tokens) else None

    def word(self, ahead: int = 0) -> str:
        """The keyword form of the token `ahead` places on if it is a bare word, else ""."""
        token = self.peek(ahead)
        return token.upper if token is not None and token.kind is TokenKind.WORD else ""

    def punct(self, ahead: int = 0) -> str:
        """The character of the token `ahead` places on if it is punctuation, else ""."""
        token = self.peek(ahead)
        return token.upper if token is not None and token.kind is TokenKind.PUNCT else ""

    def accept(self, *words: str) -> bool:
        """Consume the given sequence of bare words if it comes next."""
        if all(self.word(k) == word for k, word in enumerate(words)):
            self.i += len(words)
            return True
        return False


_ACCOUNT_KINDS = NAME_KINDS | {TokenKind.STRING}
_HOST_KINDS = _ACCOUNT_KINDS | {TokenKind.NUMBER}


def qualified_name(cursor: Cursor) -> str | None:
    """A possibly qualified name (db.t, "s"."t", `db`.`t`, db.*) with quotes removed, or None."""
    token = cursor.peek()
    if token is None or token.kind not in NAME_KINDS:
        return None
    parts = [token.value]
    cursor.i += 1
    while cursor.punct() == ".":
        part = cursor.peek(1)
        if part is None or not (part.kind in NAME_KINDS or part.is_punct("*")):
            break
        parts.append(part.value)
        cursor.i += 2
    return ".".join(parts)


def account_name(cursor: Cursor) -> str | None:
    """An account or role: `name`, `name@host` ('u'@'%' -> u@%), CURRENT_USER(); or None."""
    token = cursor.peek()
    if token is None or token.kind not in _ACCOUNT_KINDS:
        return None
    name = token.value
    cursor.i += 1
    if token.kind is TokenKind.WORD and cursor.punct() == "(" and cursor.punct(1) == ")":
        name += "()"
        cursor.i += 2
    if cursor.punct() != "@":
        return name
    cursor.i += 1
    first = cursor.peek()
    if first is None or not (first.kind in _HOST_KINDS or first.is_punct("%")):
        return name + "@"
    host = [first.value]
    cursor.i += 1
    end = first.end
    # an unquoted host continues while tokens touch: 10.0.0.1, my-host.example
    while (part := cursor.peek()) is not None and part.start == end:
        if not (part.kind in _HOST_KINDS or part.is_punct(".%-:")):
            break
        host.append(part.value)
        end = part.end
        cursor.i += 1
    return f"{name}@{''.join(host)}"


def name_list(cursor: Cursor, read: Callable[[Cursor], str | None]) -> list[str]:
    """Comma-separated names read with `read`, stopping at the first thing that is not one."""
    names: list[str] = []
    while (name := read(cursor)) is not None:
        names.append(name)
        if cursor.punct() != ",":
            break
        cursor.i += 1
    return names


def _base_role(item: str) -> str:
    """A granted item without its `@host` part, for comparison with SUPERUSER_ROLES."""
    return item.split("@", 1)[0]


def _is_iam_plugin(token: Token | None) -> bool:
    """Whether this is RDS IAM authentication's plugin (its AS 'RDS' is not a password)."""
    return token is not None and token.value.lower() == "awsauthenticationplugin"


def sets_password_at(tokens: list[Token], i: int) -> bool:
    """Whether token `i` starts a password assignment: IDENTIFIED … BY|AS|USING, PASSWORD <value>."""
    cursor = Cursor(tokens, i + 1)
    if tokens[i].is_word("IDENTIFIED"):
        if cursor.word() in ("WITH", "VIA"):
            if _is_iam_plugin(cursor.peek(1)):
                return False
            cursor.i += 2
        return cursor.word() in ("BY", "AS", "USING")
    if not tokens[i].is_word("PASSWORD"):
        return False
    value = cursor.peek()
    if value is None:
        return False
    # a literal, a parameter, or a redaction placeholder: <REDACTED>, <secret>, *****
    return value.kind in LITERAL_KINDS or value.kind is TokenKind.PARAM or value.is_punct("<*=(:")


def _items_until(cursor: Cursor, stops: tuple[str, ...]) -> tuple[list[list[Token]], str]:
    """Comma-separated depth-0 token groups up to a stop word; column lists `(a, b)` are dropped."""
    items: list[list[Token]] = [[]]
    depth = 0
    while (token := cursor.peek()) is not None:
        if depth == 0 and token.kind is TokenKind.WORD and token.upper in stops:
            return items, token.upper
        cursor.i += 1
        if token.is_punct("("):
            depth += 1
        elif token.is_punct(")"):
            depth = max(0, depth - 1)
        elif depth == 0 and token.is_punct(","):
            items.append([])
        elif depth == 0:
            items[-1].append(token)
    return items, ""


def render(tokens: list[Token], *, quoted: bool = False) -> str:
    """Tokens' values (or with `quoted`, their source text) joined: one space where the source had a gap."""
    parts: list[str] = []
    previous: Token | None = None
    for token in tokens:
        if previous is not None and token.start > previous.end:
            parts.append(" ")
        parts.append(token.text if quoted else token.value)
        previous = token
    return "".join(parts)


def _grantees(cursor: Cursor) -> list[str]:
    """The accounts after TO/FROM, each possibly followed by an old-MySQL IDENTIFIED clause."""
    names: list[str] = []
    while True:
        if cursor.word() == "GROUP" and cursor.punct(1) != ",":
            cursor.i += 1  # PostgreSQL TO GROUP g
        name = account_name(cursor)
        if name is None:
            return names
        names.append(name)
        while (token := cursor.peek()) is not None and not token.is_punct(","):
            if token.is_word("WITH", "REQUIRE", "GRANTED", "AS", "CASCADE", "RESTRICT"):
                return names
            cursor.i += 1
            if token.is_word("IDENTIFIED"):
                if cursor.word() in ("WITH", "VIA"):
                    cursor.i += 2
                if cursor.word() in ("BY", "AS", "USING"):
                    cursor.i += 2
        if token is None:
            return names
        cursor.i += 1


def _privilege_facts(items: list[list[Token]]) -> tuple[tuple[str, ...], bool]:
    """Granted items as lower-case text, and whether one of them is ALL [PRIVILEGES]."""
    granted = tuple(text for item in items if (text := render(item).lower()))
    return granted, any(item in ("all", "all privileges") for item in granted)


def is_global_level(level: str) -> bool:
    """Whether a GRANT level is the whole server (MySQL `*.*`, however spaced)."""
    return level.replace(" ", "") == "*.*"


def grant_statement(cursor: Cursor) -> Statement:
    """GRANT privileges ON level TO accounts [WITH GRANT OPTION] | GRANT roles TO accounts."""
    tokens = cursor.tokens
    items, stop = _items_until(cursor, ("ON", "TO"))
    granted, grant_all = _privilege_facts(items)
    level = ""
    if stop == "ON":
        cursor.i += 1
        level_items, stop = _items_until(cursor, ("TO",))
        level = ", ".join(render(item) for item in level_items)
    grantees: list[str] = []
    if cursor.accept("TO"):
        grantees = _grantees(cursor)
    rest = [token.upper for token in tokens[cursor.i :] if token.kind is TokenKind.WORD]
    with_option = "WITH" in rest and any(
        pair in (("GRANT", "OPTION"), ("ADMIN", "OPTION"), ("ADMIN", "TRUE")) for pair in pairwise(rest)
    )
    superuser = any(_base_role(item) in SUPERUSER_ROLES for item in granted) or (
        grant_all and is_global_level(level)
    )
    return Statement(
        StatementKind.GRANT,
        tuple(grantees),
        grant_all=grant_all,
        with_grant_option=with_option,
        granted=granted,
        superuser=superuser,
        sets_password=any(sets_password_at(tokens, i) for i in range(len(tokens))),
        level=level,
    )


def revoke_statement(cursor: Cursor) -> Statement:
    """REVOKE [GRANT OPTION FOR] privileges [ON level] FROM accounts | REVOKE roles FROM accounts."""
    cursor.accept("IF", "EXISTS")
    if cursor.word(1) == "OPTION" and cursor.word(2) == "FOR":
        cursor.i += 3
    items, stop = _items_until(cursor, ("ON", "FROM"))
    granted, grant_all = _privilege_facts(items)
    if stop == "ON":
        cursor.i += 1
        _items_until(cursor, ("FROM",))
    accounts = _grantees(cursor) if cursor.accept("FROM") else []
    return Statement(StatementKind.REVOKE, tuple(accounts), grant_all=grant_all, granted=granted)


def account_statement(cursor: Cursor, kind: StatementKind, *, login: bool) -> Statement:
    """CREATE USER/ROLE/GROUP or ALTER USER/ROLE: accounts named and the options given to them."""
    tokens = cursor.tokens
    if_exists = False
    if not cursor.accept("IF", "NOT", "EXISTS"):
        if_exists = cursor.accept("IF", "EXISTS")
    first = account_name(cursor)
    objects = [first] if first is not None else []
    granted: list[str] = []
    attributes: set[str] = set()
    sets_password = False
    depth = 0
    while (token := cursor.peek()) is not None:
        cursor.i += 1
        if token.is_punct("(") or token.is_punct(")"):
            depth = max(0, depth + (1 if token.upper == "(" else -1))
        elif depth == 0 and token.is_punct(","):
            if (account := account_name(cursor)) is not None:
                objects.append(account)  # MySQL: CREATE USER a IDENTIFIED BY …, b …
        elif token.kind is TokenKind.WORD:
            word = token.upper
            if kind is StatementKind.ALTER_USER and word in ("SET", "RESET", "RENAME"):
                break  # the rest sets configuration parameters or a new name
            sets_password = sets_password or sets_password_at(tokens, cursor.i - 1)
            if word.lower() in ROLE_ATTRIBUTES:
                attributes.add(word.lower())
            elif word.startswith("NO") and word[2:].lower() in ROLE_ATTRIBUTES:
                attributes.discard(word[2:].lower())  # NOSUPERUSER, NOCREATEROLE …
            elif word in ("LOGIN", "NOLOGIN"):
                login = word == "LOGIN"
            elif word in ("ROLE", "GROUP", "ADMIN", "USER"):
                # PostgreSQL IN ROLE/IN GROUP (memberships the account gets), ROLE/ADMIN/USER
                # (members it gets); MySQL DEFAULT ROLE: name lists whose commas are not new accounts
                joins = cursor.i >= 2 and tokens[cursor.i - 2].is_word("IN")
                members = name_list(cursor, account_name)
                if joins:
                    granted.extend(member.lower() for member in members)
    superuser = "superuser" in attributes or any(_base_role(role) in SUPERUSER_ROLES for role in granted)
    return Statement(
        kind,
        tuple(objects),
        if_exists=if_exists,
        granted=tuple(granted),
        superuser=superuser,
        login=login,
        sets_password=sets_password,
        attributes=tuple(a for a in ROLE_ATTRIBUTES if a in attributes),
    )


def set_password(cursor: Cursor) -> Statement:
    """SET PASSWORD [FOR account] = …: the account (none means the current user's own password)."""
    account = account_name(cursor) if cursor.accept("FOR") else None
    return Statement(StatementKind.SET_PASSWORD, (account,) if account else (), sets_password=True)


def alter_group(cursor: Cursor) -> Statement:
    """PostgreSQL ALTER GROUP g ADD|DROP USER a, b (a grant/revoke of g) or ALTER GROUP g RENAME …."""
    group = account_name(cursor)
    if group is None:
        return Statement(StatementKind.ALTER_USER)
    for verb, kind in (("ADD", StatementKind.GRANT), ("DROP", StatementKind.REVOKE)):
        if cursor.accept(verb, "USER"):
            members = tuple(name_list(cursor, account_name))
            role = group.lower()
            superuser = kind is StatementKind.GRANT and _base_role(role) in SUPERUSER_ROLES
            return Statement(kind, members, granted=(role,), superuser=superuser)
    return Statement(StatementKind.ALTER_USER, (group,))


def rename_user(cursor: Cursor) -> Statement:
    """MySQL RENAME USER a TO b [, c TO d]: every account named, old and new."""
    names: list[str] = []
    while (old := account_name(cursor)) is not None:
        names.append(old)
        if cursor.accept("TO") and (new := account_name(cursor)) is not None:
            names.append(new)
        if cursor.punct() != ",":
            break
        cursor.i += 1
    return Statement(StatementKind.ALTER_USER, tuple(names))
