"""failed-login: every failed authentication, from any source."""

from __future__ import annotations

from detections.observation import Observation
from detections.rule import Match, Rule, RuleContext, RuleKind
from detections.rule_needs import RuleNeeds
from detections.rules._logins import failed_login_of
from detections.severity import Severity


def evaluate(observation: Observation, context: RuleContext) -> Match | None:
    """Match a failed login; repeats for the same user and host collapse into one alert."""
    event = observation.event
    login = failed_login_of(event)
    if login is None:
        return None
    reason = f" ({event.status})" if event.status not in ("", "0") else ""
    return Match.of(
        title=f"Failed login for {login.who}{login.where}{reason}",
        dedup_key=login.dedup_key,
        tally=login.tally,
    )


RULE = Rule(
    id="failed-login",
    description="A login attempt failed (wrong password, unknown user, no access).",
    kind=RuleKind.LOGIN,
    severity=Severity.MEDIUM,
    channels=("email",),
    evaluate=evaluate,
    needs=RuleNeeds.logins(),
)
