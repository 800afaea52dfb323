"""Findings (one rule matching one observation) and alerts (findings after noise control)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime

from detections.redaction import redact_statement
from detections.severity import Severity
from parsers.event import AuditEvent


@dataclass(frozen=True, slots=True)
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


def redacted(event: AuditEvent) -> AuditEvent:
    """The event with secrets masked in its statement and its raw text dropped, fit to leave detections/."""
    statement = redact_statement(event.statement) if event.statement else event.statement
    return dataclasses.replace(event, statement=statement, raw="")


ALERT_OBJECTS_KEPT = 20


@dataclass(frozen=True, slots=True)
class Alert:
    """What is delivered: the first finding of a group plus how many matched within the window."""

    first: Finding
    count: int
    first_seen: datetime
    last_seen: datetime
    latest: Finding | None = None  # the most recent finding folded in (None: only the first)
    objects: tuple[str, ...] = ()  # every object the folded findings named, first seen first

    @property
    def rule_id(self) -> str:
        """The rule that fired."""
        return self.first.rule_id

    @property
    def title(self) -> str:
        """The headline: for login bursts the latest title (how far it went), else the first one's.

        Statement alerts keep the first title and list every object they folded in `objects`.
        """
        if self.latest is None or self.objects:
            return self.first.title
        return self.latest.title

    def folding(self, finding: Finding) -> Alert:
        """This alert with one more finding counted into it."""
        objects = tuple(dict.fromkeys((*self.objects, *finding.objects)))[:ALERT_OBJECTS_KEPT]
        last_seen = max(self.last_seen, finding.event.time)
        return Alert(self.first, self.count + 1, self.first_seen, last_seen, finding, objects)

    @classmethod
    def opened_by(cls, finding: Finding) -> Alert:
        """A new alert whose first finding is `finding`."""
        at = finding.event.time
        return cls(finding, 1, at, at, None, finding.objects[:ALERT_OBJECTS_KEPT])
