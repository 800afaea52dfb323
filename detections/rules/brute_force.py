"""brute-force: at least N failed logins within a window for one (cluster, user, client host)."""

from __future__ import annotations

from types import MappingProxyType

from detections.observation import Observation
from detections.rule import Match, Rule, RuleContext, RuleKind
from detections.rule_needs import RuleNeeds
from detections.rules._logins import failures_key, is_failed_login, login_identity, where, who
from detections.severity import Severity


def evaluate(observation: Observation, context: RuleContext) -> Match | None:
    """Count the failure in the shared window and match once the threshold is reached."""
    event = observation.event
    if not is_failed_login(event):
        return None
    window = context.param_window()
    threshold = context.param_int("threshold")
    failures = context.state.record(failures_key(event), login_identity(event), event.time, window)
    if failures < threshold:
        return None
    minutes = f"{window.total_seconds() / 60:g}"
    return Match(
        title=f"Brute force: {failures} failed logins for {who(observation)}{where(observation)} "
        f"within {minutes} min",
        dedup_key=f"{event.resource}|{event.user}|{event.client_host}",
        measured=True,
        context=(("failures_in_window", str(failures)),),
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
