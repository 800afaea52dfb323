"""user-created: CREATE USER, CREATE ROLE … LOGIN, or MySQL GRANT … IDENTIFIED BY (may create the user)."""

from __future__ import annotations

from detections.observation import Observation
from detections.rule import Match, Rule, RuleContext, RuleKind
from detections.rule_needs import RuleNeeds
from detections.rules._statements import statement_match
from detections.severity import Severity
from detections.sql import StatementKind


def evaluate(observation: Observation, context: RuleContext) -> Match | None:
    """Match the creation of an account that can log in (GRANT … IDENTIFIED BY may have created one)."""
    created = [
        s
        for s in observation.statements_of(StatementKind.CREATE_USER, StatementKind.CREATE_ROLE)
        if s.login  # CREATE USER sets it too, unless the PostgreSQL statement says NOLOGIN
    ]
    # MySQL 5.7 / MariaDB: GRANT … TO u IDENTIFIED BY '…' creates u if missing, else sets its password.
    by_grant = [s for s in observation.statements_of(StatementKind.GRANT) if s.sets_password]
    if created:
        names = [n for s in (*created, *by_grant) for n in s.objects]
        return statement_match(observation, "User created:", names)
    if by_grant:
        names = [n for s in by_grant for n in s.objects]
        return statement_match(observation, "User created or password set by GRANT:", names)
    return None


RULE = Rule(
    id="user-created",
    description="A database account that can log in was created (also by GRANT … IDENTIFIED BY).",
    kind=RuleKind.STATEMENT,
    severity=Severity.MEDIUM,
    channels=("slack",),
    evaluate=evaluate,
    needs=RuleNeeds.statements(StatementKind.CREATE_USER, StatementKind.CREATE_ROLE, StatementKind.GRANT),
)
