"""drop-database: DROP DATABASE or DROP SCHEMA."""

from __future__ import annotations

from detections.observation import Observation
from detections.rule import Match, Rule, RuleContext, RuleKind
from detections.rule_needs import RuleNeeds
from detections.rules._statements import statement_match
from detections.severity import Severity
from detections.sql import StatementKind


def evaluate(observation: Observation, context: RuleContext) -> Match | None:
    """Match a statement that drops a database or schema."""
    drops = observation.statements_of(StatementKind.DROP_DATABASE)
    if not drops:
        return None
    # Say what was written; DROP SCHEMA is a MySQL synonym. A query mixing both is titled by its first drop.
    what = "DROP SCHEMA" if drops[0].schema else "DROP DATABASE"
    return statement_match(observation, what, [n for s in drops for n in s.objects])


RULE = Rule(
    id="drop-database",
    description="A database or schema was dropped (or a drop was attempted).",
    kind=RuleKind.STATEMENT,
    severity=Severity.CRITICAL,
    channels=("slack", "email"),
    evaluate=evaluate,
    needs=RuleNeeds.statements(StatementKind.DROP_DATABASE),
)
