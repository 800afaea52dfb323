"""A small SQL tokenizer for MySQL/MariaDB and PostgreSQL text: comments out, literals whole, `;` split.

Dialect differences the tokenizer must decide without knowing the server (see `Dialect`):

- `--x`: PostgreSQL starts a comment; MySQL only when `--` is followed by whitespace/control.
  `Dialect.ANY` follows PostgreSQL (a `--header` line before a real `DROP` is common in psql scripts).
- `#`: a comment in MySQL, an operator in PostgreSQL. `ANY` treats it as a comment, except `#>`
  (PostgreSQL's jsonb path operators `#>` / `#>>`, which no MySQL comment plausibly starts with).
- `/* /* */ */`: PostgreSQL nests block comments, MySQL does not. `ANY` nests.
- `\\'` inside `'…'`: an escape in MySQL (and in PostgreSQL `E'…'`), a plain backslash in standard
  PostgreSQL strings. `ANY` treats it as an escape.
- `/*! … */`, `/*!50001 … */`, `/*M!100100 … */`: MySQL/MariaDB run their content, so it is tokenized
  as code (the version gate is ignored: fail toward detection); PostgreSQL sees a comment.
- `$tag$…$tag$`: PostgreSQL dollar quoting; MySQL lets identifiers contain `$`.
- `"…"`: a string in MySQL, an identifier in PostgreSQL: its own kind, never a keyword.
An unterminated literal or comment runs to the end of the text (audit plugins truncate statements).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


class Dialect(StrEnum):
    """Which lexical rules to apply where MySQL and PostgreSQL disagree."""

    ANY = "any"  # the hybrid for text of unknown origin (documented in the module docstring)
    MYSQL = "mysql"
    POSTGRES = "postgres"


class TokenKind(StrEnum):
    """What a token is."""

    WORD = "word"  # bare identifier or keyword
    QUOTED_IDENT = "quoted_ident"  # `backtick`
    DQUOTED = "dquoted"  # "…": identifier (PostgreSQL, ANSI_QUOTES) or string (MySQL)
    STRING = "string"  # '…', E'…', N'…', X'…', B'…', U&'…'
    DOLLAR = "dollar"  # $$…$$, $tag$…$tag$
    NUMBER = "number"  # digits only (123); 1.5 is NUMBER PUNCT NUMBER, 1e5 is a WORD
    PARAM = "param"  # $1, ?
    PUNCT = "punct"  # any other single character


LITERAL_KINDS = frozenset({TokenKind.STRING, TokenKind.DQUOTED, TokenKind.DOLLAR})
NAME_KINDS = frozenset({TokenKind.WORD, TokenKind.QUOTED_IDENT, TokenKind.DQUOTED})


@dataclass(frozen=True, slots=True)
class Token:
    """One token: its source slice (`start`/`end` index the tokenized text) and its meaning."""

    kind: TokenKind
    text: str  # exactly the source characters, quotes and prefix included
    start: int
    end: int
    value: str  # literal/identifier content with quotes and escapes removed; the text otherwise
    upper: str = ""  # keyword form: upper-cased ASCII WORD text, or the PUNCT character; else ""
    terminated: bool = True  # False for a literal cut off by the end of the text

    def is_word(self, *words: str) -> bool:
        """Whether this is a bare word equal (case-insensitively) to one of `words` (upper-case)."""
        return self.kind is TokenKind.WORD and self.upper in words

    def is_punct(self, chars: str) -> bool:
        """Whether this is a punctuation token among `chars`."""
        return self.kind is TokenKind.PUNCT and self.upper in chars


_WHITESPACE = re.compile(r"\s+")
_WORD = re.compile(r"[\w$]+")
_LINE_END = re.compile(r"[\r\n]")
_COMMENT_MARK = re.compile(r"/\*|\*/")
_DOLLAR_TAG = re.compile(r"\$(?:[^\W\d]\w*)?\$")
_PARAM_NUMBER = re.compile(r"\$\d+")
_EXEC_COMMENT = re.compile(r"/\*M?!\d{0,6}")
_BACKSLASH_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "0": "\0", "Z": "\x1a"}
_STRING_PREFIXES = frozenset("eEnNxXbB")


# Characters that can end a quoted literal, per quote character and escape style.
_QUOTE_STOPS = {
    (quote, backslash): re.compile(f"[{quote}\\\\]" if backslash else quote)
    for quote in "'\"`"
    for backslash in (False, True)
}


def _quoted_end(sql: str, pos: int, quote: str, backslash: bool) -> tuple[int, bool]:
    """End of the quoted literal opened at `pos` (doubled quotes, optional backslash escapes)."""
    pattern = _QUOTE_STOPS[quote, backslash]
    i, n = pos + 1, len(sql)
    while True:
        match = pattern.search(sql, i)
        if match is None:
            return n, False
        j = match.start()
        if sql[j] == "\\" or (j + 1 < n and sql[j + 1] == quote):
            i = j + 2  # an escaped character or a doubled quote
        else:
            return j + 1, True


def _unquote(inner: str, quote: str, backslash: bool) -> str:
    """The content of a quoted literal with doubled quotes and (optionally) backslash escapes undone."""
    if (not backslash or "\\" not in inner) and quote * 2 not in inner:
        return inner
    out: list[str] = []
    i, n = 0, len(inner)
    while i < n:
        ch = inner[i]
        if ch == "\\" and backslash and i + 1 < n:
            nxt = inner[i + 1]
            out.append(_BACKSLASH_ESCAPES.get(nxt, nxt))
            i += 2
        elif ch == quote and i + 1 < n and inner[i + 1] == quote:
            out.append(quote)
            i += 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def _block_comment_end(sql: str, pos: int, nested: bool) -> int:
    """End of the block comment opened at `pos` (the whole text when unterminated)."""
    if not nested:
        close = sql.find("*/", pos + 2)
        return len(sql) if close < 0 else close + 2
    depth = 1
    for match in _COMMENT_MARK.finditer(sql, pos + 2):
        depth += 1 if match.group() == "/*" else -1
        if depth == 0:
            return match.end()
    return len(sql)


def _starts_line_comment(sql: str, pos: int, dialect: Dialect) -> bool:
    """Whether `--` or `#` at `pos` starts a comment in this dialect."""
    if sql[pos] == "#":
        return dialect is Dialect.MYSQL or (dialect is Dialect.ANY and not sql.startswith("#>", pos))
    if not sql.startswith("--", pos):
        return False
    if dialect is not Dialect.MYSQL:
        return True
    after = sql[pos + 2 : pos + 3]
    return after == "" or after.isspace() or ord(after) < 32


class _Lexer:
    """Single-use scanner state: the text, the dialect, and the tokens found so far."""

    __slots__ = ("backslash", "dialect", "in_exec", "n", "pos", "sql", "tokens")

    def __init__(self, sql: str, dialect: Dialect) -> None:
        """Prepare to scan `sql` under `dialect`."""
        self.sql = sql
        self.dialect = dialect
        self.backslash = dialect is not Dialect.POSTGRES
        self.n = len(sql)
        self.pos = 0
        self.in_exec = False
        self.tokens: list[Token] = []

    def emit(
        self, kind: TokenKind, end: int, value: str, *, upper: str = "", terminated: bool = True
    ) -> None:
        """Append the token spanning `pos`..`end` and move past it."""
        text = self.sql[self.pos : end]
        self.tokens.append(Token(kind, text, self.pos, end, value, upper, terminated))
        self.pos = end

    def quoted(self, kind: TokenKind, prefix_len: int, quote: str, backslash: bool) -> None:
        """Emit a quoted literal whose opening quote sits `prefix_len` characters after `pos`."""
        open_at = self.pos + prefix_len
        end, terminated = _quoted_end(self.sql, open_at, quote, backslash)
        inner = self.sql[open_at + 1 : end - 1 if terminated else end]
        self.emit(kind, end, _unquote(inner, quote, backslash), terminated=terminated)

    def skip_comment_or_exec(self) -> None:
        """Skip a `/*` comment, or step into a MySQL executable comment."""
        sql, pos = self.sql, self.pos
        if self.dialect is not Dialect.POSTGRES:
            exec_open = _EXEC_COMMENT.match(sql, pos)
            if exec_open is not None:
                self.pos, self.in_exec = exec_open.end(), True
                return
        self.pos = _block_comment_end(sql, pos, nested=self.dialect is not Dialect.MYSQL)

    def dollar(self) -> None:
        """Emit a dollar-quoted string, a `$1` parameter, or a `$`-word (MySQL)."""
        sql, pos = self.sql, self.pos
        tag = _DOLLAR_TAG.match(sql, pos) if self.dialect is not Dialect.MYSQL else None
        if tag is not None:
            close = sql.find(tag.group(), tag.end())
            end = self.n if close < 0 else close + len(tag.group())
            body = sql[tag.end() : self.n if close < 0 else close]
            self.emit(TokenKind.DOLLAR, end, body, terminated=close >= 0)
            return
        param = _PARAM_NUMBER.match(sql, pos)
        if param is not None:
            self.emit(TokenKind.PARAM, param.end(), param.group())
            return
        word = _WORD.match(sql, pos)
        if word is not None and word.end() > pos + 1:
            text = word.group()
            self.emit(TokenKind.WORD, word.end(), text, upper=text.upper() if text.isascii() else text)
        else:
            self.emit(TokenKind.PUNCT, pos + 1, "$", upper="$")

    def word(self) -> None:
        """Emit the word or number at `pos` (a word char that `_WORD` rejects is punctuation)."""
        sql, pos = self.sql, self.pos
        match = _WORD.match(sql, pos)
        if match is None:
            self.emit(TokenKind.PUNCT, pos + 1, sql[pos], upper=sql[pos])
            return
        text = match.group()
        end = match.end()
        if text.isdigit():
            self.tokens.append(Token(TokenKind.NUMBER, text, pos, end, text))
        else:
            upper = text.upper() if text.isascii() else text
            self.tokens.append(Token(TokenKind.WORD, text, pos, end, text, upper))
        self.pos = end

    def step(self) -> None:
        """Consume whatever starts at `pos`: whitespace, a comment, or one token."""
        sql, pos = self.sql, self.pos
        ch = sql[pos]
        nxt = sql[pos + 1 : pos + 2]
        if ch.isspace():
            match = _WHITESPACE.match(sql, pos)
            self.pos = match.end() if match is not None else pos + 1
        elif ch.isalnum() or ch == "_":  # the common case first
            if nxt == "'" and ch in _STRING_PREFIXES:
                self.quoted(TokenKind.STRING, 1, "'", self.backslash or ch in "eE")
            elif nxt == "&" and ch in "uU" and sql[pos + 2 : pos + 3] in ("'", '"'):
                quote = sql[pos + 2]
                kind = TokenKind.STRING if quote == "'" else TokenKind.DQUOTED
                self.quoted(kind, 2, quote, backslash=False)
            else:
                self.word()
        elif ch == "'":
            self.quoted(TokenKind.STRING, 0, "'", self.backslash)
        elif ch in "-#" and _starts_line_comment(sql, pos, self.dialect):
            line_end = _LINE_END.search(sql, pos)
            self.pos = self.n if line_end is None else line_end.start()
        elif ch == "/" and nxt == "*":
            self.skip_comment_or_exec()
        elif ch == "*" and nxt == "/" and self.in_exec:
            self.pos, self.in_exec = pos + 2, False
        elif ch == '"':
            self.quoted(TokenKind.DQUOTED, 0, '"', self.backslash)
        elif ch == "`":
            self.quoted(TokenKind.QUOTED_IDENT, 0, "`", backslash=False)
        elif ch == "$":
            self.dollar()
        elif ch == "?":
            self.emit(TokenKind.PARAM, pos + 1, "?")
        else:
            self.emit(TokenKind.PUNCT, pos + 1, ch, upper=ch)


def tokenize(sql: str, dialect: Dialect = Dialect.ANY) -> list[Token]:
    """The tokens of `sql` in order, comments and whitespace dropped; never raises."""
    lexer = _Lexer(sql, dialect)
    while lexer.pos < lexer.n:
        lexer.step()
    return lexer.tokens


# CREATE/ALTER of these carries a body that may contain `;` (a MySQL BEGIN … END block, a PostgreSQL
# BEGIN ATOMIC … END body, a PostgreSQL rule's `( …; … )` action list).
_ROUTINE_KINDS = frozenset({"PROCEDURE", "FUNCTION", "TRIGGER", "EVENT", "PACKAGE", "RULE"})
_PLAIN_KINDS = frozenset(
    {"TABLE", "VIEW", "INDEX", "USER", "ROLE", "GROUP", "DATABASE", "SCHEMA", "SEQUENCE", "SERVER", "TYPE"}
)
_BLOCK_CLOSERS_NOT_COUNTED = frozenset({"IF", "LOOP", "WHILE", "REPEAT", "FOR"})


def _defines_routine(tokens: list[Token], first: int) -> bool:
    """Whether the statement starting at `first` is CREATE/ALTER of a procedure, function, trigger …."""
    if not tokens[first].is_word("CREATE", "ALTER"):
        return False
    for token in tokens[first + 1 : first + 16]:
        if token.kind is TokenKind.WORD:
            if token.upper in _ROUTINE_KINDS:
                return True
            if token.upper in _PLAIN_KINDS:
                return False
    return False


def _body_depth_change(tokens: list[Token], i: int) -> int:
    """How token `i` changes the block depth of a routine definition (BEGIN/CASE/`(` open, END/`)` close)."""
    token = tokens[i]
    if token.kind is TokenKind.PUNCT:
        return 1 if token.upper == "(" else -1 if token.upper == ")" else 0
    if token.is_word("BEGIN", "CASE"):
        return 1
    if token.is_word("END"):
        following = tokens[i + 1] if i + 1 < len(tokens) else None
        if following is not None and following.is_word(*_BLOCK_CLOSERS_NOT_COUNTED):
            return 0
        return -1
    return 0


def split_statements(tokens: list[Token]) -> list[list[Token]]:
    """Tokens grouped into statements at top-level `;`, empty statements dropped.

    A routine definition (CREATE PROCEDURE … BEGIN …; … END) stays one statement: its `;` only end the
    statement outside BEGIN/CASE … END blocks and parentheses.
    """
    statements: list[list[Token]] = []
    current: list[Token] = []
    routine = False
    depth = 0
    for i, token in enumerate(tokens):
        if token.is_punct(";") and depth <= 0:
            if current:
                statements.append(current)
            current, routine, depth = [], False, 0
            continue
        if not current:
            routine = _defines_routine(tokens, i)
        current.append(token)
        if routine:
            depth = max(0, depth + _body_depth_change(tokens, i))
    if current:
        statements.append(current)
    return statements
