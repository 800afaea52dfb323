"""password-spray: failed logins for at least N distinct users from one (cluster, client host)."""

from __future__ import annotations

from types import MappingProxyType

from detections.observation import Observation
from detections.rule import Match, Rule, RuleContext, RuleKind
from detections.rule_needs import RuleNeeds
from detections.rules._logins import is_failed_login, sprayed_users_key, where
from detections.severity import Severity


def evaluate(observation: Observation, context: RuleContext) -> Match | None:
    """Record the failing user for the client host and match once enough distinct users failed."""
    event = observation.event
    if not is_failed_login(event):
        return None
    window = context.param_window()
    users = context.state.record(sprayed_users_key(event), event.user, event.time, window)
    if users < context.param_int("distinct_users"):
        return None
    host = event.client_host or "unknown host"
    return Match(
        title=f"Password spray: failed logins for {users} different users from {host}{where(observation)}",
        dedup_key=f"{event.resource}|{event.client_host}",
        measured=True,
        context=(("distinct_users_in_window", str(users)),),
    )


RULE = Rule(
    id="password-spray",
    description="One client host fails to log in as many different users in a short window.",
    kind=RuleKind.LOGIN,
    severity=Severity.HIGH,
    channels=("email", "slack"),
    evaluate=evaluate,
    needs=RuleNeeds.logins(),
    params=MappingProxyType({"distinct_users": 4, "window_minutes": 5}),
)
