"""Digests of folded matches (pure): what a window's alerts are about, and the digest alert itself."""

from __future__ import annotations

import json
from datetime import datetime

from detections.finding import Alert, Finding
from detections.severity import Severity
from detections.suppression import Digest
from parsers.event import Action, AuditEvent, Source

_EVENT_FIELDS = (
    "engine",
    "cluster",
    "server_host",
    "user",
    "client_host",
    "database",
    "status",
    "log_group",
    "log_stream",
)
_MAX_FIELD_CHARS = 512  # the description sits on a DynamoDB item: keep it small
_MAX_OBJECTS = 50  # names a digest lists (a per-object window holds one)


def describe(finding: Finding) -> str:
    """What the alerts of a group are about, as stored with their suppression window (JSON, no statement)."""
    event = finding.event
    about: dict[str, object] = {
        "rule": finding.rule_id,
        "severity": finding.severity.value,
        "channels": list(finding.channels),
        "title": finding.title[:_MAX_FIELD_CHARS],
        "tally": finding.tally[:_MAX_FIELD_CHARS],
        "source": event.source.value,
        "action": event.action.value,
        "dedup_key": finding.dedup_key[:_MAX_FIELD_CHARS],
        "objects": [name[:_MAX_FIELD_CHARS] for name in finding.objects[:_MAX_OBJECTS]],
    }
    about.update({name: str(getattr(event, name))[:_MAX_FIELD_CHARS] for name in _EVENT_FIELDS})
    return json.dumps(about, sort_keys=True)


def digest_title(count: int, tally: str, since: datetime, until: datetime) -> str:
    """'5 more failed logins for bob from 127.0.0.66 on prod-db, 11:49:20–11:49:31 UTC' (fits a subject)."""
    start, end = since.strftime("%H:%M:%S"), until.strftime("%H:%M:%S")
    span = f"{start} UTC" if start == end else f"{start}–{end} UTC"
    return f"{count} more {tally}, {span}"


def digest_alert(digest: Digest) -> Alert:
    """The alert a digest is sent as: the window's rule and subject, `count` folded matches, their span.

    Raises ValueError when the stored description is unreadable (the digest is then skipped and kept).
    """
    try:
        about = json.loads(digest.about)
        text = {name: str(about.get(name, "")) for name in _EVENT_FIELDS}
        event = AuditEvent(
            Source(about["source"]),
            digest.since,
            Action(about["action"]),
            engine=text["engine"],
            cluster=text["cluster"],
            server_host=text["server_host"],
            user=text["user"],
            client_host=text["client_host"],
            database=text["database"],
            status=text["status"],
            log_group=text["log_group"],
            log_stream=text["log_stream"],
        )
        tally = str(about.get("tally") or "") or f'matches of "{about["title"]}"'
        finding = Finding(
            rule_id=str(about["rule"]),
            title=digest_title(digest.count, tally, digest.since, digest.until),
            severity=Severity(about["severity"]),
            channels=tuple(str(channel) for channel in about["channels"]),
            dedup_key=str(about.get("dedup_key", "")),
            event=event,
            measured=True,  # the title states the count
            tally=tally,
            objects=tuple(str(name) for name in about.get("objects", [])),
        )
    except (KeyError, TypeError, ValueError) as exc:  # ValueError: bad JSON or enum value
        raise ValueError(f"unreadable digest description: {exc}") from exc
    return Alert(finding, digest.count, digest.since, digest.until, objects=finding.objects)
