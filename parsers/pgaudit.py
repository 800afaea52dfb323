"""The pgAudit record: the CSV payload pgaudit.c writes after `AUDIT: ` in a PostgreSQL log entry."""

from __future__ import annotations

import re
from dataclasses import dataclass

AUDIT_TYPES = frozenset({"SESSION", "OBJECT"})

# Placeholders pgaudit writes instead of a statement or a parameter list (pgaudit.c log_audit_event).
NOT_LOGGED = "<not logged>"
NO_PARAMETERS = "<none>"
PREVIOUSLY_LOGGED = "<previously logged>"
_PARAMETER_MARKERS = frozenset({NOT_LOGGED, NO_PARAMETERS, PREVIOUSLY_LOGGED})

# Head fields: AUDIT_TYPE, STATEMENT_ID, SUBSTATEMENT_ID, CLASS, COMMAND, OBJECT_TYPE, OBJECT_NAME.
_HEAD_FIELDS = 7
_CLASS = re.compile(r"[A-Z_]+")


class PgAuditFormatError(ValueError):
    """The text after `AUDIT:` is not a pgaudit CSV record."""


@dataclass(frozen=True, slots=True)
class PgAuditRecord:
    """One pgaudit record, fields as pgaudit.c wrote them (CSV quoting removed)."""

    audit_type: str  # SESSION or OBJECT
    statement_id: int
    substatement_id: int
    audit_class: str  # READ, WRITE, FUNCTION, ROLE, DDL, MISC, MISC_SET
    command: str
    object_type: str
    object_name: str
    statement: str  # may be a placeholder: <not logged>, <previously logged>
    parameter: str | None  # raw PARAMETER field; None when the record has no such field
    rows: int | None = None  # present only with pgaudit.log_rows

    @property
    def parameters(self) -> tuple[str, ...] | None:
        """The statement parameters (a CSV list nested in the field); None when not logged."""
        if self.parameter is None or self.parameter in (NOT_LOGGED, PREVIOUSLY_LOGGED):
            return None
        if self.parameter == NO_PARAMETERS:
            return ()
        return tuple(field.value for field in split_csv(self.parameter))


@dataclass(frozen=True, slots=True)
class CsvField:
    """One CSV field: its unquoted value and where its text sits in the line."""

    value: str
    quoted: bool
    start: int
    end: int


def split_csv(text: str) -> list[CsvField]:
    """Split one CSV line the way pgaudit's append_valid_csv writes it (`""` escapes, newlines in quotes).

    A `"` that does not open a field is kept as a literal character (tolerant of hand-edited samples).
    """
    fields: list[CsvField] = []
    size = len(text)
    pos = 0
    while True:
        start = pos
        if pos < size and text[pos] == '"':
            value, pos = _read_quoted(text, pos + 1)
            if pos < size and text[pos] != ",":
                raise PgAuditFormatError(f"text after a closing quote at offset {pos}")
            fields.append(CsvField(value, True, start, pos))
        else:
            comma = text.find(",", pos)
            pos = size if comma < 0 else comma
            fields.append(CsvField(text[start:pos], False, start, pos))
        if pos >= size:
            return fields
        pos += 1  # the separating comma


def _read_quoted(text: str, pos: int) -> tuple[str, int]:
    """Read a quoted field body starting after its opening quote; return (value, offset after close)."""
    parts: list[str] = []
    while True:
        quote = text.find('"', pos)
        if quote < 0:
            raise PgAuditFormatError("unterminated quoted field")
        parts.append(text[pos:quote])
        if text.startswith('"', quote + 1):
            parts.append('"')
            pos = quote + 2
        else:
            return "".join(parts), quote + 1


def parse_pgaudit(payload: str) -> PgAuditRecord:
    """Parse the text after `AUDIT:` into a record; raise PgAuditFormatError when it is not one."""
    text = payload.lstrip()
    fields = split_csv(text)
    if len(fields) <= _HEAD_FIELDS:
        raise PgAuditFormatError(f"expected at least {_HEAD_FIELDS + 1} fields, got {len(fields)}")
    audit_type, statement_id, substatement_id, audit_class, command, object_type, object_name = (
        field.value for field in fields[:_HEAD_FIELDS]
    )
    if audit_type not in AUDIT_TYPES:
        raise PgAuditFormatError(f"unknown audit type {audit_type[:20]!r}")
    if not (_is_count(statement_id) and _is_count(substatement_id)):
        raise PgAuditFormatError("statement ids are not numbers")
    if not _CLASS.fullmatch(audit_class):
        raise PgAuditFormatError(f"bad class {audit_class[:20]!r}")
    statement, parameter, rows = _read_tail(text, fields[_HEAD_FIELDS:])
    return PgAuditRecord(
        audit_type=audit_type,
        statement_id=int(statement_id),
        substatement_id=int(substatement_id),
        audit_class=audit_class,
        command=command,
        object_type=object_type,
        object_name=object_name,
        statement=statement,
        parameter=parameter,
        rows=rows,
    )


def _read_tail(text: str, tail: list[CsvField]) -> tuple[str, str | None, int | None]:
    """Read STATEMENT, PARAMETER and the optional rows count from the fields after OBJECT_NAME."""
    if len(tail) == 1:  # older output without a PARAMETER field (pgaudit README examples)
        return tail[0].value, None, None
    if len(tail) == 2:
        return tail[0].value, tail[1].value, None
    if len(tail) == 3 and not tail[2].quoted and _is_count(tail[2].value):
        return tail[0].value, tail[1].value, int(tail[2].value)
    if tail[0].quoted:
        raise PgAuditFormatError(f"{len(tail)} fields after OBJECT_NAME, expected 1 to 3")
    return _read_unquoted_statement_tail(text, tail)


def _read_unquoted_statement_tail(text: str, tail: list[CsvField]) -> tuple[str, str | None, int | None]:
    """Recover a statement written unquoted despite commas (illustrative docs): PARAMETER is found from
    the right (a placeholder or a quoted list, then an optional rows count) and the rest is the statement.
    """
    rows: int | None = None
    last = len(tail) - 1
    if _is_count(tail[last].value) and not tail[last].quoted and _is_parameter_like(tail[last - 1]):
        rows = int(tail[last].value)
        last -= 1
    if _is_parameter_like(tail[last]):
        return text[tail[0].start : tail[last - 1].end], tail[last].value, rows
    return text[tail[0].start : tail[-1].end], None, None


def _is_parameter_like(field: CsvField) -> bool:
    """Whether a field can only be a PARAMETER value (a placeholder or a quoted list)."""
    return field.quoted or field.value in _PARAMETER_MARKERS


def _is_count(text: str) -> bool:
    """Whether a field is a non-negative 64-bit decimal integer (INT64_FORMAT)."""
    return 0 < len(text) <= 19 and text.isascii() and text.isdigit()
