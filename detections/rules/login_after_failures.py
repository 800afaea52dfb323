"""login-after-failures: a successful login for a (cluster, user, host) that just looked brute-forced."""

from __future__ import annotations

from types import MappingProxyType

from detections.observation import Observation
from detections.rule import MEASURED, Match, Rule, RuleContext, RuleKind
from detections.rule_needs import RuleNeeds
from detections.rules._logins import (
    duration,
    failed_logins,
    failures_key,
    is_failed_login,
    is_successful_login,
    login_identity,
    where,
    who,
)
from detections.severity import Severity


def evaluate(observation: Observation, context: RuleContext) -> Match | None:
    """Track failures (idempotently, shared with brute-force); match a success that follows enough."""
    event = observation.event
    if is_failed_login(event):
        context.state.note(failures_key(event), login_identity(event), event.time)
        return None
    if not is_successful_login(event):
        return None
    window = context.param_window()
    key = failures_key(event)
    failures = context.state.count(key, event.time, window)
    if failures < context.param_int("threshold"):
        return None
    span = duration(event.time - context.state.first(key, event.time, window))
    return Match(
        title=f"Logged in after {failed_logins(failures)} in {span}: {who(observation)}{where(observation)}",
        dedup_key=f"{event.resource}|{event.user}|{event.client_host}",
        measured=True,
        context=((MEASURED, f"{failed_logins(failures)} in {span} before the login"),),
        tally=f"successful logins after failed logins for {who(observation)}{where(observation)}",
    )


RULE = Rule(
    id="login-after-failures",
    description="A login succeeded for a user and host that had just reached the brute-force threshold.",
    kind=RuleKind.LOGIN,
    severity=Severity.CRITICAL,
    channels=("email", "slack"),
    evaluate=evaluate,
    needs=RuleNeeds.logins(),
    params=MappingProxyType({"threshold": 5, "window_minutes": 5}),
)
