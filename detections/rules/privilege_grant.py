"""privilege-grant: GRANT ALL, WITH GRANT OPTION, or a grant of superuser-class power."""

from __future__ import annotations

from detections.observation import Observation
from detections.rule import Match, Rule, RuleContext, RuleKind
from detections.rule_needs import RuleNeeds
from detections.rules._statements import statement_match
from detections.severity import Severity
from detections.sql import StatementKind


def evaluate(observation: Observation, context: RuleContext) -> Match | None:
    """Match grants that hand out broad or superuser power; plain narrow grants are not alerts."""
    grants = [
        s
        for s in observation.statements_of(StatementKind.GRANT)
        if s.grant_all or s.with_grant_option or s.superuser
    ]
    superuser_roles = [
        s
        for s in observation.statements_of(StatementKind.ALTER_USER, StatementKind.CREATE_ROLE)
        if s.superuser
    ]
    if not grants and not superuser_roles:
        return None
    kinds = []
    if any(s.grant_all for s in grants):
        kinds.append("ALL")
    if any(s.with_grant_option for s in grants):
        kinds.append("WITH GRANT OPTION")
    if any(s.superuser for s in (*grants, *superuser_roles)):
        kinds.append("superuser")
    grantees = [n for s in (*grants, *superuser_roles) for n in s.objects]
    match = statement_match(observation, f"Privilege grant ({', '.join(kinds)}) to", grantees)
    return match


RULE = Rule(
    id="privilege-grant",
    description="Broad privileges (ALL, grant option, superuser-class roles) were granted.",
    kind=RuleKind.STATEMENT,
    severity=Severity.HIGH,
    channels=("slack",),
    evaluate=evaluate,
    needs=RuleNeeds.statements(StatementKind.GRANT, StatementKind.ALTER_USER, StatementKind.CREATE_ROLE),
)
