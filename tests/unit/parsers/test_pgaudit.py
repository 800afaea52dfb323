"""The pgaudit CSV payload: upstream samples, malformed payloads, a round trip through pgaudit.c's writer."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parsers.event import Action, AuditEvent
from parsers.pgaudit import PgAuditFormatError, PgAuditRecord, parse_pgaudit
from parsers.postgres import parse_postgres
from parsers.records import RawRecord

SAMPLES = Path(__file__).resolve().parents[2] / "data" / "samples"
NL = "<not logged>"


def payloads(name: str, entry_start: str) -> list[str]:
    """The AUDIT payloads of a prefix-less sample: entries start at lines matching `entry_start`."""
    text = (SAMPLES / name).read_text(encoding="utf-8").removesuffix("\n")
    return [part for part in re.split(rf"(?:^|\n){entry_start}", text) if part]


R = PgAuditRecord  # fields in CSV order: type, statement id, substatement id, class, command,
# object type, object name, statement, parameter[, rows]


ACCOUNT_JOIN = (
    "select account.password,\n       account_role_map.role_id\n  from account\n"
    "       inner join account_role_map\n            on account.id = account_role_map.account_id"
)
# README output is illustrative: several statements are shown unquoted despite commas/newlines. The
# parser recovers them (PARAMETER found from the right); the extra "," of entry 4 stays in the statement.
README = [
    R("SESSION", 33, 1, "FUNCTION", "DO", "", "",
      "DO $$\nBEGIN\n    EXECUTE 'CREATE TABLE import' || 'ant_table (id INT)';\nEND $$;", None),
    R("SESSION", 33, 2, "DDL", "CREATE TABLE", "TABLE", "public.important_table",
      "CREATE TABLE important_table (id INT)", None),
    R("SESSION", 1, 1, "DDL", "CREATE TABLE", "TABLE", "public.account",
      "create table account\n(\n    id int,\n    name text,\n    password text,\n    description text\n);",
      NL),
    R("SESSION", 2, 1, "READ", "SELECT", "", "", "select *\n    from account,", NL),
    R("OBJECT", 1, 1, "READ", "SELECT", "TABLE", "public.account", "select password\n  from account", NL),
    R("OBJECT", 2, 1, "WRITE", "UPDATE", "TABLE", "public.account",
      "update account\n   set password = 'HASH2'", NL),
    R("OBJECT", 3, 1, "READ", "SELECT", "TABLE", "public.account", ACCOUNT_JOIN, NL),
    R("OBJECT", 3, 1, "READ", "SELECT", "TABLE", "public.account_role_map", ACCOUNT_JOIN, NL),
    R("SESSION", 36, 1, "DDL", "ALTER TABLE", "TABLE", "public.test2",
      "ALTER TABLE test RENAME TO test2", NL),
]  # fmt: skip
REGRESS = [
    R("SESSION", 4, 1, "DDL", "CREATE TABLE", "TABLE", "public.tmp",
      "CREATE TABLE tmp (id int, data text)", NL),
    R("SESSION", 2, 1, "ROLE", "CREATE ROLE", "", "", "CREATE USER regress_user1 password <REDACTED>", NL),
    R("SESSION", 3, 1, "ROLE", "ALTER ROLE", "", "",
      "ALTER ROLE regress_user1 SET pgaudit.log = 'ddl, ROLE'", NL),
    R("SESSION", 5, 1, "ROLE", "ALTER ROLE", "", "", "ALTER ROLE regress_user1 PassWord <REDACTED>", NL),
    R("SESSION", 6, 1, "ROLE", "ALTER ROLE", "", "",
      "ALTER USER regress_user1 encrypted /* random comment */PASSWORD <REDACTED>", NL),
    R("SESSION", 1, 1, "DDL", "CREATE TABLE", "TABLE", "public.test",
      "CREATE TABLE public.test\n(\n\tid INT\n)", NL),
    R("SESSION", 1, 1, "ROLE", "CREATE ROLE", "", "",
      "CREATE ROLE regress_user2 LOGIN password <REDACTED>", NL),
    R("SESSION", 8, 1, "ROLE", "GRANT", "TABLE", "",
      "GRANT SELECT, INSERT, UPDATE, DELETE\n   ON test2\n   TO regress_user2, regress_user1", NL),
    R("OBJECT", 1, 1, "WRITE", "INSERT", "TABLE", "public.test4",
      "PREPARE testinsert(int, text) AS\n    INSERT INTO test4 VALUES($1, $2)", "1,<long param suppressed>"),
]  # fmt: skip
README_PAYLOADS = payloads("pgaudit-readme-output.log", "AUDIT: ")
REGRESS_PAYLOADS = payloads("pgaudit-regress-output.log", "(?:NOTICE|WARNING):  AUDIT: ")


@pytest.mark.parametrize(("index", "expected"), list(enumerate(README)))
def test_readme_output_entries(index: int, expected: PgAuditRecord) -> None:
    """GIVEN an entry of the pgaudit README WHEN parsed THEN its fields are as pinned."""
    assert parse_pgaudit(README_PAYLOADS[index]) == expected


@pytest.mark.parametrize(("index", "expected"), list(enumerate(REGRESS)))
def test_regression_output_entries(index: int, expected: PgAuditRecord) -> None:
    """GIVEN an entry of pgaudit's expected regression output WHEN parsed THEN its fields are exact."""
    assert parse_pgaudit(REGRESS_PAYLOADS[index]) == expected


def test_the_samples_hold_exactly_the_tabled_entries() -> None:
    """GIVEN the prefix-less samples WHEN split into entries THEN each table covers every entry."""
    assert (len(README_PAYLOADS), len(REGRESS_PAYLOADS)) == (len(README), len(REGRESS))


@pytest.mark.parametrize(("index", "expected"), list(enumerate(REGRESS)))
def test_regression_entries_written_to_the_server_log_keep_their_statement(
    index: int, expected: PgAuditRecord
) -> None:
    """GIVEN a regression entry as the server logger writes it (RDS prefix, a TAB after every newline)
    WHEN parsed from the log THEN the statement is intact, its own TABs included."""
    message = "AUDIT: " + REGRESS_PAYLOADS[index]
    line = "2024-05-01 12:00:00 UTC:10.0.0.5(40000):alice@app:[4242]:LOG:  " + message.replace("\n", "\n\t")
    records = [RawRecord(text, f"postgresql.log:{n}") for n, text in enumerate(line.split("\n"), 1)]
    [event] = parse_postgres(records)
    assert isinstance(event, AuditEvent)
    assert (event.statement, event.command, event.object, event.query_id) == (
        expected.statement,
        expected.command,
        expected.object_name,
        f"{expected.statement_id}.{expected.substatement_id}",
    )
    assert event.action == {"DDL": Action.QUERY_DDL, "ROLE": Action.QUERY_DCL}.get(
        expected.audit_class, Action.QUERY_DML
    )


@pytest.mark.parametrize(
    ("parameter", "parameters"),
    [
        ("1,<long param suppressed>", ("1", "<long param suppressed>")),
        ('"a,b",,"say ""hi""\nthere"', ("a,b", "", 'say "hi"\nthere')),
        ("", ("",)),  # one NULL parameter
        ("<none>", ()),
        ("<not logged>", None),
        (None, None),
    ],
)
def test_parameter_list_is_a_csv_list_nested_in_the_field(
    parameter: str | None, parameters: tuple[str, ...] | None
) -> None:
    """GIVEN a PARAMETER field WHEN read as a list THEN the nested CSV is split with quotes undone."""
    assert R("SESSION", 1, 1, "READ", "SELECT", "", "", "x", parameter).parameters == parameters


@pytest.mark.parametrize(
    ("payload", "statement", "parameter", "rows"),
    [
        ("select 1,<none>,1", "select 1", "<none>", 1),  # pgaudit.log_rows
        ('"a ""quoted"" one",<not logged>,0', 'a "quoted" one', NL, 0),
        ('"x\r\ny",<none>', "x\r\ny", "<none>", None),
        ("<not logged>,<not logged>", NL, NL, None),  # pgaudit.log_statement off
        ("<previously logged>,<previously logged>,3", "<previously logged>", "<previously logged>", 3),
        (",", "", "", None),  # NULL statement text
    ],
)
def test_tail_fields(payload: str, statement: str, parameter: str, rows: int | None) -> None:
    """GIVEN the fields after OBJECT_NAME WHEN parsed THEN statement, parameter and rows are exact."""
    parsed = parse_pgaudit("SESSION,1,1,READ,SELECT,TABLE,public.t," + payload)
    assert (parsed.statement, parsed.parameter, parsed.rows) == (statement, parameter, rows)


def test_quoted_object_name() -> None:
    """GIVEN an object name with a comma and quotes WHEN parsed THEN the quoting is undone."""
    parsed = parse_pgaudit('OBJECT,7,2,WRITE,UPDATE,TABLE,"public.""a,b""",update x,<none>')
    assert (parsed.object_name, parsed.statement_id, parsed.substatement_id) == ('public."a,b"', 7, 2)


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ('SESSION,1,1,READ,SELECT,,,"select 1,<none>', "unterminated quoted field"),
        ('SESSION,1,1,READ,SELECT,,,"select"1,<none>', "text after a closing quote at offset 34"),
        ("SESSION,1,1,READ,SELECT,,", "expected at least 8 fields, got 7"),
        ("", "expected at least 8 fields, got 1"),
        ("SOMETHING,1,1,READ,SELECT,,,x,<none>", "unknown audit type 'SOMETHING'"),
        ("SESSION,one,1,READ,SELECT,,,x,<none>", "statement ids are not numbers"),
        ("SESSION,1,-1,READ,SELECT,,,x,<none>", "statement ids are not numbers"),
        ("SESSION,1,1,read,SELECT,,,x,<none>", "bad class 'read'"),
        ('SESSION,1,1,READ,SELECT,,,"x",<none>,5,6', "4 fields after OBJECT_NAME, expected 1 to 3"),
    ],
)
def test_malformed_payload_raises_format_error(payload: str, reason: str) -> None:
    """GIVEN a payload pgaudit cannot have written WHEN parsed THEN PgAuditFormatError says why."""
    with pytest.raises(PgAuditFormatError) as caught:
        parse_pgaudit(payload)
    assert str(caught.value) == reason


# --- round trip through a re-implementation of pgaudit.c's writer ---------------------------------


def append_valid_csv(value: str) -> str:
    """pgaudit.c append_valid_csv: quote iff the value holds `,` `"` LF or CR, doubling inner quotes."""
    if any(char in value for char in ',"\n\r'):
        return '"' + value.replace('"', '""') + '"'
    return value


def render_parameters(parameters: list[str] | None) -> str:
    """pgaudit.c parameter field: `<not logged>`, `<none>` for no parameters, else a nested CSV list."""
    if parameters is None:
        return NL
    if not parameters:
        return "<none>"
    return append_valid_csv(",".join(append_valid_csv(value) for value in parameters))


def render(fields: dict[str, Any]) -> str:
    """pgaudit.c log_audit_event: the text after `AUDIT: `."""
    text = "{},{},{},{},".format(
        fields["audit_type"], fields["statement_id"], fields["substatement_id"], fields["audit_class"]
    )
    text += ",".join(
        append_valid_csv(fields[name]) for name in ("command", "object_type", "object_name", "statement")
    )
    text += "," + render_parameters(fields["parameters"])
    if fields["rows"] is not None:
        text += f",{fields['rows']}"
    return text


FIELD_ORDER = (
    "audit_type",
    "statement_id",
    "substatement_id",
    "audit_class",
    "command",
    "object_type",
    "object_name",
    "statement",
    "parameters",
    "rows",
)
MARKERS = {"<none>", "<not logged>", "<previously logged>"}
free_text = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=40)
pgaudit_fields = st.fixed_dictionaries(
    {
        "audit_type": st.sampled_from(["SESSION", "OBJECT"]),
        "statement_id": st.integers(0, 2**63 - 1),
        "substatement_id": st.integers(0, 2**63 - 1),
        "audit_class": st.sampled_from(["READ", "WRITE", "FUNCTION", "ROLE", "DDL", "MISC", "MISC_SET"]),
        "command": free_text,
        "object_type": free_text,
        "object_name": free_text,
        "statement": free_text | st.sampled_from(["a,b\n\tc", '"', '""', ",", "\r\n", "select 1;"]),
        # A lone parameter equal to a placeholder renders as the placeholder: pgaudit's format cannot tell.
        "parameters": st.none() | st.lists(free_text.filter(lambda value: value not in MARKERS), max_size=4),
        "rows": st.none() | st.integers(0, 2**63 - 1),
    }
)


@settings(max_examples=300, deadline=None)
@given(pgaudit_fields)
def test_parse_undoes_pgaudit_rendering(fields: dict[str, Any]) -> None:
    """GIVEN any fields WHEN rendered as pgaudit.c does and parsed back THEN every field is recovered."""
    parsed = parse_pgaudit(render(fields))
    assert (
        parsed.audit_type,
        parsed.statement_id,
        parsed.substatement_id,
        parsed.audit_class,
        parsed.command,
        parsed.object_type,
        parsed.object_name,
        parsed.statement,
        None if parsed.parameters is None else list(parsed.parameters),
        parsed.rows,
    ) == tuple(fields[name] for name in FIELD_ORDER)


@settings(max_examples=200, deadline=None)
@given(pgaudit_fields)
def test_rendered_record_survives_the_server_log(fields: dict[str, Any]) -> None:
    """GIVEN a rendered record logged with the RDS prefix and TAB-continued lines WHEN parsed from the
    log THEN the event carries the fields (statement placeholders aside)."""
    message = "AUDIT: " + render(fields)
    entry = "2024-05-01 12:00:00 UTC:10.0.0.5(40000):alice@app:[4242]:LOG:  " + message.replace("\n", "\n\t")
    results = list(parse_postgres([RawRecord(entry, "group/stream#9", event_id="9")]))
    assert len(results) == 1
    event = results[0]
    assert isinstance(event, AuditEvent)
    statement = fields["statement"]
    assert (event.command, event.object_type, event.object, event.query_id, event.statement) == (
        fields["command"],
        fields["object_type"],
        fields["object_name"],
        f"{fields['statement_id']}.{fields['substatement_id']}",
        None if statement in ("", "<not logged>", "<previously logged>") else statement,
    )
