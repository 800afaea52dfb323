"""Render an alert as a Slack Block Kit message (pure): header, facts, SQL, context, fallback text.

Log data goes into plain_text objects wherever Block Kit allows (header, fields, context), so
`*bold*`, `_it_`, `~s~` and backticks in data stay literal there. Everything from the logs is escaped
for Slack (& < >) before it is cut, so `<!channel>` or `<http://evil|click>` in a user name can
neither notify nor link. The SQL sits in a code block with its backticks replaced by a look-alike.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from notifiers.links import raw_events_url
from notifiers.mrkdwn import (
    code_block,
    escape,
    escape_truncated,
    neutralize_markers,
    single_line,
    slack_length,
    truncate,
)
from notifiers.notifier import OutgoingAlert
from notifiers.object_list import object_list

HEADER_LIMIT = 150  # Slack: header text ≤ 150 characters
SECTION_TEXT_LIMIT = 3000  # Slack: section text ≤ 3000 characters
MAX_FIELDS = 10  # Slack: ≤ 10 fields per section
# Slack allows 2000 per field, but messages fail (msg_blocks_too_long) past roughly 12k characters of
# block text in total: 9 fields × 500 + 2000 objects + 3000 SQL + 150 header + 5 × 300 context
# stays under 12k.
FIELD_LIMIT = 500
OBJECTS_FIELD_LIMIT = 2000  # Slack's own field limit: the object list names up to 50 objects
CONTEXT_ELEMENT_LIMIT = 300
TEXT_LIMIT = 40_000  # Slack truncates `text` beyond 40,000 characters
FALLBACK_VALUE_LIMIT = 200  # each datum in the notification text, so one huge value cannot drown it
MISSING = "—"
LINK_LABEL = "View raw events"


def render_slack_message(outgoing: OutgoingAlert) -> dict[str, Any]:
    """The chat.postMessage / incoming-webhook payload (without `channel`) for one alert."""
    return {
        "text": render_fallback_text(outgoing),
        "blocks": render_blocks(outgoing),
        "unfurl_links": False,
        "unfurl_media": False,
    }


def render_blocks(outgoing: OutgoingAlert) -> list[dict[str, Any]]:
    """Header, a section of facts, the SQL code block (when there is a statement) and a context line."""
    alert = outgoing.alert
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": _plain(alert.title or alert.rule_id, HEADER_LIMIT)},
        {"type": "section", "fields": [_field(text) for text in _facts(outgoing)][:MAX_FIELDS]},
    ]
    statements, more = alert.statements()
    if statements:
        shown = "\n\n".join(statements) + (f"\n\n-- (+{more} more statements)" if more else "")
        sql = code_block(shown, SECTION_TEXT_LIMIT)
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": sql}})
    blocks.append({"type": "context", "elements": _context(outgoing)})
    return blocks


def render_fallback_text(outgoing: OutgoingAlert) -> str:
    """The notification text: severity, title, who, from where, on what, when, how many; escaped."""
    alert = outgoing.alert
    event = alert.first.event
    title = _fallback_value(alert.title or alert.rule_id, HEADER_LIMIT)
    details = [
        f"{label} {_fallback_value(value, FALLBACK_VALUE_LIMIT)}"
        for label, value in (
            ("User:", event.user),
            ("Client:", event.client_host),
            ("Cluster/instance:", event.resource),
        )
        if value
    ]
    details += [f"When: {_when(alert.first_seen, alert.last_seen)} UTC", f"Count: {_count(outgoing)}"]
    text = f"{alert.first.severity.value.upper()}: {title}\n" + " · ".join(details)
    return truncate(text, TEXT_LIMIT)


def _facts(outgoing: OutgoingAlert) -> list[str]:
    """The section's fields as 'Label: value' lines (values still raw)."""
    alert = outgoing.alert
    event = alert.first.event
    return [
        f"Severity: {alert.first.severity.value.upper()}",
        f"Rule: {alert.rule_id}",
        *_objects(alert.objects),
        f"Cluster/instance: {event.resource or MISSING}",
        f"User: {event.user or MISSING}",
        f"Client host: {event.client_host or MISSING}",
        f"Database: {event.database or MISSING}",
        f"When (UTC): {_when(alert.first_seen, alert.last_seen)}",
        f"Count: {_count(outgoing)}",
        f"Attempt failed: {'yes' if alert.first.attempt_failed else 'no'}",
    ]


def _objects(objects: tuple[str, ...]) -> list[str]:
    """The 'Objects: a, b (+N more)' field, as many names as fit the field once escaped (none: no field)."""
    if not objects:
        return []

    def fits(text: str) -> bool:
        """Whether the field text fits Slack's field limit after escaping."""
        return slack_length(escape(single_line(f"Objects: {text}"))) <= OBJECTS_FIELD_LIMIT

    return [f"Objects: {object_list(objects, fits=fits)}"]


def _context(outgoing: OutgoingAlert) -> list[dict[str, Any]]:
    """Source, location, alert id, a source-truncation note and the raw-events link when known."""
    event = outgoing.alert.first.event
    source = f"Source: {event.source.value}" + (f" ({event.engine})" if event.engine else "")
    texts = [source]
    if event.location:
        texts.append(f"Location: {event.location}")
    texts.append(f"Alert ID: {outgoing.alert_id}")
    if event.statement_truncated:
        texts.append("Statement cut by the database before logging")
    elements = [_plain(text, CONTEXT_ELEMENT_LIMIT) for text in texts]
    url = raw_events_url(outgoing)
    if url:
        elements.append({"type": "mrkdwn", "text": f"<{escape(url)}|{LINK_LABEL}>"})
    return elements


def _field(text: str) -> dict[str, Any]:
    """One fact as a plain_text field; the object list may use Slack's whole field length."""
    return _plain(text, OBJECTS_FIELD_LIMIT if text.startswith("Objects: ") else FIELD_LIMIT)


def _plain(text: str, limit: int) -> dict[str, Any]:
    """A plain_text object (no emoji shortcodes) holding the text on one line, escaped, then cut."""
    return {
        "type": "plain_text",
        "text": escape_truncated(single_line(text), limit) or MISSING,
        "emoji": False,
    }


def _fallback_value(value: str, limit: int) -> str:
    """A datum for the mrkdwn notification text: one line, escaped, markers neutralized, cut."""
    return truncate(neutralize_markers(escape(single_line(value))), limit)


def _count(outgoing: OutgoingAlert) -> str:
    """'5', or '5 (12 more since 09:55:00 UTC)' when noise control folded earlier matches.

    A threshold rule's alert says what it measured instead: '25 failed logins in 40 s'.
    """
    count = outgoing.measured or str(outgoing.alert.count)
    if outgoing.suppressed_before <= 0:
        return count
    since = outgoing.suppressed_since
    when = f"since {_utc(since).strftime('%H:%M:%S')} UTC" if since is not None else "before these"
    return f"{count} ({outgoing.suppressed_before} more {when})"


def _when(first: datetime, last: datetime) -> str:
    """'2024-05-01 10:00:00', or a range '2024-05-01 10:00:00 – 10:04:59' (date repeated if it differs)."""
    start, end = _utc(first), _utc(last)
    text = start.strftime("%Y-%m-%d %H:%M:%S")
    if end.replace(microsecond=0) == start.replace(microsecond=0):
        return text
    end_format = "%H:%M:%S" if end.date() == start.date() else "%Y-%m-%d %H:%M:%S"
    return f"{text} – {end.strftime(end_format)}"


def _utc(moment: datetime) -> datetime:
    """The moment in UTC; a naive datetime is taken to be UTC already."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
