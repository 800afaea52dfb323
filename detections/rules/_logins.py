"""Shared vocabulary of the login rules: what counts as a failure or a success, and their keys."""

from __future__ import annotations

from datetime import timedelta

from detections.finding import event_identity
from detections.observation import Observation
from parsers.event import Action, AuditEvent


def is_failed_login(event: AuditEvent) -> bool:
    """Whether the event is a failed authentication, from any source."""
    return event.action is Action.FAILED_CONNECT


def is_successful_login(event: AuditEvent) -> bool:
    """Whether the event is a completed, successful login."""
    return event.action is Action.CONNECT and event.succeeded


def login_identity(event: AuditEvent) -> str:
    """A stable identity for one login record, so re-processing it never counts it twice."""
    return event_identity(event)


def failures_key(event: AuditEvent) -> str:
    """State key of the failed logins of one (cluster, user, client host)."""
    return f"login-failures|{event.resource}|{event.user}|{event.client_host}"


def sprayed_users_key(event: AuditEvent) -> str:
    """State key of the distinct users that failed to log in from one (cluster, client host)."""
    return f"login-failed-users|{event.resource}|{event.client_host}"


def who(observation: Observation) -> str:
    """'user from host' wording for titles, tolerant of missing parts."""
    event = observation.event
    user = event.user or "unknown user"
    host = event.client_host or "unknown host"
    return f"{user} from {host}"


def where(observation: Observation) -> str:
    """' on <cluster>' for titles, or nothing when the source does not say (a bare log file)."""
    resource = observation.event.resource
    return f" on {resource}" if resource else ""


def tally(observation: Observation) -> str:
    """What repeated failed logins of one user and host are counted as, in a digest."""
    return f"failed logins for {who(observation)}{where(observation)}"


def duration(span: timedelta) -> str:
    """A span as a person reads it: 'under 1 s', '40 s', '3 min 20 s', '5 min' (whole seconds)."""
    seconds = max(int(span.total_seconds()), 0)
    if not seconds:
        return "under 1 s"
    minutes, rest = divmod(seconds, 60)
    if not minutes:
        return f"{rest} s"
    return f"{minutes} min {rest} s" if rest else f"{minutes} min"


def failed_logins(count: int) -> str:
    """'25 failed logins' ('1 failed login')."""
    return "1 failed login" if count == 1 else f"{count} failed logins"
