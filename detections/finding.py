"""Findings (one rule matching one observation) and alerts (findings after noise control)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from detections.redaction import redact_statement
from detections.severity import Severity
from parsers.event import AuditEvent, evolve


# Not `frozen` (as AuditEvent): one is built per rule match, the hottest allocation of a storm;
# findings are still values, never assigned to after they are built.
@dataclass(slots=True, unsafe_hash=True)
class Finding:
    """A rule matched an observation; the event inside is already redacted and has no raw text."""

    rule_id: str
    title: str
    severity: Severity
    channels: tuple[str, ...]
    dedup_key: str
    event: AuditEvent
    context: tuple[tuple[str, str], ...] = ()
    objects: tuple[str, ...] = ()
    measured: bool = False  # from a threshold rule, whose title states the measured count
    tally: str = ""  # what repeats are counted as, for digests ("failed logins for bob from 10.0.0.9")

    @property
    def attempt_failed(self) -> bool:
        """Whether the source says the statement or login did not succeed (still worth reporting)."""
        return not self.event.succeeded

    @property
    def folds_per_object(self) -> bool:
        """Whether noise control folds this finding per object (statement rules that name what they hit).

        A destroyed table or a created account must reach a person by name: only repeats on the same
        objects fold. Threshold and login findings (no objects, or measured) fold per group key.
        """
        return bool(self.objects) and not self.measured

    @property
    def group_key(self) -> str:
        """The key noise control groups repeats by: rule and the rule's dedup key."""
        return f"{self.rule_id}|{self.dedup_key}"


def event_identity(event: AuditEvent) -> str:
    """A stable identity for one audit record, so re-processing it never counts or alerts twice."""
    if event.event_id:
        return event.event_id
    if event.location:
        return event.location
    return f"{event.session_id}|{event.time.isoformat()}|{event.action}"


def _without_raw(event: AuditEvent) -> AuditEvent:
    """The event without its raw text: every other field copied by assignment.

    Once per observation with findings; half the cost of AuditEvent(*fields) (the 23-argument call of
    the generated __init__). tests/unit/detections/test_finding.py pins it to evolve(event, raw="")
    for every field of AuditEvent, so a field added there and missed here fails the test.
    """
    shown: AuditEvent = object.__new__(AuditEvent)
    shown.source = event.source
    shown.time = event.time
    shown.action = event.action
    shown.engine = event.engine
    shown.cluster = event.cluster
    shown.server_host = event.server_host
    shown.user = event.user
    shown.client_host = event.client_host
    shown.client_port = event.client_port
    shown.session_id = event.session_id
    shown.query_id = event.query_id
    shown.command = event.command
    shown.database = event.database
    shown.object = event.object
    shown.object_type = event.object_type
    shown.statement = event.statement
    shown.statement_truncated = event.statement_truncated
    shown.status = event.status
    shown.error_message = event.error_message
    shown.log_group = event.log_group
    shown.log_stream = event.log_stream
    shown.event_id = event.event_id
    shown.location = event.location
    shown.raw = ""
    return shown


def redacted(event: AuditEvent) -> AuditEvent:
    """The event with secrets masked in its statement and its raw text dropped, fit to leave detections/."""
    statement = redact_statement(event.statement) if event.statement else event.statement
    if statement != event.statement:
        return evolve(event, statement=statement, raw="")
    return _without_raw(event) if event.raw else event


ALERT_STATEMENTS_SHOWN = 10  # distinct statements a message quotes; the rest are counted


@dataclass(frozen=True, slots=True)
class Alert:
    """What is delivered: the first finding of a group plus how many matched within the window."""

    first: Finding
    count: int
    first_seen: datetime
    last_seen: datetime
    latest: Finding | None = None  # the most recent finding folded in (None: only the first)
    objects: tuple[str, ...] = ()  # every object the folded findings named, first seen first (all of them)
    findings: tuple[Finding, ...] = ()  # the findings counted in, time order (empty: only `first` is known)

    @property
    def rule_id(self) -> str:
        """The rule that fired."""
        return self.first.rule_id

    @property
    def title(self) -> str:
        """The headline: for login bursts the latest title (how far it went), else the first one's.

        Statement alerts keep the first title and list every object they folded in `objects`.
        """
        if self.latest is None:
            return self.first.title
        if self.objects:
            extra = len(self.objects) - len(set(self.first.objects) & set(self.objects))
            return f"{self.first.title} (+{extra} more)" if extra > 0 else self.first.title
        return self.latest.title

    def statements(self, limit: int = ALERT_STATEMENTS_SHOWN) -> tuple[tuple[str, ...], int]:
        """The distinct (redacted) statements of the alert's findings, first first, and how many more."""
        distinct = tuple(dict.fromkeys(f.event.statement for f in self.members if f.event.statement))
        return distinct[:limit], max(0, len(distinct) - limit)

    @property
    def members(self) -> tuple[Finding, ...]:
        """The findings this alert counts (just the first when it was built without them)."""
        return self.findings or (self.first,)

    @classmethod
    def opened_by(cls, finding: Finding) -> Alert:
        """A new alert whose first finding is `finding`."""
        return cls.of((finding,))

    @classmethod
    def of(cls, findings: Sequence[Finding]) -> Alert:
        """One alert counting `findings` (time order, at least one): objects gathered once, in order."""
        first = findings[0]
        objects = tuple(dict.fromkeys(name for finding in findings for name in finding.objects))
        last_seen = max(finding.event.time for finding in findings)
        latest = findings[-1] if len(findings) > 1 else None
        return cls(first, len(findings), first.event.time, last_seen, latest, objects, tuple(findings))

    def object_spans(self) -> dict[str, tuple[datetime, datetime, int]]:
        """Each object the alert names → (first and last time a finding named it, how many findings did)."""
        seen: dict[str, tuple[datetime, datetime, int]] = {}
        for finding in self.members:
            at = finding.event.time
            for name in dict.fromkeys(finding.objects):
                first, last, matches = seen.get(name, (at, at, 0))
                seen[name] = (min(first, at), max(last, at), matches + 1)
        return seen
