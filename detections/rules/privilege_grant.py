"""privilege-grant: broad, server-wide or superuser-class power handed out; narrow object grants are silent.

Fires on: GRANT ALL [PRIVILEGES] at any level; anything WITH GRANT|ADMIN OPTION; `GRANT … ON *.*` of an
administrative privilege (SUPER, FILE, PROCESS, SHUTDOWN, RELOAD, CREATE USER, GRANT OPTION, ALL); a
membership in a role that reaches the server or other sessions (rds_superuser, pg_read_server_files,
pg_write_server_files, pg_execute_server_program, pg_signal_backend, rds_superuser_role) by GRANT, ALTER
GROUP … ADD USER or CREATE ROLE … IN ROLE; the role attributes SUPERUSER, CREATEROLE, BYPASSRLS, REPLICATION
given by CREATE|ALTER ROLE|USER. The title names what was granted.
"""

from __future__ import annotations

from detections.observation import Observation
from detections.rule import Match, Rule, RuleContext, RuleKind
from detections.rule_needs import RuleNeeds
from detections.rules._statements import statement_match
from detections.severity import Severity
from detections.sql import SUPERUSER_ROLES, Statement, StatementKind
from detections.sql_accounts import is_global_level

ADMIN_PRIVILEGES = frozenset(
    {"super", "file", "process", "shutdown", "reload", "create user", "grant option", "all", "all privileges"}
)
SERVER_ROLES = SUPERUSER_ROLES | {"pg_signal_backend"}


def _role(item: str) -> str:
    """A granted role without its MySQL `@host` part."""
    return item.split("@", 1)[0]


def _granted(statement: Statement) -> str:
    """What a GRANT (or ALTER GROUP … ADD USER) hands out that matters, '' when it is a narrow grant."""
    option = ", WITH GRANT OPTION" if statement.with_grant_option else ""
    if not statement.level:  # role memberships
        roles = [item for item in statement.granted if _role(item) in SERVER_ROLES]
        if not roles and not option:
            return ""
        shown = roles or list(statement.granted)
        return ", ".join(shown) + option.replace("GRANT", "ADMIN")
    admin = [item for item in statement.granted if item in ADMIN_PRIVILEGES]
    if is_global_level(statement.level) and admin:
        shown = admin
    elif statement.grant_all or option:
        shown = list(statement.granted)
    else:
        return ""
    return f"{', '.join(item.upper() for item in shown)} on {statement.level}{option}"


def _role_power(statement: Statement) -> str:
    """Role attributes and server-reaching memberships a CREATE/ALTER ROLE|USER gives, '' when none."""
    roles = [item for item in statement.granted if _role(item) in SERVER_ROLES]
    return ", ".join([*(a.upper() for a in statement.attributes), *roles])


def evaluate(observation: Observation, context: RuleContext) -> Match | None:
    """Match grants of broad, server-wide or superuser-class power; name what was granted to whom."""
    granted: list[tuple[str, Statement]] = []
    for statement in observation.statements_of(StatementKind.GRANT):
        if what := _granted(statement):
            granted.append((what, statement))
    accounts = (StatementKind.ALTER_USER, StatementKind.CREATE_ROLE, StatementKind.CREATE_USER)
    for statement in observation.statements_of(*accounts):
        if what := _role_power(statement):
            granted.append((what, statement))
    if not granted:
        return None
    what = "; ".join(dict.fromkeys(what for what, _ in granted))
    grantees = [name for _, statement in granted for name in statement.objects]
    return statement_match(observation, f"Privilege grant ({what}) to", grantees)


RULE = Rule(
    id="privilege-grant",
    description="Broad power was granted: ALL, grant option, server-wide admin privileges, superuser roles.",
    kind=RuleKind.STATEMENT,
    severity=Severity.HIGH,
    channels=("slack",),
    evaluate=evaluate,
    needs=RuleNeeds.statements(
        StatementKind.GRANT, StatementKind.ALTER_USER, StatementKind.CREATE_ROLE, StatementKind.CREATE_USER
    ),
)
