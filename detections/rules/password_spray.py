"""password-spray: failed logins for at least N distinct users from one (cluster, client host)."""

from __future__ import annotations

from types import MappingProxyType

from detections.observation import Observation
from detections.rule import MEASURED, Match, Rule, RuleContext, RuleKind
from detections.rule_needs import RuleNeeds
from detections.rules._logins import duration, failed_login_of
from detections.severity import Severity
from detections.state import DISTINCT_KEPT


def evaluate(observation: Observation, context: RuleContext) -> Match | None:
    """Record the failing user for the client host and match once enough distinct users failed."""
    event = observation.event
    login = failed_login_of(event)
    if login is None:
        return None
    window = context.param_window()
    users = context.state.add_distinct(login.sprayed_users_key, event.user, event.time, window)
    if users < context.param_int("distinct_users"):
        return None
    how_many = f"at least {users}" if users >= DISTINCT_KEPT else str(users)
    span = duration(event.time - context.state.first(login.sprayed_users_key, event.time, window))
    return Match.of(
        title=f"Password spray: {how_many} users failed to log in from {login.host}{login.where} in {span}",
        dedup_key=login.host_dedup_key,
        measured=True,
        context=((MEASURED, f"{how_many} different users failed to log in within {span}"),),
        tally=login.host_tally,
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
