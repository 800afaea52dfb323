"""Shared vocabulary of the login rules: what counts as a failure or a success, their keys and wording."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache

from parsers.event import Action, AuditEvent

# A failed authentication, from any source (a module constant: cheaper to read than the enum member).
_FAILED_CONNECT = Action.FAILED_CONNECT


def is_successful_login(event: AuditEvent) -> bool:
    """Whether the event is a completed, successful login."""
    return event.action is Action.CONNECT and event.succeeded


@dataclass(frozen=True, slots=True)
class Login:
    """The keys and wording the login rules take from one (cluster, user, client host).

    Shared by every event of that user and host (see `login_of`); the event's own identity, what
    makes re-processing it count nothing, comes from `event_identity`.
    """

    failures_key: str  # state key of the failed logins of one (cluster, user, client host)
    sprayed_users_key: str  # state key of the users failing from one (cluster, client host)
    who: str  # "bob from 10.0.0.9" ("unknown user" / "unknown host" when missing)
    host: str  # the client host, or "unknown host"
    where: str  # " on <cluster>", or "" when the source does not say (a bare log file)
    dedup_key: str  # "<cluster>|<user>|<client host>": repeats for one user and host fold together
    tally: str  # what repeated failures of one user and host are counted as, in a digest
    host_dedup_key: str  # "<cluster>|<client host>": repeats from one host (any user) fold together
    host_tally: str  # what repeated failures from one host are counted as, in a digest


class _LastLogin:
    """The last event's `Login`: the four login rules ask about one event in turn.

    Matched by identity (events are values: nothing assigns to one after it is built), so a hit is
    one `is` check. One tuple is swapped at a time, so a reader never sees a mix.
    """

    __slots__ = ("entry",)

    def __init__(self) -> None:
        """Start with nothing remembered."""
        self.entry: tuple[AuditEvent, Login] | None = None


_LAST_LOGIN = _LastLogin()


def failed_login_of(event: AuditEvent) -> Login | None:
    """The keys and wording of a failed login, None for any other event (one call answers both)."""
    if event.action is not _FAILED_CONNECT:
        return None
    entry = _LAST_LOGIN.entry
    if entry is not None and entry[0] is event:
        return entry[1]
    return _remembered_login(event)


def login_of(event: AuditEvent) -> Login:
    """The keys and wording of a login event (remembered for the last event asked about)."""
    entry = _LAST_LOGIN.entry
    if entry is not None and entry[0] is event:
        return entry[1]
    return _remembered_login(event)


def _remembered_login(event: AuditEvent) -> Login:
    """The login of the event's cluster, user and client host, remembered as the last one asked about."""
    login = _login(event.resource, event.user, event.client_host)
    _LAST_LOGIN.entry = (event, login)
    return login


@lru_cache(maxsize=4096)  # a burst repeats a few users and hosts; a spray of many users stays bounded
def _login(resource: str, user: str, client_host: str) -> Login:
    """The keys and wording of logins by `user` from `client_host` on `resource`."""
    host = client_host or "unknown host"
    who = f"{user or 'unknown user'} from {host}"
    where = f" on {resource}" if resource else ""
    return Login(
        failures_key=f"login-failures|{resource}|{user}|{client_host}",
        sprayed_users_key=f"login-failed-users|{resource}|{client_host}",
        who=who,
        host=host,
        where=where,
        dedup_key=f"{resource}|{user}|{client_host}",
        tally=f"failed logins for {who}{where}",
        host_dedup_key=f"{resource}|{client_host}",
        host_tally=f"failed logins from {host}{where}",
    )


def duration(span: timedelta) -> str:
    """A span as a person reads it: 'under 1 s', '40 s', '3 min 20 s', '5 min' (whole seconds)."""
    seconds = span.days * 86_400 + span.seconds  # whole seconds, below 0 for a negative span
    if seconds <= 0:
        return "under 1 s"
    if seconds < 60:
        return f"{seconds} s"
    minutes, rest = divmod(seconds, 60)
    return f"{minutes} min {rest} s" if rest else f"{minutes} min"


def failed_logins(count: int) -> str:
    """'25 failed logins' ('1 failed login')."""
    return "1 failed login" if count == 1 else f"{count} failed logins"
