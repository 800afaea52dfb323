"""audit-disabled: someone turns auditing off or narrows it (settings weakened, plugin or extension removed).

What "weaker" means, per setting (the classifier extracts the setting, its new value and its scope):
- server_audit_logging: anything but ON/1/TRUE; `= DEFAULT` too (the default is OFF).
- server_audit_events: a non-empty list without CONNECT, or without QUERY and without both QUERY_DDL and
  QUERY_DCL (an empty list, the default, logs every event class).
- server_audit_excl_users / server_audit_incl_users: any non-empty value (someone is excluded, or logging
  is restricted to the listed users); '' or DEFAULT clears the list and stays silent.
- server_audit_query_log_limit: below its default 1024, or not a number (a low limit cuts the DROP off a
  padded statement); a SET the log itself cut inside the setting name ("SET GLOBAL serve") fires too.
- pgaudit.log: a class list that leaves out ddl or role (none, '', read,write, all,-ddl …).
- pgaudit.role: any change (object auditing follows that role); other pgaudit.*: set OFF/0/false, or
  pgaudit.log_level to a DEBUG level.
- log_connections / log_disconnections: OFF/0/false/no or ''; log_statement: none or '';
  shared_preload_libraries: a list without pgaudit.
- PostgreSQL RESET / SET … TO DEFAULT: in a session or by ALTER SYSTEM it returns to the configuration
  file's value (the baseline; ALTER SYSTEM RESET is how an override is undone): silent. In ALTER
  ROLE|DATABASE it removes a per-role or per-database setting, which is a targeted watch stronger than
  the baseline: fires, RESET ALL included.
- UNINSTALL PLUGIN|SONAME server_audit and DROP EXTENSION pgaudit always fire.
A failed attempt fires too (titled "Attempted …"): trying is the signal. Reading a setting never fires.
"""

from __future__ import annotations

import dataclasses

from detections.observation import Observation
from detections.rule import Match, Rule, RuleContext, RuleKind
from detections.rule_needs import RuleNeeds
from detections.rules._statements import statement_match
from detections.severity import Severity
from detections.sql import Statement, StatementKind
from detections.sql_audit import CUT

_OFF = frozenset({"off", "0", "false", "no"})
_ON = frozenset({"on", "1", "true", "yes"})
# What `SET GLOBAL x = DEFAULT` restores on MariaDB / the MySQL audit plugin.
_MYSQL_DEFAULTS = {
    "server_audit_logging": "OFF",
    "server_audit_events": "",
    "server_audit_excl_users": "",
    "server_audit_incl_users": "",
    "server_audit_query_log_limit": "1024",
}
_DEFAULT_QUERY_LOG_LIMIT = 1024
_PGAUDIT_CLASSES = frozenset({"read", "write", "function", "role", "ddl", "misc", "misc_set"})
_PGAUDIT_NEEDED = frozenset({"ddl", "role"})


def _pgaudit_classes(value: str) -> set[str]:
    """The statement classes a pgaudit.log value audits (`all`, `-class` subtractions, `none`)."""
    audited: set[str] = set()
    for item in value.lower().split(","):
        name = item.strip().strip("'\"")
        subtract = name.startswith("-")
        name = name.lstrip("-+ ")
        classes = _PGAUDIT_CLASSES if name == "all" else {name} & _PGAUDIT_CLASSES
        audited = audited - classes if subtract else audited | classes
    return audited


def _server_audit_events_weaker(value: str) -> bool:
    """Whether a server_audit_events list stops logging connections or the statements rules read."""
    events = {item.strip().upper() for item in value.split(",") if item.strip()}
    if not events:
        return False  # empty: every event class is logged
    queries = "QUERY" in events or {"QUERY_DDL", "QUERY_DCL"} <= events
    return "CONNECT" not in events or not queries


def _value_weakens(setting: str, value: str) -> bool:
    """Whether setting `setting` to `value` audits less than the usual production configuration."""
    lowered = value.strip().lower()
    if setting == "server_audit_logging":
        return lowered not in _ON
    if setting == "server_audit_events":
        return _server_audit_events_weaker(value)
    if setting in ("server_audit_excl_users", "server_audit_incl_users"):
        return lowered not in ("", "''")
    if setting == "pgaudit.log":
        return not _pgaudit_classes(value) >= _PGAUDIT_NEEDED
    if setting == "server_audit_query_log_limit":
        return not (lowered.isdigit() and int(lowered) >= _DEFAULT_QUERY_LOG_LIMIT)
    if setting == "pgaudit.role":
        return True
    if setting == "pgaudit.log_level":
        return lowered.startswith("debug")
    if setting == "log_statement":
        return lowered in ("none", "")
    if setting == "shared_preload_libraries":
        return "pgaudit" not in lowered
    return lowered in _OFF or lowered == ""  # log_connections, log_disconnections, other pgaudit.* switches


def weakens(statement: Statement) -> bool:
    """Whether an AUDIT_SETTING / AUDIT_REMOVED statement makes the server audit less."""
    if statement.kind is StatementKind.AUDIT_REMOVED or statement.setting.endswith(CUT):
        return True  # a removal, or a SET the log cut short (by lowering server_audit_query_log_limit)
    value = statement.value
    if value is None:
        value = _MYSQL_DEFAULTS.get(statement.setting)
        if value is None:  # a PostgreSQL RESET / TO DEFAULT
            return statement.scope in ("role", "database")
    return _value_weakens(statement.setting, value)


def _target(statement: Statement) -> str:
    """Where the change applies, as a title suffix."""
    scope = statement.scope
    named = statement.objects[0] if statement.objects else ""
    if scope == "session":
        return " for the session"
    if scope == "system":
        return " server-wide (ALTER SYSTEM)"
    if scope == "role":
        return " for all roles" if named.upper() == "ALL" else f" for role {named}"
    if scope == "database":
        return f" for database {named}"
    return ""


def describe(statement: Statement) -> str:
    """What was weakened, for the title: 'server_audit_logging set OFF', 'DROP EXTENSION pgaudit' …."""
    if statement.kind is StatementKind.AUDIT_REMOVED:
        name = statement.objects[0] if statement.objects else ""
        return f"DROP EXTENSION {name}" if name == "pgaudit" else f"UNINSTALL PLUGIN {name}"
    setting = "all settings" if statement.setting == "all" else statement.setting
    value = statement.value
    if setting.endswith(CUT):
        change = "changed (the log cut the statement short)"
    elif value is None:
        change = "reset"
    elif value.strip().lower() in _OFF:
        change = "set OFF"
    else:
        change = f"set to '{value}'"
    return f"{setting} {change}{_target(statement)}"


def evaluate(observation: Observation, context: RuleContext) -> Match | None:
    """Match a statement (or a failed attempt) that weakens auditing."""
    weakening = [
        s
        for s in observation.statements_of(StatementKind.AUDIT_SETTING, StatementKind.AUDIT_REMOVED)
        if weakens(s)
    ]
    if not weakening:
        return None
    what = "; ".join(dict.fromkeys(describe(s) for s in weakening))
    match = statement_match(observation, what)
    changed = (s.setting if s.kind is StatementKind.AUDIT_SETTING else s.objects[0] for s in weakening)
    return dataclasses.replace(match, objects=tuple(dict.fromkeys(changed)))


RULE = Rule(
    id="audit-disabled",
    description="Auditing was turned off or narrowed (audit settings, audit plugin or extension).",
    kind=RuleKind.STATEMENT,
    severity=Severity.CRITICAL,
    channels=("email", "slack"),
    evaluate=evaluate,
    needs=RuleNeeds.statements(StatementKind.AUDIT_SETTING, StatementKind.AUDIT_REMOVED),
)
