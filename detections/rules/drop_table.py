"""drop-table: a statement drops a (non-temporary) table, however it is spelled or split across records."""

from __future__ import annotations

from detections.observation import Observation
from detections.rule import Match, Rule, RuleContext, RuleKind
from detections.rule_needs import RuleNeeds
from detections.rules._statements import statement_match
from detections.severity import Severity
from detections.sql import StatementKind

# PostgreSQL temporary tables live in per-session pg_temp_N schemas.
_TEMP_SCHEMA_PREFIXES = ("pg_temp", "pg_toast_temp")


def _is_temporary(name: str) -> bool:
    """Whether a dropped object name is a PostgreSQL temporary table."""
    return "." in name and name.split(".", 1)[0].strip('"').lower().startswith(_TEMP_SCHEMA_PREFIXES)


def evaluate(observation: Observation, context: RuleContext) -> Match | None:
    """Match DROP TABLE from the classified statement, or from TABLE/AUX/pgaudit evidence."""
    dropped = observation.dropped_tables()
    persistent = [name for name in dropped if not _is_temporary(name)]
    if dropped and not persistent:
        return None  # pgaudit names only pg_temp tables: a temporary table went away
    classified = observation.statements_of(StatementKind.DROP_TABLE)
    drops = [s for s in classified if not s.temporary]
    if drops:
        return statement_match(observation, "DROP TABLE", persistent or [n for s in drops for n in s.objects])
    if not persistent:
        return None
    # Only table evidence (a cut statement, dynamic SQL in a DO block): trust it unless a complete
    # statement says the drop was of a temporary table or part of DROP DATABASE.
    explained = observation.statement_is_complete and (
        bool(classified) or bool(observation.statements_of(StatementKind.DROP_DATABASE))
    )
    return None if explained else statement_match(observation, "DROP TABLE", persistent)


RULE = Rule(
    id="drop-table",
    description="A table was dropped (or a drop was attempted).",
    kind=RuleKind.STATEMENT,
    severity=Severity.HIGH,
    channels=("slack",),
    evaluate=evaluate,
    needs=RuleNeeds.statements(StatementKind.DROP_TABLE, StatementKind.DROP_DATABASE, drop_evidence=True),
)
