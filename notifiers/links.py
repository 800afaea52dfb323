"""Deep links into the CloudWatch Logs Insights console showing the raw log lines behind an alert."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

from detections.finding import Alert
from detections.sql_tokens import TokenKind, tokenize
from notifiers.notifier import OutgoingAlert
from parsers.event import STATEMENT_ACTIONS

# CloudWatch stamps events when they are ingested, a little after the database wrote them, and a
# zero-width range (one event) finds nothing: widen the range by a minute either side.
RANGE_PADDING = timedelta(minutes=1)
RESULT_LIMIT = 200
_MAX_TERM = 100  # characters of a value used as a `like` term
_MIN_TERM = 2  # shorter terms match nearly every line
_STATEMENT_WORDS = 3  # leading bare words of a statement used as terms (keywords and names)
# Characters that would need escaping inside a Logs Insights string literal; terms avoid them.
_UNQUOTABLE = re.compile(r"[\"\\\x00-\x1f\x7f]+")
_PERCENT_ESCAPE = re.compile(r"%([0-9A-F]{2})")


def logs_insights_url(region: str, log_group: str, start: datetime, end: datetime, query: str) -> str:
    """A console URL running `query` over `log_group` in `region` from `start` to `end` (padded)."""
    detail = _jsurl_object(
        [
            ("end", _jsurl_string(_iso_millis(end + RANGE_PADDING))),
            ("start", _jsurl_string(_iso_millis(start - RANGE_PADDING))),
            ("timeType", _jsurl_string("ABSOLUTE")),
            ("tz", _jsurl_string("UTC")),
            ("editorString", _jsurl_string(query)),
            ("isLiveTail", "false"),
            ("source", "(~" + _jsurl_string(log_group) + ")"),
        ]
    )
    # The console reads its state from the fragment, URL-encoded once with '$' in place of '%'.
    fragment = "logsV2:logs-insights" + quote("?queryDetail=", safe="").replace("%", "$") + detail
    region_part = quote(region, safe="")
    return f"{_console_origin(region_part)}/cloudwatch/home?region={region_part}#{fragment}"


def default_query(alert: Alert) -> str:
    """A Logs Insights query for the raw lines of the alert: its user/client host and statement words."""
    event = alert.first.event
    identity = [term for term in (_term(event.user), _term(event.client_host)) if term]
    # A burst (brute force, spray) spans users or hosts: show lines matching either of them.
    joiner = " and " if alert.count == 1 else " or "
    conditions = [f"@message like {_quoted(term)}" for term in identity]
    clauses = [joiner.join(conditions)] if conditions else []
    if len(conditions) > 1 and joiner == " or ":
        clauses = [f"({clauses[0]})"]
    if event.action in STATEMENT_ACTIONS and event.statement:
        clauses += [f"@message like {_quoted(word)}" for word in _statement_words(event.statement)]
    lines = ["fields @timestamp, @logStream, @message"]
    if clauses:
        lines.append("| filter " + " and ".join(clauses))
    lines += ["| sort @timestamp asc", f"| limit {RESULT_LIMIT}"]
    return "\n".join(lines)


def raw_events_url(outgoing: OutgoingAlert) -> str:
    """The Logs Insights link over the alert's span (from the first folded match), or '' when unknown."""
    alert = outgoing.alert
    log_group = alert.first.event.log_group
    if not outgoing.region or not log_group:
        return ""
    start = alert.first_seen
    if outgoing.suppressed_before > 0 and outgoing.suppressed_since is not None:
        start = min(start, outgoing.suppressed_since)
    return logs_insights_url(outgoing.region, log_group, start, alert.last_seen, default_query(alert))


def _term(value: str) -> str:
    """The longest run of the value that needs no escaping in a string literal ('' if too short).

    `like "…"` is a substring match, so any run of the value still finds its lines; avoiding quotes,
    backslashes and controls means no escaping rule has to be trusted.
    """
    runs = _UNQUOTABLE.split(value.strip())
    longest = max(runs, key=len)[:_MAX_TERM].strip()
    return longest if len(longest) >= _MIN_TERM else ""


def _quoted(term: str) -> str:
    """A Logs Insights string literal for a term that contains no quote, backslash or control."""
    return f'"{term}"'


def _statement_words(statement: str) -> list[str]:
    """The first bare words of a statement (outside literals and comments), e.g. DROP, TABLE, orders."""
    words: list[str] = []
    for token in tokenize(statement):
        if token.kind is TokenKind.WORD and _term(token.text) == token.text and token.text not in words:
            words.append(token.text)
            if len(words) == _STATEMENT_WORDS:
                break
    return words


def _console_origin(region: str) -> str:
    """The console host for the region's partition (China and GovCloud have their own)."""
    if region.startswith("cn-"):
        return "https://console.amazonaws.cn"
    if region.startswith("us-gov-"):
        return "https://console.amazonaws-us-gov.com"
    return f"https://{region}.console.aws.amazon.com"


def _iso_millis(moment: datetime) -> str:
    """ISO 8601 in UTC with milliseconds and a Z, as the console writes it; naive means UTC."""
    utc = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def _jsurl_string(value: str) -> str:
    """A string in the console's state encoding: ' then percent-encoding with '*' for '%', lower hex."""
    encoded = _PERCENT_ESCAPE.sub(lambda match: "*" + match.group(1).lower(), quote(value, safe=""))
    # quote() never encodes '~', but '~' separates values in this encoding.
    return "'" + encoded.replace("~", "*7e")


def _jsurl_object(items: list[tuple[str, str]]) -> str:
    """An object in the console's state encoding: ~(key~value~key~value)."""
    return "~(" + "~".join(f"{key}~{value}" for key, value in items) + ")"
