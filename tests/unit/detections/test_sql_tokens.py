"""The SQL tokenizer: comments dropped, literals kept whole, statements split at top-level `;`."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detections.sql_tokens import Dialect, Token, TokenKind, split_statements, tokenize

W, S, D, Q, B, P = (
    TokenKind.WORD,
    TokenKind.STRING,
    TokenKind.DQUOTED,
    TokenKind.QUOTED_IDENT,
    TokenKind.DOLLAR,
    TokenKind.PUNCT,
)


def _pairs(sql: str, dialect: Dialect = Dialect.ANY) -> list[tuple[TokenKind, str]]:
    """(kind, value) of each token."""
    return [(token.kind, token.value) for token in tokenize(sql, dialect)]


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        # comments of every style disappear
        ("DROP /* x */ TABLE t", [(W, "DROP"), (W, "TABLE"), (W, "t")]),
        ("SELECT 1 -- drop table t", [(W, "SELECT"), (TokenKind.NUMBER, "1")]),
        ("SELECT 1 --\ndrop", [(W, "SELECT"), (TokenKind.NUMBER, "1"), (W, "drop")]),
        ("SELECT 1 # drop table t\nx", [(W, "SELECT"), (TokenKind.NUMBER, "1"), (W, "x")]),
        ("a /*+ BKA(t) */ b", [(W, "a"), (W, "b")]),  # optimizer hint: ignored
        # PostgreSQL nests block comments (pinned for ANY: the inner */ does not end the comment)
        ("a /* x /* y */ drop */ b", [(W, "a"), (W, "b")]),
        # MySQL executable comments: the content is code, the version gate is ignored
        ("/*!40101 DROP TABLE t */", [(W, "DROP"), (W, "TABLE"), (W, "t")]),
        ("/*! DROP */", [(W, "DROP")]),
        ("/*M!100100 DROP */ x", [(W, "DROP"), (W, "x")]),
        ("/*!50001 SELECT '*/' */", [(W, "SELECT"), (S, "*/")]),
        # string literals with '' and \' escapes, prefixes
        ("'it''s'", [(S, "it's")]),
        (r"'it\'s'", [(S, "it's")]),
        (r"'a\\'", [(S, "a\\")]),
        ("E'a\\'b'", [(S, "a'b")]),
        ("N'x' X'41' b'01'", [(S, "x"), (S, "41"), (S, "01")]),
        ("U&'d\\0061t'", [(S, "d\\0061t")]),
        ("_utf8mb4'x'", [(W, "_utf8mb4"), (S, "x")]),
        # "…" and `…` are never keywords
        ('"DROP" `TABLE`', [(D, "DROP"), (Q, "TABLE")]),
        ('"a""b" `c``d`', [(D, 'a"b'), (Q, "c`d")]),
        # dollar quotes; $ inside identifiers; positional parameters
        ("$$ drop; $$", [(B, " drop; ")]),
        ("$fn$ a $$ b $fn$", [(B, " a $$ b ")]),
        ("a$b$ $1 ?", [(W, "a$b$"), (TokenKind.PARAM, "$1"), (TokenKind.PARAM, "?")]),
        # keyword-looking text inside literals stays inside
        ("SELECT 'drop table t'", [(W, "SELECT"), (S, "drop table t")]),
        ("SELECT '/* drop table x */'", [(W, "SELECT"), (S, "/* drop table x */")]),
        ("SELECT '-- x' , '# y'", [(W, "SELECT"), (S, "-- x"), (P, ","), (S, "# y")]),
        # any whitespace separates: newline, VT, FF, U+2028, NBSP
        ("DROP\x0bTABLE\x0ct\u2028x\u00a0y", [(W, "DROP"), (W, "TABLE"), (W, "t"), (W, "x"), (W, "y")]),
        # placeholders the audit plugins and pgaudit write for passwords
        ("BY *****", [(W, "BY"), (P, "*"), (P, "*"), (P, "*"), (P, "*"), (P, "*")]),
        ("BY <secret>", [(W, "BY"), (P, "<"), (W, "secret"), (P, ">")]),
    ],
)
def test_tokens(sql: str, expected: list[tuple[TokenKind, str]]) -> None:
    """GIVEN SQL text WHEN tokenized (ANY dialect) THEN exactly these tokens come out."""
    assert _pairs(sql) == expected


@pytest.mark.parametrize(
    ("sql", "dialect", "expected"),
    [
        # `--x`: PINNED — a comment for ANY and PostgreSQL; MySQL reads minus, minus
        ("1 --x\n2", Dialect.ANY, [(TokenKind.NUMBER, "1"), (TokenKind.NUMBER, "2")]),
        ("1 --x\n2", Dialect.POSTGRES, [(TokenKind.NUMBER, "1"), (TokenKind.NUMBER, "2")]),
        ("1 --x", Dialect.MYSQL, [(TokenKind.NUMBER, "1"), (P, "-"), (P, "-"), (W, "x")]),
        ("1 --\tx", Dialect.MYSQL, [(TokenKind.NUMBER, "1")]),
        # `#`: a comment except in PostgreSQL; ANY keeps `#>` (jsonb path operator) as code
        ("a #> b", Dialect.ANY, [(W, "a"), (P, "#"), (P, ">"), (W, "b")]),
        ("a # b", Dialect.POSTGRES, [(W, "a"), (P, "#"), (W, "b")]),
        ("a #> b", Dialect.MYSQL, [(W, "a")]),
        # backslash: an escape except in standard PostgreSQL strings
        (r"'a\' z'", Dialect.ANY, [(S, "a' z")]),
        (r"'a\' z'", Dialect.POSTGRES, [(S, "a\\"), (W, "z"), (S, "")]),
        (r"E'a\' z'", Dialect.POSTGRES, [(S, "a' z")]),
        # nesting: MySQL ends a block comment at the first */
        ("/* /* */ x */", Dialect.MYSQL, [(W, "x"), (P, "*"), (P, "/")]),
        # executable comments are plain comments to PostgreSQL
        ("/*! DROP */ x", Dialect.POSTGRES, [(W, "x")]),
        # MySQL has no dollar quoting
        ("$$ x $$", Dialect.MYSQL, [(W, "$$"), (W, "x"), (W, "$$")]),
    ],
)
def test_dialect_differences(sql: str, dialect: Dialect, expected: list[tuple[TokenKind, str]]) -> None:
    """GIVEN text the dialects read differently WHEN tokenized THEN each dialect's reading is pinned."""
    assert _pairs(sql, dialect) == expected


@pytest.mark.parametrize(
    ("sql", "kind", "value"),
    [
        ("'abc", S, "abc"),
        ("'ab\\'", S, "ab'"),
        ('"abc', D, "abc"),
        ("`abc", Q, "abc"),
        ("$$abc", B, "abc"),
        ("$t$abc$t", B, "abc$t"),
    ],
)
def test_an_unterminated_literal_runs_to_the_end(sql: str, kind: TokenKind, value: str) -> None:
    """GIVEN a statement cut inside a literal WHEN tokenized THEN the literal runs to the end, flagged."""
    (token,) = tokenize(sql)
    assert (token.kind, token.value, token.end, token.terminated) == (kind, value, len(sql), False)


@pytest.mark.parametrize("sql", ["a /* never closed ; drop table t", "a /*! b", "a /* /* */ drop"])
def test_an_unterminated_comment_runs_to_the_end(sql: str) -> None:
    """GIVEN a comment that never closes WHEN tokenized THEN nothing after it is code."""
    assert [token.value for token in tokenize(sql)][-1] in ("a", "b")


def test_tokens_carry_their_exact_source_span() -> None:
    """GIVEN text with a prefixed literal WHEN tokenized THEN start/end slice the original text."""
    sql = "SET x = E'\\'' -- c\n;"
    assert [(t.text, sql[t.start : t.end]) for t in tokenize(sql)] == [
        ("SET", "SET"),
        ("x", "x"),
        ("=", "="),
        ("E'\\''", "E'\\''"),
        (";", ";"),
    ]


def _statement_texts(sql: str) -> list[str]:
    """Each statement as its tokens' texts joined by spaces."""
    return [" ".join(token.text for token in statement) for statement in split_statements(tokenize(sql))]


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("select 'a'; drop table t", ["select 'a'", "drop table t"]),
        ("select 'a;b'; ;; select `c;d`;", ["select 'a;b'", "select `c;d`"]),
        ("select 1 -- ; drop\n", ["select 1"]),
        ("do $$ a; b $$; x", ["do $$ a; b $$", "x"]),
        # a routine definition keeps its body's `;` (BEGIN/CASE … END, not END IF/LOOP)
        (
            "CREATE PROCEDURE p() BEGIN IF x THEN DROP TABLE t; END IF; "
            "SELECT CASE WHEN 1 THEN 2 END; END; DROP TABLE z",
            [
                "CREATE PROCEDURE p ( ) BEGIN IF x THEN DROP TABLE t ; END IF ; "
                "SELECT CASE WHEN 1 THEN 2 END ; END",
                "DROP TABLE z",
            ],
        ),
        (
            "CREATE DEFINER=`root`@`%` TRIGGER tr BEFORE INSERT ON t FOR EACH ROW BEGIN SET @a=1; END; x",
            [
                "CREATE DEFINER = `root` @ `%` TRIGGER tr BEFORE INSERT ON t FOR EACH ROW BEGIN "
                "SET @ a = 1 ; END",
                "x",
            ],
        ),
        ("CREATE RULE r AS ON DELETE TO t DO (DELETE FROM a; DELETE FROM b); x", None),
        # a transaction BEGIN is not a block
        ("BEGIN; DROP TABLE t; COMMIT", ["BEGIN", "DROP TABLE t", "COMMIT"]),
        # CREATE TABLE is not a routine even with a column called begin
        ("CREATE TABLE t (begin int); DROP TABLE t", ["CREATE TABLE t ( begin int )", "DROP TABLE t"]),
    ],
)
def test_split_statements(sql: str, expected: list[str] | None) -> None:
    """GIVEN text with several statements WHEN split THEN top-level `;` alone separates them."""
    if expected is None:
        assert len(_statement_texts(sql)) == 2
    else:
        assert _statement_texts(sql) == expected


SQLISH = st.lists(
    st.sampled_from(
        ["'", '"', "`", "\\", "$$", "$a$", "/*", "*/", "/*!", "--", "#", "\n", ";", "(", ")", " ", "E'", "x"]
    )
    | st.text(max_size=3),
    max_size=40,
).map("".join)


@settings(max_examples=300, deadline=None)
@given(sql=SQLISH | st.text(max_size=200), dialect=st.sampled_from(list(Dialect)))
def test_tokenize_never_raises_and_tokens_are_ordered_source_slices(sql: str, dialect: Dialect) -> None:
    """GIVEN any text WHEN tokenized and split THEN tokens are exact ordered slices; only `;` is dropped."""
    tokens = tokenize(sql, dialect)
    previous_end = 0
    for token in tokens:
        assert isinstance(token, Token)
        assert previous_end <= token.start < token.end <= len(sql)
        assert sql[token.start : token.end] == token.text
        previous_end = token.end
    kept = [token.start for statement in split_statements(tokens) for token in statement]
    assert kept == sorted(set(kept))
    assert all(token.is_punct(";") for token in tokens if token.start not in set(kept))
