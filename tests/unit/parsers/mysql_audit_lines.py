"""Builders for MySQL-family audit lines (Aurora and plugin heads) and the parse helpers their tests share."""

from __future__ import annotations

from parsers.event import AuditEvent, ParseResult
from parsers.mysql_audit import parse_mysql_audit
from parsers.records import RawRecord

AURORA_HEAD = "1700000000123456,node-1,app,10.0.0.5,77,1234,"
PLUGIN_HEAD = "20240101 12:00:00,db-host,app,10.0.0.5,77,1234,"


def query_line(escaped: str, head: str = AURORA_HEAD, tail: str = ",0") -> str:
    """A QUERY line whose object is the already-escaped statement text."""
    return f"{head}QUERY,shop,'{escaped}'{tail}"


def parse_lines(*lines: str, query_log_limit: int | None = None) -> list[ParseResult]:
    """Parse physical lines numbered from 1 as file `t`."""
    records = [RawRecord(line, f"t:{n}") for n, line in enumerate(lines, 1)]
    return list(parse_mysql_audit(records, query_log_limit=query_log_limit))


def parse_event(line: str, query_log_limit: int | None = None) -> AuditEvent:
    """Parse one line that must give exactly one event."""
    (result,) = parse_lines(line, query_log_limit=query_log_limit)
    assert isinstance(result, AuditEvent), result
    return result
