"""password-changed: ALTER USER/ROLE … IDENTIFIED BY / PASSWORD, or SET PASSWORD."""

from __future__ import annotations

from detections.observation import Observation
from detections.rule import Match, Rule, RuleContext, RuleKind
from detections.rule_needs import RuleNeeds
from detections.rules._statements import statement_match
from detections.severity import Severity
from detections.sql import StatementKind


def evaluate(observation: Observation, context: RuleContext) -> Match | None:
    """Match a statement that sets the password of an existing account."""
    changes = [
        s
        for s in observation.statements_of(StatementKind.ALTER_USER, StatementKind.SET_PASSWORD)
        if s.kind is StatementKind.SET_PASSWORD or s.sets_password
    ]
    if not changes:
        return None
    # SET PASSWORD without FOR changes the session's own password: name the logged-in user.
    own = observation.event.user or "their own account"
    return statement_match(
        observation, "Password changed for", [n for s in changes for n in s.objects or (own,)]
    )


RULE = Rule(
    id="password-changed",
    description="The password of an existing database account was changed.",
    kind=RuleKind.STATEMENT,
    severity=Severity.MEDIUM,
    channels=("slack",),
    evaluate=evaluate,
    needs=RuleNeeds.statements(StatementKind.ALTER_USER, StatementKind.SET_PASSWORD),
)
