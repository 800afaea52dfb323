"""Shared wording and grouping of the statement rules."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from detections.observation import Observation
from detections.rule import Match
from detections.rules._logins import where


def names(objects: Iterable[str], limit: int = 5) -> str:
    """A short, de-duplicated list of object names for a title."""
    unique = list(dict.fromkeys(o for o in objects if o))
    shown = ", ".join(unique[:limit])
    more = len(unique) - limit
    return f"{shown} (+{more} more)" if more > 0 else shown


def statement_match(observation: Observation, what: str, objects: Sequence[str] = ()) -> Match:
    """A match titled '<what> <objects> by <user> on <cluster>', marked as an attempt when it failed."""
    event = observation.event
    listed = names(objects)
    subject = f"{what} {listed}" if listed else what
    if not event.succeeded:
        # Lower-case a sentence start ("Password changed …"), keep SQL keywords ("DROP TABLE …") as they are.
        lead = subject if subject.split(" ", 1)[0].isupper() else f"{subject[0].lower()}{subject[1:]}"
        subject = f"Attempted {lead} (failed: {event.status or 'error'})"
    user = event.user or "unknown user"
    dedup_key = f"{event.resource}|{event.user}|{event.client_host}"
    if not event.succeeded:
        dedup_key += "|failed"  # a failed attempt must never fold into an alert that says it succeeded
    return Match(
        title=f"{subject} by {user}{where(observation)}",
        dedup_key=dedup_key,
        objects=tuple(dict.fromkeys(o for o in objects if o)),
    )
