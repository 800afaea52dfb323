"""Field-level helpers for MySQL-family audit lines: timestamps, ids, statement unescaping, host:port."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from parsers.event import Action, Source


class MalformedAuditLineError(ValueError):
    """A MySQL-family audit line that cannot be read unambiguously (the reason is short, no raw text)."""

    def __init__(self, reason: str) -> None:
        """Keep the short reason so the parser can put it on a ParseFailure."""
        super().__init__(reason)
        self.reason = reason


OPERATION_ACTIONS: dict[str, Action] = {
    "CONNECT": Action.CONNECT,
    "FAILED_CONNECT": Action.FAILED_CONNECT,
    "DISCONNECT": Action.DISCONNECT,
    "CHANGEUSER": Action.CHANGE_USER,
    "PROXY_CONNECT": Action.PROXY_CONNECT,
    "QUERY": Action.QUERY,
    "QUERY_DDL": Action.QUERY_DDL,
    "QUERY_DML": Action.QUERY_DML,
    "QUERY_DCL": Action.QUERY_DCL,
    # TABLE events (server_audit_events=TABLE): the operation names what was done to the table.
    "READ": Action.TABLE,
    "WRITE": Action.TABLE,
    "CREATE": Action.TABLE,
    "ALTER": Action.TABLE,
    "RENAME": Action.TABLE,
    "DROP": Action.TABLE,
}
# Operations whose object field is a quoted, escaped statement (the others carry a bare token).
QUOTED_OBJECT_ACTIONS = frozenset({Action.QUERY, Action.QUERY_DDL, Action.QUERY_DML, Action.QUERY_DCL})

# After the closing quote of a statement: retcode, then `,,` on RDS MySQL (two empty fields).
STATEMENT_TAIL = re.compile(r",(-?\d*)(,,)?", re.ASCII)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_AURORA_TIMESTAMP = re.compile(r"\d{16}", re.ASCII)
_PLUGIN_TIMESTAMP = re.compile(r"(\d{4})(\d{2})(\d{2}) (\d{2}):(\d{2}):(\d{2})", re.ASCII)
_NUMERIC_ID = re.compile(r"-?\d+", re.ASCII)  # the plugin prints ids with %d/%lld, so a sign can appear

# Either timestamp form followed by a comma: a record starting like this begins a new audit record.
TIMESTAMP_PREFIX = re.compile(r"(?:\d{16}|\d{8} \d{2}:\d{2}:\d{2}),", re.ASCII)

# Timestamp + serverhost, username, host, connection id, query id, operation, database.
HEADER_PREFIX = re.compile(
    r"(?:\d{16}|\d{8} \d{2}:\d{2}:\d{2}),[^,]*,[^,]*,[^,]*,-?\d+,-?\d+,[A-Z_]+,", re.ASCII
)


@dataclass(frozen=True, slots=True)
class AuditTimestamp:
    """A parsed field-1 timestamp and the dialect its form reveals."""

    time: datetime
    source: Source


def parse_timestamp(text: str) -> AuditTimestamp:
    """Read a 16-digit µs epoch (Aurora) or a `YYYYMMDD HH:MM:SS` plugin timestamp, taken as UTC."""
    if _AURORA_TIMESTAMP.fullmatch(text):
        # Integer microseconds: float seconds would lose the last digits.
        return AuditTimestamp(EPOCH + timedelta(microseconds=int(text)), Source.AURORA_MYSQL)
    match = _PLUGIN_TIMESTAMP.fullmatch(text)
    if match is None:
        raise MalformedAuditLineError("bad timestamp")
    year, month, day, hour, minute, second = (int(group) for group in match.groups())
    try:
        # The plugin writes server-local time; RDS servers run in UTC, so UTC is the only sane reading.
        time = datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except ValueError as exc:
        raise MalformedAuditLineError("bad timestamp") from exc
    return AuditTimestamp(time, Source.MYSQL_AUDIT)


def require_numeric_id(text: str, what: str) -> str:
    """Return a connection/query id unchanged (text: it can exceed 64 bits) or refuse a non-number."""
    if not _NUMERIC_ID.fullmatch(text):
        raise MalformedAuditLineError(f"non-numeric {what}")
    return text


# Every escape pair but `\\\\` (handled by splitting on it first), with the character it stands for.
_ESCAPE_PAIRS = (
    ("\\n", "\n"),
    ("\\t", "\t"),
    ("\\r", "\r"),
    ("\\b", "\b"),
    ("\\f", "\f"),
    ("\\'", "'"),
    ('\\"', '"'),
    ("\\0", "\0"),
)


def _unescape_pairs(text: str) -> str:
    """Undo the escape pairs of a text holding no `\\\\`: each backslash pairs with the next character."""
    for pair, char in _ESCAPE_PAIRS:
        if pair in text:
            text = text.replace(pair, char)
    return text


class UnescapedStatement(NamedTuple):
    """Statement text with the plugin's escapes undone, and whether a cut escape was dropped."""

    text: str
    dangling_backslash: bool


def unescape_statement(body: str) -> UnescapedStatement:
    """Undo `\\n \\t \\r \\b \\f \\' \\\\ \\" \\0`; drop a lone trailing backslash (a cut escape)."""
    trailing_backslashes = len(body) - len(body.rstrip("\\"))
    dangling = trailing_backslashes % 2 == 1
    if dangling:
        body = body[:-1]
    if "\\" not in body:
        return UnescapedStatement(body, dangling)
    unquoted = body.replace("\\'", "'")
    if "\\" not in unquoted:  # every backslash escaped a quote: the usual case (string literals)
        return UnescapedStatement(unquoted, dangling)
    # Backslashes pair from the left, so splitting on `\\\\` first leaves pieces where every backslash
    # begins a pair with a non-backslash character (an unknown pair keeps its backslash).
    return UnescapedStatement("\\".join(_unescape_pairs(piece) for piece in body.split("\\\\")), dangling)


_TRAILING_PORT = re.compile(r"(.*):(\d{1,5})", re.DOTALL | re.ASCII)
_BRACKETED_HOST_PORT = re.compile(r"\[([^\]]*)\]:(\d{1,5})", re.ASCII)


def _is_ipv6(text: str) -> bool:
    """Whether text is a bare IPv6 address (with optional zone), e.g. `::1` or `fe80::1%eth0`."""
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return True


def split_host_port(host: str) -> tuple[str, str]:
    """Split MariaDB 12.0.1's `host:port` into (host, port); bare IPv6 addresses stay whole."""
    bracketed = _BRACKETED_HOST_PORT.fullmatch(host)
    if bracketed is not None:
        return bracketed.group(1), bracketed.group(2)
    match = _TRAILING_PORT.fullmatch(host)
    if match is None:
        return host, ""
    remainder, port = match.group(1), match.group(2)
    if ":" not in remainder:
        # name:port or a.b.c.d:port (an empty name is no host: keep the text as it is)
        return (remainder, port) if remainder else (host, "")
    # Two or more colons: IPv6. A whole valid address (`::1`, `fe80::1:3306`) is kept unsplit even
    # when its last group could be a port; only an address + port that is not itself valid is split.
    if _is_ipv6(host) or not _is_ipv6(remainder):
        return host, ""
    return remainder, port


def utf8_length(text: str) -> int:
    """Length in UTF-8 bytes, the unit server_audit_query_log_limit counts in."""
    return len(text.encode("utf-8", errors="surrogatepass"))


def reaches_query_log_limit(escaped: str, query_log_limit: int) -> bool:
    """Whether the escaped text filled server_audit_query_log_limit (counted in bytes, like the plugin).

    The plugin stops one byte short when the next character needs a two-byte escape (its own test:
    limit 15 gives the 14 bytes `select \\'A\\', `), so limit - 1 bytes already counts as full.
    """
    return utf8_length(escaped) >= query_log_limit - 1
