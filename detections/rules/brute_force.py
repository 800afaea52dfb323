"""brute-force: at least N failed logins within a window for one (cluster, user, client host)."""

from __future__ import annotations

from types import MappingProxyType

from detections.finding import event_identity
from detections.observation import Observation
from detections.rule import MEASURED, Match, Rule, RuleContext, RuleKind
from detections.rule_needs import RuleNeeds
from detections.rules._logins import duration, failed_login_of, failed_logins
from detections.severity import Severity


def evaluate(observation: Observation, context: RuleContext) -> Match | None:
    """Count the failure in the shared window and match once the threshold is reached."""
    event = observation.event
    login = failed_login_of(event)
    if login is None:
        return None
    window = context.param_window()
    failures = context.state.add(login.failures_key, event_identity(event), event.time, window)
    if failures < context.param_int("threshold"):
        return None
    how_many = failed_logins(failures)
    span = duration(event.time - context.state.first(login.failures_key, event.time, window))
    return Match.of(
        title=f"Brute force: {how_many} for {login.who}{login.where} in {span}",
        dedup_key=login.dedup_key,
        measured=True,
        context=((MEASURED, f"{how_many} in {span}"),),
        tally=login.tally,
    )


RULE = Rule(
    id="brute-force",
    description="Many failed logins for one user from one host in a short window.",
    kind=RuleKind.LOGIN,
    severity=Severity.HIGH,
    channels=("email", "slack"),
    evaluate=evaluate,
    needs=RuleNeeds.logins(),
    params=MappingProxyType({"threshold": 5, "window_minutes": 5}),
)
