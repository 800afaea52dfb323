"""Shared wording and grouping of the statement rules."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from detections.observation import Observation
from detections.rule import Match
from detections.rules._logins import where


def names(objects: Iterable[str], limit: int = 5) -> str:
    """A short, de-duplicated list of object names for a title."""
    unique = list(dict.fromkeys([o for o in objects if o]))
    shown = ", ".join(unique[:limit])
    more = len(unique) - limit
    return f"{shown} (+{more} more)" if more > 0 else shown


def statement_match(observation: Observation, what: str, objects: Sequence[str] = ()) -> Match:
    """A match titled '<what> <objects> by <user> on <cluster>', marked as an attempt when it failed."""
    event = observation.event
    named = tuple(dict.fromkeys([o for o in objects if o]))
    listed = names(named)
    subject = f"{what} {listed}" if listed else what
    user, resource, client_host = event.user, event.resource, event.client_host
    dedup_key = f"{resource}|{user}|{client_host}"
    if not event.succeeded:
        # Lower-case a sentence start ("Password changed …"), keep SQL keywords ("DROP TABLE …") as they are.
        lead = subject if subject.split(" ", 1)[0].isupper() else f"{subject[0].lower()}{subject[1:]}"
        subject = f"Attempted {lead} (failed: {event.status or 'error'})"
        dedup_key += "|failed"  # a failed attempt must never fold into an alert that says it succeeded
    title = f"{subject} by {user or 'unknown user'}{where(observation)}"
    return Match(title=title, dedup_key=dedup_key, objects=named)
