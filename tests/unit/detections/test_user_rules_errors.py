"""User rule files: each validation problem is one exact line naming file and key path."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from detections.user_rule_schema import MATCHABLE_FIELDS
from detections.user_rules import RulesFileError, parse_rules_document
from parsers.event import Action
from tests.unit.detections.user_rule_documents import example_document, minimal_rule, rules_document


def _set(document: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy of the document with the value at a dotted path (list positions as numbers) replaced."""
    changed = copy.deepcopy(document)
    *parents, last = path.split(".")
    node: Any = changed
    for part in parents:
        node = node[int(part)] if part.isdigit() else node[part]
    if value is _DELETE:
        del node[int(last) if last.isdigit() else last]
    elif last.isdigit():
        node[int(last)] = value
    else:
        node[last] = value
    return changed


_DELETE = object()
_ACTIONS = ", ".join(a.value for a in Action)
_SEVERITIES = "info, low, medium, high, critical"
_BAD_PAREN = "invalid regular expression: missing ), unterminated subpattern at position"
_CONDITION = "must be a mapping with exactly one of equals, in, regex, glob, not"

ERROR_CASES = [
    ("rules.0.match.user", {"glob_": "app_*"}, "rules[0].match.user: unknown key 'glob_'"),
    ("rules.0.match.usr", {"equals": "x"}, "rules[0].match: unknown key 'usr'"),
    ("builtin.brute-force.threshold", 0, "builtin.brute-force.threshold: must be an integer ≥ 1"),
    ("builtin.brute-force.threshold", "ten", "builtin.brute-force.threshold: must be an integer ≥ 1"),
    ("builtin.brute-force.threshold", 2.5, "builtin.brute-force.threshold: must be an integer ≥ 1"),
    (
        "builtin.brute-force.window_minutes",
        0,
        "builtin.brute-force.window_minutes: must be a number of minutes > 0 and ≤ 1440",
    ),
    ("builtin.brute-forse", {"enabled": False}, "builtin: unknown built-in rule 'brute-forse'"),
    ("builtin.drop-table.threshold", 3, "builtin.drop-table: unknown key 'threshold'"),
    ("builtin.truncate-table.enabled", "no", "builtin.truncate-table.enabled: must be true or false"),
    (
        "builtin.brute-force.severity",
        "urgent",
        f"builtin.brute-force.severity: must be one of {_SEVERITIES}",
    ),
    (
        "builtin.drop-table.allow.0.user",
        {"in": ["migrator", "Bad"], "equals": "x"},
        f"builtin.drop-table.allow[0].user: {_CONDITION}",
    ),
    (
        "builtin.drop-table.allow.0.database",
        {"regex": "scratch_("},
        f"builtin.drop-table.allow[0].database.regex: {_BAD_PAREN} 8",
    ),
    ("version", 2, "version: must be 1 (the only rules-file version)"),
    ("version", _DELETE, "missing required key 'version'"),
    ("rule", [], "unknown key 'rule'"),
    (
        "settings.suppression_minutes",
        -1,
        "settings.suppression_minutes: must be a number of minutes > 0 and ≤ 1440",
    ),
    ("settings.internal_users", "rdsadmin", "settings.internal_users: must be a list"),
    ("settings.mute", True, "settings: unknown key 'mute'"),
    (
        "rules.0.id",
        "Payroll Read",
        "rules[0].id: must be a lower-case slug like 'payroll-read' (a-z, 0-9, single dashes)",
    ),
    ("rules.1.id", "payroll-read", "rules[1].id: duplicate rule id 'payroll-read'"),
    (
        "rules.0.id",
        "drop-table",
        "rules[0].id: 'drop-table' is a built-in rule id (tune it under builtin.drop-table)",
    ),
    ("rules.0.description", _DELETE, "rules[0]: missing required key 'description'"),
    ("rules.0.severity", "urgent", f"rules[0].severity: must be one of {_SEVERITIES}"),
    ("rules.0.channels", ["slack", "pager"], "rules[0].channels[1]: must be one of email, slack"),
    ("rules.0.channels", [], "rules[0].channels: must not be empty"),
    (
        "rules.0.match.statement",
        {"regex": "(payroll"},
        f"rules[0].match.statement.regex: {_BAD_PAREN} 0",
    ),
    (
        "rules.0.match.action",
        {"in": ["QUERY", "SELECT"]},
        f"rules[0].match.action.in[1]: unknown action 'SELECT' (one of {_ACTIONS})",
    ),
    (
        "rules.0.match.action",
        {"not": {"equals": "query"}},
        f"rules[0].match.action.not.equals: unknown action 'query' (one of {_ACTIONS})",
    ),
    (
        "rules.0.match.user",
        "app_*",
        "rules[0].match.user: must be a mapping with exactly one of equals, in, regex, glob, not",
    ),
    ("rules.0.match.user", {"glob": ["a"]}, "rules[0].match.user.glob: must be a string"),
    ("rules.0.match.user", {"in": []}, "rules[0].match.user.in: must not be empty"),
    (
        "rules.1.statement_class",
        ["drop_tables"],
        "rules[1].statement_class[0]: must be one of drop_table, drop_database, truncate, grant, revoke, "
        "create_user, create_role, alter_user, set_password, drop_user, audit_setting, audit_removed, "
        "other_ddl, dml, select, other",
    ),
    ("rules.1.threshold", {"count": 3}, "rules[1].threshold: missing required key 'window_minutes'"),
    ("rules.1.threshold.count", 0, "rules[1].threshold.count: must be an integer ≥ 1"),
    (
        "rules.1.threshold.window_minutes",
        1441,
        "rules[1].threshold.window_minutes: must be a number of minutes > 0 and ≤ 1440",
    ),
    (
        "rules.1.threshold.group_by",
        ["usr"],
        "rules[1].threshold.group_by[0]: must be an event field: " + ", ".join(MATCHABLE_FIELDS),
    ),
    (
        "rules.1.threshold.distinct",
        "time",
        "rules[1].threshold.distinct: must be an event field: " + ", ".join(MATCHABLE_FIELDS),
    ),
    ("rules.0.dedup_by", ["user", "user"], "rules[0].dedup_by: must not repeat an item"),
    (
        "rules.0.title",
        "Read by {usr}",
        "rules[0].title: unknown placeholder {usr} (use an event field name or count)",
    ),
    (
        "rules.0.title",
        "Read by {user!r}",
        "rules[0].title: placeholder {user} takes no format spec or conversion",
    ),
    (
        "rules.0.title",
        "Read by {user",
        "rules[0].title: invalid title template: expected '}' before end of string",
    ),
    ("rules.0.failed", "yes", "rules[0].failed: must be true or false"),
    ("rules.0.tests.0.events.0.usr", "x", "rules[0].tests[0].events[0]: unknown key 'usr'"),
    (
        "rules.0.tests.0.events.0.time",
        "noon",
        "rules[0].tests[0].events[0].time: not an ISO 8601 time: 'noon'",
    ),
    (
        "rules.0.tests.0.events.0.action",
        "SELECT",
        "rules[0].tests[0].events[0].action: must be one of " + _ACTIONS,
    ),
    ("rules.0.tests.0.expect", -1, "rules[0].tests[0].expect: must be an integer ≥ 0"),
    ("rules.0.tests.0.expected", 1, "rules[0].tests[0]: unknown key 'expected'"),
    (
        "rules.0.tests.1.name",
        "fires on a payroll select",
        "rules[0].tests[1].name: duplicate test name 'fires on a payroll select'",
    ),
]


@pytest.mark.parametrize(("path", "value", "message"), ERROR_CASES, ids=[c[2] for c in ERROR_CASES])
def test_each_kind_of_error_is_one_exact_line(path: str, value: Any, message: str) -> None:
    """GIVEN the example with one thing wrong WHEN parsed THEN the error is '<file>: <path>: <problem>'."""
    document = _set(example_document(), path, value)
    with pytest.raises(RulesFileError) as caught:
        parse_rules_document(document, "rules.yaml")
    assert str(caught.value) == f"rules.yaml: {message}"
    assert isinstance(caught.value, ValueError)


def test_a_rule_without_conditions_is_refused() -> None:
    """GIVEN a rule without match, statement_class or failed WHEN parsed THEN it is refused (matches all)."""
    rule = minimal_rule()
    del rule["match"]
    with pytest.raises(RulesFileError) as caught:
        parse_rules_document(rules_document(rule), "rules.yaml")
    assert (
        str(caught.value)
        == "rules.yaml: rules[0]: a rule needs at least one of match, statement_class, failed"
    )


def test_the_first_problem_in_document_order_is_reported() -> None:
    """GIVEN two problems WHEN parsed THEN the one earlier in the file is reported."""
    document = _set(_set(example_document(), "rules.1.severity", "urgent"), "rules.0.channels", ["pager"])
    with pytest.raises(RulesFileError) as caught:
        parse_rules_document(document, "rules.yaml")
    assert str(caught.value) == "rules.yaml: rules[0].channels[0]: must be one of email, slack"


def test_an_error_stays_on_one_line_even_for_keys_with_newlines() -> None:
    """GIVEN a misspelt key holding a newline WHEN parsed THEN the message is still one line."""
    document = _set(example_document(), "rules.0.match.user", {"glob\nx": "a"})
    with pytest.raises(RulesFileError) as caught:
        parse_rules_document(document, "rules.yaml")
    assert str(caught.value) == "rules.yaml: rules[0].match.user: unknown key 'glob\\nx'"
