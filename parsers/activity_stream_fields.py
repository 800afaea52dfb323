"""Normalise drifting Database Activity Stream field types (int/str/null/"") and detect the engine."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime

AURORA_POSTGRESQL = "aurora-postgresql"
AURORA_MYSQL = "aurora-mysql"
ORACLE = "oracle"
SQLSERVER = "sqlserver"

# Checked field by field, most specific first: serverType is "PostgreSQL"/"MySQL"/"oracle"/"SQLSERVER",
# serviceName "Amazon Aurora PostgreSQL-Compatible edition"/"Amazon Aurora MySQL"/"oracle-ee"/"sqlserver-ee",
# dbProtocol "Postgres 3.0"/"MySQL"/"oracle"/"SQLSERVER" (FORMATS 4.3, 4.4 and the das-* samples).
_ENGINE_FIELDS = ("serverType", "serviceName", "dbProtocol")
_ENGINE_KEYWORDS = (
    ("postgres", AURORA_POSTGRESQL),
    ("mysql", AURORA_MYSQL),
    ("sqlserver", SQLSERVER),
    ("sql server", SQLSERVER),
    ("oracle", ORACLE),
)
_MYSQL_CLASSES = frozenset({"MAIN", "AUX"})

# SQL Server LOGIN FAILED carries the native error in additional_information: <error>0x00004818</error>.
_SQLSERVER_NATIVE_ERROR = re.compile(r"<error>\s*0x([0-9A-Fa-f]{1,8})\s*</error>")
# A MySQL-style error number inside an error message ("1045", "ERROR 1045 (28000): Access denied …").
_ERROR_NUMBER = re.compile(r"(?<![\d.])(\d{4,5})(?![\d.])")


class ActivityFieldError(ValueError):
    """A field of one activity event has a value the parser cannot use (the event becomes a failure)."""


def text(value: object) -> str:
    """Any JSON value as comparable text: null → "", 0 → "0", "0" → "0", 1.0 → "1", objects as JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else str(value)
    return raw_json(value)


def optional_text(value: object) -> str | None:
    """Text for an optional field: None when absent, null or empty."""
    converted = text(value)
    return converted or None


def parse_log_time(value: object) -> datetime:
    """`logTime` as an aware UTC datetime; a value without offset (RDS for Oracle) is read as UTC."""
    if value is None or value == "":
        raise ActivityFieldError("activity event has no logTime")
    if not isinstance(value, str):
        raise ActivityFieldError("activity event logTime is not a string")
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError as exc:
        raise ActivityFieldError("activity event logTime is not an ISO 8601 timestamp") from exc
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError as exc:
        raise ActivityFieldError("activity event logTime is out of range") from exc


def engine_of(event: Mapping[str, object]) -> str:
    """The engine slug from serverType/serviceName/dbProtocol, falling back to MySQL's MAIN/AUX classes."""
    for field_name in _ENGINE_FIELDS:
        hint = text(event.get(field_name)).lower()
        for keyword, engine in _ENGINE_KEYWORDS:
            if keyword in hint:
                return engine
    if text(event.get("class")).upper() in _MYSQL_CLASSES:
        return AURORA_MYSQL
    return ""


def sqlserver_status(exit_code: object, native_fields: object) -> str:
    """SQL Server `exitCode` is `succeeded` (1 = success): success → "0", failure → native error or "1"."""
    flag = text(exit_code).strip().lower()
    if flag in ("1", "true"):
        return "0"
    if flag in ("0", "false"):
        native = native_fields.get("additional_information") if isinstance(native_fields, Mapping) else None
        match = _SQLSERVER_NATIVE_ERROR.search(text(native))
        return str(int(match.group(1), 16)) if match else "1"
    return flag


def error_number_in(message: str) -> str:
    """The first 4–5 digit error number in a message ("" when there is none)."""
    match = _ERROR_NUMBER.search(message)
    return match.group(1) if match else ""


def raw_json(value: object) -> str:
    """Compact JSON of a decoded value for `raw`; never raises."""
    try:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=repr)
    except (TypeError, ValueError, RecursionError):
        return repr(value)
