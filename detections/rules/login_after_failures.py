"""login-after-failures: a successful login for a (cluster, user, host) that just looked brute-forced."""

from __future__ import annotations

from types import MappingProxyType

from detections.finding import event_identity
from detections.observation import Observation
from detections.rule import MEASURED, Match, Rule, RuleContext, RuleKind
from detections.rule_needs import RuleNeeds
from detections.rules._logins import (
    duration,
    failed_login_of,
    failed_logins,
    is_successful_login,
    login_of,
)
from detections.severity import Severity


def evaluate(observation: Observation, context: RuleContext) -> Match | None:
    """Track failures (idempotently, shared with brute-force); match a success that follows enough."""
    event = observation.event
    failed = failed_login_of(event)
    if failed is not None:
        context.state.note(failed.failures_key, event_identity(event), event.time)
        return None
    if not is_successful_login(event):
        return None
    window = context.param_window()
    login = login_of(event)
    failures = context.state.count(login.failures_key, event.time, window)
    if failures < context.param_int("threshold"):
        return None
    how_many = failed_logins(failures)
    span = duration(event.time - context.state.first(login.failures_key, event.time, window))
    return Match.of(
        title=f"Logged in after {how_many} in {span}: {login.who}{login.where}",
        dedup_key=login.dedup_key,
        measured=True,
        context=((MEASURED, f"{how_many} in {span} before the login"),),
        tally=f"successful logins after failed logins for {login.who}{login.where}",
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
