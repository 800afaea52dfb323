"""truncate-table: TRUNCATE [TABLE]."""

from __future__ import annotations

from detections.observation import Observation
from detections.rule import Match, Rule, RuleContext, RuleKind
from detections.rule_needs import RuleNeeds
from detections.rules._statements import statement_match
from detections.severity import Severity
from detections.sql import StatementKind


def evaluate(observation: Observation, context: RuleContext) -> Match | None:
    """Match a statement that empties tables with TRUNCATE."""
    truncates = observation.statements_of(StatementKind.TRUNCATE)
    if not truncates:
        return None
    return statement_match(observation, "TRUNCATE", [n for s in truncates for n in s.objects])


RULE = Rule(
    id="truncate-table",
    description="A table was truncated (or a truncate was attempted).",
    kind=RuleKind.STATEMENT,
    severity=Severity.HIGH,
    channels=("slack",),
    evaluate=evaluate,
    needs=RuleNeeds.statements(StatementKind.TRUNCATE),
)
