"""The log_line_prefix of a PostgreSQL stderr line: RDS default, the v16 long form, and stock `%m [%p] `."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

# Every label PostgreSQL writes after the prefix (elog.c error_severity, plus the auxiliary lines).
SEVERITIES = (
    "DEBUG1|DEBUG2|DEBUG3|DEBUG4|DEBUG5|LOG|INFO|NOTICE|WARNING|ERROR|FATAL|PANIC"
    "|DETAIL|HINT|QUERY|CONTEXT|LOCATION|STATEMENT"
)
# elog.c writes "SEVERITY:" + two spaces; AWS web pages show one.
_SEVERITY = rf"(?P<severity>{SEVERITIES}):(?:\s+|$)"
# %t (seconds) or %m (milliseconds), then the zone abbreviation or a numeric offset.
_ZONE = r"[A-Za-z]{1,6}|[+-]\d{2}(?::?\d{2})?"
_TIME = rf"(?P<time>\d{{4}}-\d{{2}}-\d{{2}} \d{{2}}:\d{{2}}:\d{{2}}(?:\.\d{{1,6}})?)(?: (?P<zone>{_ZONE}))?"
# %r: "[local]", "host(port)" (IPv4, IPv6 or a hostname), empty, or anything without ':' (docs elide it).
_REMOTE = r"(?P<remote>\[local\]|[^\s()]{0,300}\(\d*\)|[^:\s]{0,300})"
# v16 long prefix after "[%p]:": %l:%e:%s:%v:%x:%c:%q%a — %a is glued to the severity.
_LONG_TAIL = (
    rf"(?:(?P<line_no>\d+):(?P<sqlstate>[0-9A-Z]{{5}}):"
    rf"\d{{4}}-\d{{2}}-\d{{2}} \d{{2}}:\d{{2}}:\d{{2}}(?: (?:{_ZONE}))?:"
    r"[^:\s]*:\d*:[0-9a-f]*\.[0-9a-f]*:(?P<application>.{0,300}?))?"
)
# %t:%r:%u@%d:[%p]: — user and database are not escaped, so anchor on ":[pid]:" and split on the last "@".
_RDS_PREFIX = re.compile(
    rf"{_TIME}:{_REMOTE}:(?P<user>.{{0,300}}?)@(?P<database>[^@]{{0,300}}?):\[(?P<pid>\d+)\]:"
    rf"{_LONG_TAIL}{_SEVERITY}"
)
# Stock "%m [%p] ", optionally followed by Debian's "%q%u@%d ".
_STOCK_PREFIX = re.compile(rf"{_TIME} \[(?P<pid>\d+)\] (?:(?P<user>\S*)@(?P<database>\S*) )?{_SEVERITY}")
_PORTED_HOST = re.compile(r"(?P<host>.*)\((?P<port>\d*)\)")
_OFFSET = re.compile(r"(?P<sign>[+-])(?P<hours>\d{2}):?(?P<minutes>\d{2})?")
_UTC_ZONES = frozenset({"UTC", "GMT", "Z"})
UNKNOWN = "[unknown]"  # what %u/%d print before authentication
SUCCESS_SQLSTATE = "00000"


class PostgresPrefixError(ValueError):
    """A line has the shape of a log-line prefix but its values are impossible (e.g. month 13)."""


@dataclass(frozen=True, slots=True)
class LogLinePrefix:
    """The decoded prefix of the first physical line of a log entry."""

    time: datetime  # UTC
    pid: str
    severity: str
    client_host: str = ""
    client_port: str = ""
    user: str = ""
    database: str = ""
    sqlstate: str = ""  # %e of the long prefix; "" when the prefix has none
    application: str = ""


def match_prefix(line: str) -> re.Match[str] | None:
    """The prefix match of a physical line, or None when the line does not start a log entry."""
    if len(line) < 20 or not line[:4].isdigit() or line[4] != "-":
        return None
    return _RDS_PREFIX.match(line) or _STOCK_PREFIX.match(line)


def decode_prefix(match: re.Match[str]) -> LogLinePrefix:
    """Decode a prefix match into values; raise PostgresPrefixError on an impossible timestamp."""
    groups = match.groupdict()
    host, port = _split_remote(groups.get("remote") or "")
    return LogLinePrefix(
        time=parse_time(groups["time"], groups["zone"]),
        pid=groups["pid"],
        severity=groups["severity"],
        client_host=host,
        client_port=port,
        user=_known(groups.get("user")),
        database=_known(groups.get("database")),
        sqlstate=groups.get("sqlstate") or "",
        application=groups.get("application") or "",
    )


def parse_time(text: str, zone: str | None) -> datetime:
    """Convert `YYYY-MM-DD HH:MM:SS[.fff]` in `zone` to UTC; unknown zone abbreviations count as UTC."""
    try:
        fraction = text[20:]
        local = datetime(
            int(text[0:4]),
            int(text[5:7]),
            int(text[8:10]),
            int(text[11:13]),
            int(text[14:16]),
            int(text[17:19]),
            int(fraction.ljust(6, "0")) if fraction else 0,
            tzinfo=UTC,
        )
        return local - _utc_offset(zone)
    except (ValueError, OverflowError) as exc:
        raise PostgresPrefixError(f"impossible timestamp {text!r} {zone or ''}".rstrip()) from exc


def _utc_offset(zone: str | None) -> timedelta:
    """The offset of a numeric zone; zero for UTC/GMT/Z and for abbreviations we cannot resolve."""
    if zone is None or zone in _UTC_ZONES:
        return timedelta(0)
    offset = _OFFSET.fullmatch(zone)
    if offset is None:
        return timedelta(0)  # e.g. "CET": no tz database lookup in a pure parser (pinned by a test)
    sign = -1 if offset["sign"] == "-" else 1
    return sign * timedelta(hours=int(offset["hours"]), minutes=int(offset["minutes"] or 0))


def _split_remote(remote: str) -> tuple[str, str]:
    """Split %r `host(port)` into host and port; `[local]` and bare hosts have no port."""
    ported = _PORTED_HOST.fullmatch(remote)
    if ported is None:
        return remote, ""
    return ported["host"], ported["port"]


def _known(name: str | None) -> str:
    """A prefix user/database name, with the pre-authentication `[unknown]` (and absence) as ""."""
    return "" if name is None or name == UNKNOWN else name
