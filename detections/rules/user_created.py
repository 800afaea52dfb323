"""user-created: CREATE USER, or CREATE ROLE … LOGIN."""

from __future__ import annotations

from detections.observation import Observation
from detections.rule import Match, Rule, RuleContext, RuleKind
from detections.rule_needs import RuleNeeds
from detections.rules._statements import statement_match
from detections.severity import Severity
from detections.sql import StatementKind


def evaluate(observation: Observation, context: RuleContext) -> Match | None:
    """Match the creation of an account that can log in."""
    created = [
        s
        for s in observation.statements_of(StatementKind.CREATE_USER, StatementKind.CREATE_ROLE)
        if s.login  # CREATE USER sets it too, unless the PostgreSQL statement says NOLOGIN
    ]
    if not created:
        return None
    return statement_match(observation, "User created:", [n for s in created for n in s.objects])


RULE = Rule(
    id="user-created",
    description="A database account that can log in was created.",
    kind=RuleKind.STATEMENT,
    severity=Severity.MEDIUM,
    channels=("slack",),
    evaluate=evaluate,
    needs=RuleNeeds.statements(StatementKind.CREATE_USER, StatementKind.CREATE_ROLE),
)
