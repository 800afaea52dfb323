"""Plain-text e-mail rendering of one alert (pure): an SNS-safe subject and a byte-bounded body."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime

from detections.finding import Alert
from detections.rule import MEASURED
from notifiers.links import raw_events_url
from notifiers.notifier import OutgoingAlert
from notifiers.object_list import MAX_LISTED_OBJECTS, object_list
from parsers.event import STATEMENT_ACTIONS, Action

# SNS Publish: Message "at most 256 KB in size (262,144 bytes, not 262,144 characters)";
# Subject "less than 100 characters" (FORMATS.md 6.1).
MAX_MESSAGE_BYTES = 262_144
MAX_SUBJECT_CHARS = 99
TRUNCATED = "[truncated]"
ELLIPSIS = "…"

# One-line fields (user, host, title …) are capped so that only the statement can make a body large.
_MAX_FIELD_CHARS = 1_000
_MAX_OBJECT_CHARS = 200  # one object name in the Objects line
_MAX_OBJECTS_CHARS = MAX_LISTED_OBJECTS * (_MAX_OBJECT_CHARS + 2) + 20  # the whole line: 50 names + "+N more"
_INDENT = "    "
_LABEL_WIDTH = 13
_ZWJ = "\u200d"
# Invisible characters that reorder or hide text (Trojan Source style spoofing) or mark byte order.
_INVISIBLE = frozenset("\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\ufeff")
_LINE_SEPARATORS = frozenset("\u2028\u2029\x85\x0b\x0c\r")


@dataclass(frozen=True, slots=True)
class RenderedEmail:
    """What SNS is asked to publish for one alert: a one-line subject and a plain-text body."""

    subject: str
    body: str


def render_email(outgoing: OutgoingAlert, *, max_message_bytes: int = MAX_MESSAGE_BYTES) -> RenderedEmail:
    """The subject and plain-text body of one alert, the body at most `max_message_bytes` UTF-8 bytes."""
    return RenderedEmail(
        subject=render_subject(outgoing.alert), body=render_body(outgoing, max_message_bytes)
    )


def render_subject(alert: Alert) -> str:
    """'[SEVERITY] title ×count' on one line, controls stripped, fewer than 100 characters."""
    finding = alert.first
    title = clean_line(alert.title) or finding.rule_id
    # Threshold rules say their own count in the title ("22 failed logins"); "×18 matches" would muddle it.
    times = f" ×{alert.count}" if alert.count > 1 and not _measured(alert) else ""
    subject = clean_line(f"[{finding.severity.value.upper()}] {title}{times}")
    # Counted in UTF-16 code units as well, in case SNS measures like Java's String.length() (UNVERIFIED).
    limit = MAX_SUBJECT_CHARS
    fitted = truncate_chars(subject, limit)
    while _utf16_len(fitted) > MAX_SUBJECT_CHARS:
        limit -= 1
        fitted = truncate_chars(subject, limit)
    return fitted


def render_body(outgoing: OutgoingAlert, max_bytes: int = MAX_MESSAGE_BYTES) -> str:
    """The body: facts, then the statement (cut first when too long), the raw-events link and the alert id."""
    head = _facts(outgoing)
    tail = _footer(outgoing)
    statement = _statement_block(outgoing.alert)
    body = _join(head, statement, tail)
    if _utf8_len(body) <= max_bytes or not statement:
        return truncate_utf8(body, max_bytes, "\n" + TRUNCATED)
    room = max_bytes - _utf8_len(_join(head, "x", tail)) + 1  # bytes the statement block may take
    if room > _utf8_len(_INDENT + TRUNCATED) + 1:
        statement = truncate_utf8(statement, room, "\n" + _INDENT + TRUNCATED)
        return truncate_utf8(_join(head, statement, tail), max_bytes, "\n" + TRUNCATED)
    return truncate_utf8(_join(head, f"{_INDENT}{TRUNCATED}", tail), max_bytes, "\n" + TRUNCATED)


def clean_line(text: str, limit: int = _MAX_FIELD_CHARS) -> str:
    """Untrusted text as one line: controls, separators and invisible marks dropped, whitespace collapsed."""
    kept = "".join(" " if _is_space_like(ch) else ch for ch in text if not _is_dropped(ch, keep_layout=False))
    return truncate_chars(" ".join(kept.split()), limit)


def clean_block(text: str) -> str:
    """Untrusted multi-line text: line breaks normalized to \\n, only \\n and \\t kept among controls."""
    text = text.replace("\r\n", "\n")
    kept = ("\n" if ch in _LINE_SEPARATORS else ch for ch in text)
    return "".join(ch for ch in kept if not _is_dropped(ch, keep_layout=True))


def truncate_chars(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters with '…', never leaving a mark without its base character."""
    if len(text) <= limit:
        return text
    return _cut_before_cluster_tail(text, limit - len(ELLIPSIS)).rstrip() + ELLIPSIS


def truncate_utf8(text: str, max_bytes: int, marker: str = TRUNCATED) -> str:
    """`text` cut to at most `max_bytes` UTF-8 bytes (marker included), on a whole-character boundary."""
    encoded = text.encode("utf-8")
    if len(encoded) <= max_bytes:
        return text
    room = max(0, max_bytes - _utf8_len(marker))
    whole_chars = len(
        encoded[:room].decode("utf-8", errors="ignore")
    )  # a partly cut last character is dropped
    return _cut_before_cluster_tail(text, whole_chars) + marker


def _facts(outgoing: OutgoingAlert) -> str:
    """The title and the labelled facts: who, from where, which cluster, when, how many, outcome, origin."""
    alert = outgoing.alert
    finding = alert.first
    event = finding.event
    lines = [clean_line(alert.title) or finding.rule_id, ""]
    rows: list[tuple[str, str]] = [
        ("Severity", f"{finding.severity.value.upper()} (rule {clean_line(finding.rule_id)})"),
        ("User", event.user or "unknown"),
        ("Client host", _host(event.client_host, event.client_port)),
        ("Cluster", event.cluster or "unknown"),
        ("Instance", event.server_host),
        ("Database", event.database),
        ("Object", event.object if event.object not in alert.objects else ""),
        ("Objects", _objects(alert)),
        ("First seen", _timestamp(alert.first_seen)),
        ("Last seen", _timestamp(alert.last_seen)),
        ("Count", _count(outgoing)),
        ("Earlier", _suppressed(outgoing)),
        ("Attempt", _outcome(finding.attempt_failed, event.status, event.error_message)),
        ("Source", f"{event.source.value}" + (f" ({event.engine})" if event.engine else "")),
        ("Location", event.location),
        ("Log group", event.log_group),
        ("Log stream", event.log_stream),
    ]
    latest = alert.latest or finding
    rows.extend(
        (key.replace("_", " ").capitalize(), value) for key, value in latest.context if key != MEASURED
    )
    lines.extend(_row(label, value) for label, value in rows if value)
    return "\n".join(lines)


def _footer(outgoing: OutgoingAlert) -> str:
    """The link to the raw events (when region and log group are known) and the alert id."""
    lines: list[str] = []
    link = raw_events_url(outgoing)
    if link:
        lines.extend(["See the raw events (CloudWatch Logs Insights):", link, ""])
    lines.append(f"Alert id: {clean_line(outgoing.alert_id)}")
    return "\n".join(lines)


def _statement_block(alert: Alert) -> str:
    """Each distinct redacted statement (up to a limit), indented so none passes for the alert's own lines."""
    statements, more = alert.statements()
    if not statements:
        return ""
    cut = " (cut by the database before logging)" if alert.first.event.statement_truncated else ""
    label = "Statement" if len(statements) == 1 and not more else "Statements"
    blocks = []
    for statement in statements:
        text = clean_block(statement).strip("\n")
        blocks.append("\n".join(_INDENT + line for line in text.split("\n")))
    if more:
        blocks.append(f"{_INDENT}(+{more} more statements)")
    separator = "\n" + _INDENT + "--\n" if len(blocks) > 1 else "\n"
    return f"{label} (secrets redacted){cut}:\n" + separator.join(blocks)


def _count(outgoing: OutgoingAlert) -> str:
    """'25 failed logins between … and … UTC'; threshold rules their measure: '25 failed logins in 40 s'."""
    alert = outgoing.alert
    if outgoing.measured:
        return f"{outgoing.measured} (up to {_timestamp(alert.last_seen)})"
    what = f"{alert.count} {_noun(alert.first.event.action, alert.count)}"
    if alert.count == 1 or alert.first_seen == alert.last_seen:
        return f"{what} at {_timestamp(alert.first_seen)}"
    first = _timestamp(alert.first_seen).removesuffix(" UTC")
    return f"{what} between {first} and {_timestamp(alert.last_seen)}"


def _measured(alert: Alert) -> bool:
    """Whether the alert comes from a threshold rule, whose title states the measured count."""
    return (alert.latest or alert.first).measured


def _suppressed(outgoing: OutgoingAlert) -> str:
    """'24 more since 11:49:18 UTC' for matches folded since the previous alert; '' when none."""
    if outgoing.suppressed_before <= 0:
        return ""
    since = outgoing.suppressed_since
    if since is None:
        return f"{outgoing.suppressed_before} more before this alert (suppressed)"
    same_day = _utc(since).date() == _utc(outgoing.alert.first_seen).date()
    when = f"{_utc(since):%H:%M:%S} UTC" if same_day else _timestamp(since)
    return f"{outgoing.suppressed_before} more since {when} (suppressed)"


def _noun(action: Action, count: int) -> str:
    """What was counted, in the singular or plural."""
    if action is Action.FAILED_CONNECT:
        noun = "failed login"
    elif action in (Action.CONNECT, Action.CHANGE_USER, Action.PROXY_CONNECT):
        noun = "login"
    elif action in STATEMENT_ACTIONS:
        noun = "matching statement"
    else:
        noun = "matching event"
    return noun if count == 1 else noun + "s"


def _outcome(failed: bool, status: str, error_message: str) -> str:
    """Whether the attempt failed, with the source's status and error message."""
    if not failed:
        return "succeeded"
    detail = ": ".join(part for part in (status, error_message) if part)
    return f"failed ({detail})" if detail else "failed"


def _host(host: str, port: str) -> str:
    """'host' or 'host port N'; 'unknown' when the source gave no host."""
    if not host:
        return "unknown"
    return f"{host} port {port}" if port else host


def _row(label: str, value: str) -> str:
    """One 'Label:     value' line, the value cleaned to a single line (already cleaned when long)."""
    cleaned = value if len(value) > _MAX_FIELD_CHARS else clean_line(value)
    return (label + ":").ljust(_LABEL_WIDTH - 1) + " " + cleaned


def _objects(alert: Alert) -> str:
    """Every object the alert names (each cleaned), up to MAX_LISTED_OBJECTS, then '+N more'."""
    return clean_line(
        object_list([clean_line(name, _MAX_OBJECT_CHARS) for name in alert.objects]), _MAX_OBJECTS_CHARS
    )


def _join(head: str, statement: str, tail: str) -> str:
    """The body's sections separated by blank lines, skipping an empty statement."""
    return "\n\n".join(part for part in (head, statement, tail) if part) + "\n"


def _timestamp(moment: datetime) -> str:
    """'2024-05-01 10:00:00 UTC' (seconds precision)."""
    return f"{_utc(moment):%Y-%m-%d %H:%M:%S} UTC"


def _utc(moment: datetime) -> datetime:
    """The moment in UTC; a naive datetime is taken to be UTC already."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _utf8_len(text: str) -> int:
    """Length in UTF-8 bytes."""
    return len(text.encode("utf-8"))


def _utf16_len(text: str) -> int:
    """Length in UTF-16 code units (a character outside the BMP counts twice)."""
    return len(text.encode("utf-16-le")) // 2


def _is_space_like(ch: str) -> bool:
    """Whether a character breaks or spaces text (tab, line breaks, separators) and becomes one space."""
    return ch in "\t\n" or ch in _LINE_SEPARATORS


def _is_dropped(ch: str, *, keep_layout: bool) -> bool:
    """Whether a character never reaches a subscriber: C0/C1 controls, lone surrogates, invisible marks."""
    if keep_layout and ch in "\n\t":
        return False
    if not keep_layout and _is_space_like(ch):
        return False  # becomes a space, collapsed later
    return unicodedata.category(ch) in ("Cc", "Cs") or ch in _INVISIBLE


def _extends_previous(ch: str) -> bool:
    """Whether a character belongs to the one before it (combining mark, joiner, selector, skin tone)."""
    return (
        unicodedata.category(ch) in ("Mn", "Mc", "Me")
        or ch == _ZWJ
        or "\ufe00" <= ch <= "\ufe0f"
        or "\U000e0100" <= ch <= "\U000e01ef"
        or "\U0001f3fb" <= ch <= "\U0001f3ff"
    )


def _cut_before_cluster_tail(text: str, end: int) -> str:
    """`text[:end]`, moved back so a base character is never separated from its marks or joined partner."""
    end = max(0, min(end, len(text)))
    while end > 0 and end < len(text) and (_extends_previous(text[end]) or text[end - 1] == _ZWJ):
        end -= 1
    while end > 0 and text[end - 1] == _ZWJ:
        end -= 1
    return text[:end]
