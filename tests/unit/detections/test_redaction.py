"""Secret redaction: every password form masked, everything else byte-identical, idempotent."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from detections.redaction import REDACTED, redact_statement

R = REDACTED

CASES: list[tuple[str, str]] = [
    # MySQL / MariaDB account statements
    ("CREATE USER 'u'@'%' IDENTIFIED BY 'p@ss'", f"CREATE USER 'u'@'%' IDENTIFIED BY {R}"),
    ("CREATE USER u IDENTIFIED BY PASSWORD '*F846B3'", f"CREATE USER u IDENTIFIED BY PASSWORD {R}"),
    (  # the Aurora 2.09 capture in FORMATS.md 1.5: a hash is a secret too
        "CREATE USER 'ethan'@'%' IDENTIFIED WITH 'mysql_native_password' "
        "AS '*F846B31F10DD4389C384272E70B9BBA3AD9E1F94'",
        f"CREATE USER 'ethan'@'%' IDENTIFIED WITH 'mysql_native_password' AS {R}",
    ),
    (
        "ALTER USER u IDENTIFIED WITH caching_sha2_password BY 'n\\'ew' REPLACE 'o''ld' "
        "RETAIN CURRENT PASSWORD",
        f"ALTER USER u IDENTIFIED WITH caching_sha2_password BY {R} REPLACE {R} RETAIN CURRENT PASSWORD",
    ),
    (
        "GRANT ALL ON db.* TO u IDENTIFIED BY 'x' WITH GRANT OPTION",
        f"GRANT ALL ON db.* TO u IDENTIFIED BY {R} WITH GRANT OPTION",
    ),
    (
        "create user a identified /* c */ by -- d\n 'x' , b identified by \"y\"",
        f"create user a identified /* c */ by -- d\n {R} , b identified by {R}",
    ),
    (
        "CREATE USER u IDENTIFIED VIA ed25519 USING PASSWORD('s1') OR mysql_native_password USING '*AB'",
        f"CREATE USER u IDENTIFIED VIA ed25519 USING PASSWORD({R}) OR mysql_native_password USING {R}",
    ),
    ("SET PASSWORD FOR 'u'@'%' = 'x'", f"SET PASSWORD FOR 'u'@'%' = {R}"),
    ("SET PASSWORD FOR u='x' REPLACE 'y'", f"SET PASSWORD FOR u={R} REPLACE {R}"),
    ("SET PASSWORD = PASSWORD('x')", f"SET PASSWORD = PASSWORD({R})"),
    ("set password = old_password('x')", f"set password = old_password({R})"),
    ("CREATE USER u IDENTIFIED BY _utf8mb4'x'", f"CREATE USER u IDENTIFIED BY _utf8mb4{R}"),
    ("CREATE USER u IDENTIFIED BY 'ab' 'cd'", f"CREATE USER u IDENTIFIED BY {R}"),  # 'ab' 'cd' is 'abcd'
    ("/*!80000 CREATE USER u IDENTIFIED BY 'x' */", f"/*!80000 CREATE USER u IDENTIFIED BY {R} */"),
    # replication and foreign servers
    (
        "CHANGE MASTER TO MASTER_HOST='h', MASTER_PASSWORD = 'x', MASTER_PORT=3306",
        f"CHANGE MASTER TO MASTER_HOST='h', MASTER_PASSWORD = {R}, MASTER_PORT=3306",
    ),
    ("CHANGE REPLICATION SOURCE TO SOURCE_PASSWORD='x'", f"CHANGE REPLICATION SOURCE TO SOURCE_PASSWORD={R}"),
    ("START REPLICA USER='r' PASSWORD='x'", f"START REPLICA USER='r' PASSWORD={R}"),
    (
        "CALL mysql.rds_set_external_master ('h', 3306, 'repl', 'x', 'mysql-bin.000001', 107, 0)",
        f"CALL mysql.rds_set_external_master ('h', 3306, 'repl', {R}, 'mysql-bin.000001', 107, 0)",
    ),
    ("CALL mysql.rds_kill(1, 2, 3, 'x')", "CALL mysql.rds_kill(1, 2, 3, 'x')"),
    (
        "CREATE USER MAPPING FOR bob SERVER foo OPTIONS (user 'bob', password 'x')",
        f"CREATE USER MAPPING FOR bob SERVER foo OPTIONS (user 'bob', password {R})",
    ),
    (
        "CREATE SUBSCRIPTION s CONNECTION 'host=h dbname=d password=x' PUBLICATION p",
        f"CREATE SUBSCRIPTION s CONNECTION {R} PUBLICATION p",
    ),
    ("SELECT dblink_connect('postgresql://u:x@h/db')", f"SELECT dblink_connect({R})"),
    # PostgreSQL role statements
    (
        "CREATE ROLE r LOGIN PASSWORD 'x' VALID UNTIL '2030-01-01'",
        f"CREATE ROLE r LOGIN PASSWORD {R} VALID UNTIL '2030-01-01'",
    ),
    ("ALTER ROLE r WITH ENCRYPTED PASSWORD 'md5ab'", f"ALTER ROLE r WITH ENCRYPTED PASSWORD {R}"),
    ("ALTER USER r encrypted /* c */PASSWORD 'x'", f"ALTER USER r encrypted /* c */PASSWORD {R}"),
    ("ALTER ROLE r PASSWORD $$x$$", f"ALTER ROLE r PASSWORD {R}"),
    (
        "alter role r password $pw$x'y$pw$ valid until 'infinity'",
        f"alter role r password {R} valid until 'infinity'",
    ),
    ("ALTER ROLE r PASSWORD E'a\\'b'", f"ALTER ROLE r PASSWORD {R}"),
    ("CREATE ROLE r PASSWORD 'a''b'", f"CREATE ROLE r PASSWORD {R}"),
    # truncated statements: the literal runs to the end and is masked to the end
    ("CREATE USER u IDENTIFIED BY 'trunc", f"CREATE USER u IDENTIFIED BY {R}"),
    ("CREATE ROLE r PASSWORD 'ab\\", f"CREATE ROLE r PASSWORD {R}"),
    ("ALTER ROLE r PASSWORD $$trunc", f"ALTER ROLE r PASSWORD {R}"),
    # SQL held in literals
    ("PREPARE s FROM 'CREATE USER u IDENTIFIED BY ''x'''", f"PREPARE s FROM {R}"),
    (
        "CREATE FUNCTION f() RETURNS void AS $$ BEGIN ALTER ROLE x PASSWORD 'y'; END $$ LANGUAGE plpgsql",
        f"CREATE FUNCTION f() RETURNS void AS $$ BEGIN ALTER ROLE x PASSWORD {R}; END $$ LANGUAGE plpgsql",
    ),
    ("DO $b$ BEGIN EXECUTE 'ALTER ROLE x PASSWORD ''y'''; END $b$", f"DO $b$ BEGIN EXECUTE {R}; END $b$"),
    # several statements
    (
        "SELECT 1; ALTER USER u IDENTIFIED BY 'x'; SELECT 'x'",
        f"SELECT 1; ALTER USER u IDENTIFIED BY {R}; SELECT 'x'",
    ),
    # already redacted by the server: unchanged
    (
        "CREATE USER 'u1_empty'@'%' IDENTIFIED BY <secret>",
        "CREATE USER 'u1_empty'@'%' IDENTIFIED BY <secret>",
    ),
    (
        "GRANT ALL ON sa_db TO u2_empty IDENTIFIED BY *****",
        "GRANT ALL ON sa_db TO u2_empty IDENTIFIED BY *****",
    ),
    ("CREATE USER regress_user1 password <REDACTED>", "CREATE USER regress_user1 password <REDACTED>"),
    (f"ALTER USER u IDENTIFIED BY {R}", f"ALTER USER u IDENTIFIED BY {R}"),
    # no secret: byte-identical
    ("SELECT password FROM account WHERE id = 'x'", "SELECT password FROM account WHERE id = 'x'"),
    ("ALTER USER u PASSWORD EXPIRE", "ALTER USER u PASSWORD EXPIRE"),
    ("SELECT 'identified by' FROM t", "SELECT 'identified by' FROM t"),
    ("SELECT 1 -- password 'x'", "SELECT 1 -- password 'x'"),
    ("DROP TABLE t", "DROP TABLE t"),
    ("", ""),
]


@pytest.mark.parametrize(("sql", "expected"), CASES, ids=[c[0][:60] for c in CASES])
def test_redact_statement(sql: str, expected: str) -> None:
    """GIVEN a statement WHEN redacted THEN exactly the secret literals become REDACTED."""
    assert redact_statement(sql) == expected


def test_pgaudit_style_placeholder_is_left_alone_but_clear_text_is_not() -> None:
    """GIVEN log_statement's clear text and pgaudit's redacted text WHEN redacted THEN both show no secret."""
    # FORMATS.md 8: log_statement logs PASSWORD '…' in clear text while pgaudit writes <REDACTED>
    clear = "ALTER ROLE regress_user1 PassWord 'hunter22'"
    assert redact_statement(clear) == f"ALTER ROLE regress_user1 PassWord {R}"
    assert redact_statement("ALTER ROLE regress_user1 PassWord <REDACTED>") == (
        "ALTER ROLE regress_user1 PassWord <REDACTED>"
    )


@settings(max_examples=300, deadline=None)
@given(sql=st.text(max_size=200) | st.lists(st.sampled_from(
    ["PASSWORD", "IDENTIFIED", "BY", "AS", "'", "''", "\\", '"', "$$", "$a$", "/*", "*/", "--", "#", "\n",
     ";", "=", "(", ")", ",", "SET", "REPLACE", " ", "x", "'***'", "CALL rds_set_external_master(", "://u:p@"]
), max_size=30).map("".join))  # fmt: skip
def test_redaction_never_raises_and_is_idempotent(sql: str) -> None:
    """GIVEN any text WHEN redacted twice THEN the second pass changes nothing."""
    once = redact_statement(sql)
    assert redact_statement(once) == once


def _mysql(secret: str) -> str:
    """MySQL single-quoted literal, backslash escapes."""
    return "'" + secret.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _mysql_doubled(secret: str) -> str:
    """MySQL single-quoted literal, quotes doubled."""
    return "'" + secret.replace("\\", "\\\\").replace("'", "''") + "'"


def _mysql_double_quoted(secret: str) -> str:
    """MySQL double-quoted string."""
    return '"' + secret.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _pg(secret: str) -> str:
    """PostgreSQL standard string (backslashes are plain characters)."""
    return "'" + secret.replace("'", "''") + "'"


def _pg_escape(secret: str) -> str:
    """PostgreSQL E'…' string."""
    return "E'" + secret.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _pg_dollar(secret: str) -> str:
    """PostgreSQL dollar-quoted string with a tag that cannot close early."""
    tag = "$pw$"
    while (secret + tag).find(tag) != len(secret):
        tag = tag[:-1] + "w$"
    return tag + secret + tag


MYSQL_FORMS = [
    "CREATE USER 'u'@'%' IDENTIFIED BY {}",
    "CREATE USER u IDENTIFIED BY PASSWORD {}",
    "ALTER USER u IDENTIFIED WITH 'mysql_native_password' AS {}",
    "CREATE USER u IDENTIFIED WITH caching_sha2_password BY {} PASSWORD EXPIRE",
    "GRANT ALL ON *.* TO u IDENTIFIED BY {} WITH GRANT OPTION",
    "create user u identified /* c */ by -- d\n {}, v",
    "SET PASSWORD FOR 'u'@'%' = {}",
    "SET PASSWORD = PASSWORD({})",
    "ALTER USER u IDENTIFIED BY <secret> REPLACE {} RETAIN CURRENT PASSWORD",
    "CHANGE MASTER TO MASTER_HOST='h', MASTER_PASSWORD = {}, MASTER_PORT=3306",
    "CHANGE REPLICATION SOURCE TO SOURCE_PASSWORD={}",
    "CALL mysql.rds_set_external_master('h', 3306, 'repl', {}, 'bin.1', 4, 0)",
    "CREATE USER u IDENTIFIED VIA ed25519 USING PASSWORD({})",
    "/*!80000 CREATE USER u IDENTIFIED BY {} */",
]
PG_FORMS = [
    "CREATE ROLE r LOGIN PASSWORD {}",
    "ALTER ROLE r WITH ENCRYPTED PASSWORD {} VALID UNTIL 'infinity'",
    "CREATE USER u WITH PASSWORD {} IN ROLE readers",
    "CREATE USER MAPPING FOR bob SERVER s OPTIONS (user 'bob', password {})",
]
QUOTED_FORMS: list[tuple[str, Callable[[str], str]]] = [
    *((form, quote) for form in MYSQL_FORMS for quote in (_mysql, _mysql_doubled, _mysql_double_quoted)),
    *((form, quote) for form in PG_FORMS for quote in (_pg, _pg_escape, _pg_dollar)),
]
SECRET = st.text(
    st.sampled_from("aZ9 '\"\\`$;#-/*\n\r\t,()=%@é€😀") | st.characters(codec="utf-8"),
    min_size=6,
    max_size=24,
)


@pytest.mark.parametrize(
    ("form", "quote"), QUOTED_FORMS, ids=[f"{f[:40]}-{q.__name__}" for f, q in QUOTED_FORMS]
)
@settings(max_examples=25, deadline=None)
@given(secret=SECRET)
def test_a_secret_never_survives_any_password_form(
    form: str, quote: Callable[[str], str], secret: str
) -> None:
    """GIVEN any secret, properly escaped, in a password form WHEN redacted THEN none of it remains."""
    expected = form.format(R)
    assume(secret not in expected and secret not in form.format(""))
    redacted = redact_statement(form.format(quote(secret)))
    assert secret not in redacted
    # nothing but the statement's own text is left around the masks (no part of the secret)
    assert [piece for piece in redacted.split(R) if piece not in form.format("")] == []
    if not set(secret) & set("\\'\""):
        assert redacted == expected
    # else a dialect that reads `\'` differently may see a longer literal: more is masked, not less


@pytest.mark.parametrize(("form", "quote"), QUOTED_FORMS[::3], ids=[f[:40] for f, _ in QUOTED_FORMS[::3]])
@settings(max_examples=15, deadline=None)
@given(secret=SECRET)
def test_a_truncated_secret_is_masked_to_the_end(form: str, quote: Callable[[str], str], secret: str) -> None:
    """GIVEN a statement cut inside the secret literal WHEN redacted THEN it is masked to the end."""
    prefix = form.split("{}", 1)[0]
    assume(secret not in prefix)
    redacted = redact_statement(prefix + quote(secret)[:-1])
    assert redacted == prefix + R


def test_a_repeated_secret_is_masked_every_time_and_long_texts_are_not_remembered() -> None:
    # GIVEN a statement with a password read once, and a long one past the remembered length
    from detections.redaction import CACHED_TEXT_CHARS, _redact_cached

    sql = "ALTER USER 'app'@'%' IDENTIFIED BY 'hunter2'"
    long_sql = sql + " /*" + "x" * CACHED_TEXT_CHARS + "*/"
    first = redact_statement(sql)
    size = _redact_cached.cache_info().currsize
    # WHEN redacting both (again)
    again, long_result = redact_statement(sql), redact_statement(long_sql)
    # THEN the secret is masked both times and in the long text, which is not remembered
    assert again == first == f"ALTER USER 'app'@'%' IDENTIFIED BY {R}"
    assert "hunter2" not in long_result
    assert _redact_cached.cache_info().currsize == size


def test_a_text_without_a_secret_comes_back_as_it_is_short_or_long_first_time_or_again() -> None:
    # GIVEN a short statement and one past the remembered length, neither holding a secret
    from detections.redaction import CACHED_TEXT_CHARS

    short = "DROP TABLE shop.orders"
    long_sql = short + " /*" + "x" * CACHED_TEXT_CHARS + "*/"
    # WHEN redacting each twice
    # THEN the very same text comes back every time
    for sql in (short, long_sql):
        assert redact_statement(sql) is sql
        assert redact_statement(sql) is sql
