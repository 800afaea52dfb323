"""Shared wording and grouping of the statement rules."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from detections.observation import Observation
from detections.rule import Match


def names(unique: Sequence[str], limit: int = 5) -> str:
    """A short list of (de-duplicated) object names for a title."""
    if len(unique) <= limit:
        return ", ".join(unique)
    return f"{', '.join(unique[:limit])} (+{len(unique) - limit} more)"


@lru_cache(maxsize=1024)  # one actor per session: a few per batch, bounded across many
def _by(user: str, resource: str, client_host: str) -> tuple[str, str]:
    """' by <user> on <cluster>' for a title, and the '<cluster>|<user>|<client host>' dedup key."""
    where = f" on {resource}" if resource else ""  # nothing when the source does not say (a bare log file)
    return f" by {user or 'unknown user'}{where}", f"{resource}|{user}|{client_host}"


def statement_match(observation: Observation, what: str, objects: Sequence[str] = ()) -> Match:
    """A match titled '<what> <objects> by <user> on <cluster>', marked as an attempt when it failed."""
    event = observation.event
    named = tuple(dict.fromkeys([o for o in objects if o]))
    subject = f"{what} {names(named)}" if named else what
    by, dedup_key = _by(event.user, event.resource, event.client_host)
    if not event.succeeded:
        # Lower-case a sentence start ("Password changed …"), keep SQL keywords ("DROP TABLE …") as they are.
        lead = subject if subject.split(" ", 1)[0].isupper() else f"{subject[0].lower()}{subject[1:]}"
        subject = f"Attempted {lead} (failed: {event.status or 'error'})"
        dedup_key += "|failed"  # a failed attempt must never fold into an alert that says it succeeded
    return Match.of(title=f"{subject}{by}", dedup_key=dedup_key, objects=named)
