"""User rule files: validation messages, built-in tuning and allow-lists, user rules, inline cases."""

from __future__ import annotations

import copy
import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

from detections.catalogue import builtin_rules
from detections.engine import DetectionEngine, EngineSettings
from detections.finding import Finding
from detections.rule import Rule
from detections.rule_cases import run_case
from detections.severity import Severity
from detections.state import InMemoryStateStore
from detections.user_rule_schema import (
    CASE_FILE_SCHEMA,
    MATCHABLE_FIELDS,
    RULES_FILE_SCHEMA,
    rules_file_schema,
)
from detections.user_rules import RuleFile, RulesFileError, load_rules_file, parse_rules_document
from parsers.event import Action, AuditEvent
from tests.factories import failed_login, make_event

EXAMPLE = """
version: 1
settings:
  suppression_minutes: 5
  internal_users: [rdsadmin, rdssec, rdsproxyadmin, monitor]
builtin:
  brute-force: {threshold: 10, window_minutes: 10, severity: critical, channels: [email, slack]}
  truncate-table: {enabled: false}
  drop-table:
    allow:
      - {user: {in: [migrator]}, database: {glob: "scratch_*"}}
rules:
  - id: payroll-read
    description: Someone read the payroll table
    title: "Payroll read by {user} from {client_host}"
    severity: high
    channels: [slack]
    include_internal_users: false
    match:
      action: {in: [QUERY, QUERY_DML]}
      user: {glob: "app_*"}
      statement: {regex: "(?i)\\\\bpayroll\\\\b"}
      database: {equals: hr}
    allow: [ {user: {equals: app_etl}} ]
    dedup_by: [user, client_host]
    tests:
      - name: fires on a payroll select
        events:
          - {action: QUERY, user: app_1, client_host: 10.0.0.9, statement: "select * from payroll",
             database: hr}
        expect: 1
        expect_titles: ["Payroll read by app_1 from 10.0.0.9"]
        expect_dedup_keys: ["app_1|10.0.0.9"]
      - name: ignores the allow-listed etl user
        events: [ {action: QUERY, user: app_etl, statement: "select * from payroll", database: hr} ]
        expect: 0
      - name: ignores other databases
        events: [ {action: QUERY, user: app_1, statement: "select * from payroll", database: crm} ]
        expect: 0
  - id: mass-drops
    description: Many tables dropped by one user
    title: "{count} drops by {user} on {resource}"
    severity: critical
    channels: [email, slack]
    statement_class: [drop_table, truncate]
    threshold: {count: 3, window_minutes: 10, group_by: [user], distinct: object}
    tests:
      - name: three distinct tables
        events:
          - {user: dev, cluster: prod, statement: "DROP TABLE a", object: a}
          - {user: dev, cluster: prod, statement: "DROP TABLE b", object: b}
          - {user: dev, cluster: prod, statement: "TRUNCATE c", object: c}
        expect: 1
        expect_titles: ["3 drops by dev on prod"]
        expect_dedup_keys: ["prod|dev|"]
      - name: the same table three times
        events:
          - {user: dev, statement: "DROP TABLE a", object: a}
          - {user: dev, statement: "DROP TABLE a", object: a}
          - {user: dev, statement: "DROP TABLE a", object: a}
        expect: 0
"""


def _example() -> dict[str, Any]:
    """The example rules document, freshly loaded (tests mutate their copy)."""
    document = yaml.safe_load(EXAMPLE)
    assert isinstance(document, dict)
    return document


def _rule(**overrides: Any) -> dict[str, Any]:
    """A minimal valid user rule mapping."""
    return {
        "id": "app-writes",
        "description": "App wrote",
        "severity": "low",
        "channels": ["slack"],
        "match": {"action": {"equals": "QUERY"}},
        **overrides,
    }


def _document(*rules: dict[str, Any]) -> dict[str, Any]:
    """A rules document holding the given user rules."""
    return {"version": 1, "rules": list(rules)}


def _detect(rules: tuple[Rule, ...] | list[Rule], events: list[AuditEvent]) -> list[Finding]:
    """Findings of the rules over the events, with fresh in-memory state."""
    return list(DetectionEngine(rules, InMemoryStateStore()).detect(events))


# --- a valid file ---


def test_valid_file_builds_rules_tuning_settings_and_cases() -> None:
    """GIVEN the documented example WHEN parsed THEN every section is turned into values."""
    rule_file = parse_rules_document(_example(), "rules.yaml")
    assert rule_file.path == "rules.yaml"
    assert [r.id for r in rule_file.rules] == ["payroll-read", "mass-drops"]
    payroll = rule_file.rules[0]
    assert (payroll.severity, payroll.channels, payroll.include_internal_users) == (
        Severity.HIGH,
        ("slack",),
        False,
    )
    assert payroll.description == "Someone read the payroll table"
    assert dict(rule_file.rules[1].params) == {"threshold": 3, "window_minutes": 10}
    assert rule_file.suppression_minutes == 5.0
    assert rule_file.internal_users == frozenset({"rdsadmin", "rdssec", "rdsproxyadmin", "monitor"})
    assert sorted(rule_file.tuning) == ["brute-force", "drop-table", "truncate-table"]
    assert [(c.rule_id, c.name, c.expect) for c in rule_file.cases] == [
        ("payroll-read", "fires on a payroll select", 1),
        ("payroll-read", "ignores the allow-listed etl user", 0),
        ("payroll-read", "ignores other databases", 0),
        ("mass-drops", "three distinct tables", 1),
        ("mass-drops", "the same table three times", 0),
    ]


def test_inline_cases_run_through_run_case() -> None:
    """GIVEN the example's inline tests WHEN each runs against its rule THEN all pass."""
    rule_file = parse_rules_document(_example(), "rules.yaml")
    rules = {r.id: r for r in rule_file.rules}
    results = [run_case(rules[case.rule_id], case) for case in rule_file.cases]
    assert [(r.case.name, r.passed, r.message) for r in results] == [
        (c.name, True, "") for c in rule_file.cases
    ]


def test_a_failing_inline_case_is_reported() -> None:
    """GIVEN an inline test that expects the wrong thing WHEN it runs THEN it fails with the reason."""
    document = _document(
        _rule(tests=[{"name": "wrong", "events": [{"action": "QUERY", "user": "a"}], "expect": 0}])
    )
    rule_file = parse_rules_document(document, "rules.yaml")
    result = run_case(rule_file.rules[0], rule_file.cases[0])
    assert (result.passed, result.findings) == (False, 1)
    assert result.message == "expected 0 finding(s), got 1: ['App wrote: a from  on ']"


def test_empty_sections_are_optional() -> None:
    """GIVEN only a version WHEN parsed THEN nothing is added or tuned and settings are left to defaults."""
    rule_file = parse_rules_document({"version": 1}, "rules.yaml")
    assert rule_file == RuleFile("rules.yaml", (), rule_file.tuning, None, None, ())
    assert dict(rule_file.tuning) == {}
    builtins = builtin_rules()
    assert rule_file.apply(builtins) == builtins


def test_load_rules_file_reads_yaml(tmp_path: Path) -> None:
    """GIVEN the example on disk WHEN loaded THEN it equals parsing the document, path included."""
    path = tmp_path / "rules.yaml"
    path.write_text(EXAMPLE, encoding="utf-8")
    rule_file = load_rules_file(path)
    assert rule_file.path == str(path)
    assert [r.id for r in rule_file.rules] == ["payroll-read", "mass-drops"]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("version: [1\n", "not valid YAML: "),
        ("", "must be a mapping"),
        ("- version: 1\n", "must be a mapping"),
    ],
)
def test_load_rules_file_reports_unreadable_documents(tmp_path: Path, text: str, problem: str) -> None:
    """GIVEN broken YAML or a non-mapping WHEN loaded THEN one line names the file and the problem."""
    path = tmp_path / "rules.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(RulesFileError) as caught:
        load_rules_file(path)
    assert str(caught.value).startswith(f"{path}: {problem}")
    assert "\n" not in str(caught.value)


def test_load_rules_file_reports_a_missing_file(tmp_path: Path) -> None:
    """GIVEN a path with no file WHEN loaded THEN the error names it."""
    path = tmp_path / "absent.yaml"
    with pytest.raises(RulesFileError) as caught:
        load_rules_file(path)
    assert str(caught.value) == f"{path}: cannot read: No such file or directory"


# --- errors: one line, file and key path ---


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
        "create_user, create_role, alter_user, set_password, drop_user, other_ddl, dml, select, other",
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
    document = _set(_example(), path, value)
    with pytest.raises(RulesFileError) as caught:
        parse_rules_document(document, "rules.yaml")
    assert str(caught.value) == f"rules.yaml: {message}"
    assert isinstance(caught.value, ValueError)


def test_a_rule_without_conditions_is_refused() -> None:
    """GIVEN a rule without match, statement_class or failed WHEN parsed THEN it is refused (matches all)."""
    rule = _rule()
    del rule["match"]
    with pytest.raises(RulesFileError) as caught:
        parse_rules_document(_document(rule), "rules.yaml")
    assert (
        str(caught.value)
        == "rules.yaml: rules[0]: a rule needs at least one of match, statement_class, failed"
    )


def test_the_first_problem_in_document_order_is_reported() -> None:
    """GIVEN two problems WHEN parsed THEN the one earlier in the file is reported."""
    document = _set(_set(_example(), "rules.1.severity", "urgent"), "rules.0.channels", ["pager"])
    with pytest.raises(RulesFileError) as caught:
        parse_rules_document(document, "rules.yaml")
    assert str(caught.value) == "rules.yaml: rules[0].channels[0]: must be one of email, slack"


# --- built-in tuning and allow-lists ---


def _builtin(rule_id: str, rules: tuple[Rule, ...]) -> Rule:
    """The rule with that id."""
    return next(r for r in rules if r.id == rule_id)


def test_apply_tunes_disables_and_appends() -> None:
    """GIVEN the example WHEN applied to the built-ins THEN rules are tuned, disabled and added."""
    builtins = builtin_rules()
    rules = parse_rules_document(_example(), "rules.yaml").apply(builtins)
    ids = [r.id for r in rules]
    assert "truncate-table" not in ids
    assert ids == [r.id for r in builtins if r.id != "truncate-table"] + ["payroll-read", "mass-drops"]
    brute = _builtin("brute-force", rules)
    assert (brute.severity, brute.channels) == (Severity.CRITICAL, ("email", "slack"))
    assert dict(brute.params) == {"threshold": 10, "window_minutes": 10}
    assert _builtin("failed-login", rules) is _builtin("failed-login", builtins)


def test_tuned_threshold_changes_when_brute_force_fires() -> None:
    """GIVEN brute-force tuned to 10 in 10 min WHEN 10 failures arrive THEN only the 10th matches."""
    rules = parse_rules_document(_example(), "rules.yaml").apply(builtin_rules())
    brute = _builtin("brute-force", rules)
    findings = _detect([brute], [failed_login(i * 50) for i in range(10)])
    assert [f.title for f in findings] == [
        "Brute force: 10 failed logins for app from 10.0.0.5 on prod within 10 min"
    ]
    assert findings[0].severity is Severity.CRITICAL


def test_tuning_only_severity_keeps_params_and_channels() -> None:
    """GIVEN only a severity for failed-login WHEN applied THEN the rest of the rule is unchanged."""
    document = {"version": 1, "builtin": {"failed-login": {"severity": "low"}}}
    (tuned,) = [
        r for r in parse_rules_document(document, "r.yaml").apply(builtin_rules()) if r.id == "failed-login"
    ]
    original = _builtin("failed-login", builtin_rules())
    assert tuned == dataclasses.replace(original, severity=Severity.LOW)


@pytest.mark.parametrize(
    ("user", "database", "expected"),
    [
        ("migrator", "scratch_42", 0),  # both allow conditions hold: dropped
        ("migrator", "shop", 1),  # the database is not allow-listed
        ("app", "scratch_42", 1),  # the user is not allow-listed
    ],
)
def test_allow_list_drops_matches_of_listed_events(user: str, database: str, expected: int) -> None:
    """GIVEN drop-table allow-listing migrator in scratch_* WHEN a table is dropped THEN only others alert."""
    rules = parse_rules_document(_example(), "rules.yaml").apply(builtin_rules())
    event = make_event(user=user, database=database, statement="DROP TABLE t")
    findings = _detect([_builtin("drop-table", rules)], [event])
    assert len(findings) == expected


def test_allow_list_entries_are_alternatives() -> None:
    """GIVEN two allow entries WHEN either matches THEN the finding is dropped."""
    document = {
        "version": 1,
        "builtin": {
            "failed-login": {"allow": [{"user": {"equals": "probe"}}, {"client_host": {"glob": "10.9.*"}}]}
        },
    }
    rules = parse_rules_document(document, "r.yaml").apply(builtin_rules())
    events = [
        failed_login(0, user="probe"),
        failed_login(1, client_host="10.9.0.1"),
        failed_login(2, user="alice"),
    ]
    assert [f.event.user for f in _detect([_builtin("failed-login", rules)], events)] == ["alice"]


# --- user rules: conditions, thresholds, titles, keys ---


@pytest.mark.parametrize(
    ("condition", "value", "holds"),
    [
        ({"equals": "hr"}, "hr", True),
        ({"equals": "hr"}, "HR", False),
        ({"in": ["hr", "payroll"]}, "payroll", True),
        ({"in": ["hr", "payroll"]}, "crm", False),
        ({"regex": "^pay"}, "payroll", True),
        ({"regex": "roll"}, "payroll", True),  # re.search: anywhere in the value
        ({"regex": "^roll"}, "payroll", False),
        ({"glob": "pay*"}, "payroll", True),
        ({"glob": "pay*"}, "PAYROLL", False),  # fnmatchcase: case-sensitive
        ({"glob": "pay"}, "payroll", False),  # a glob matches the whole value
        ({"not": {"equals": "hr"}}, "crm", True),
        ({"not": {"in": ["hr", "crm"]}}, "crm", False),
        ({"not": {"not": {"glob": "h?"}}}, "hr", True),
    ],
)
def test_field_conditions(condition: dict[str, Any], value: str, holds: bool) -> None:
    """GIVEN a condition on database WHEN an event has that database THEN it matches iff it holds."""
    rule_file = parse_rules_document(_document(_rule(match={"database": condition})), "r.yaml")
    findings = _detect(rule_file.rules, [make_event(database=value, statement="SELECT 1")])
    assert len(findings) == (1 if holds else 0)


def test_resource_and_enum_fields_are_matchable() -> None:
    """GIVEN conditions on resource, source and action WHEN events vary THEN the text values are compared."""
    rule = _rule(
        match={
            "resource": {"equals": "prod-1"},
            "source": {"equals": "mysql_audit"},
            "action": {"equals": "QUERY"},
        }
    )
    rule_file = parse_rules_document(_document(rule), "r.yaml")
    events = [
        make_event(
            0, cluster="", server_host="prod-1", statement="SELECT 1"
        ),  # resource falls back to the host
        make_event(1, cluster="prod", statement="SELECT 1"),
        make_event(2, cluster="", server_host="prod-1", action=Action.CONNECT),
    ]
    assert [f.event.time.second for f in _detect(rule_file.rules, events)] == [0]


def test_a_missing_statement_is_empty_text() -> None:
    """GIVEN a not-regex on statement WHEN a login (no statement) arrives THEN the condition sees ''."""
    rule = _rule(match={"statement": {"not": {"regex": "."}}, "action": {"equals": "CONNECT"}})
    findings = _detect(
        parse_rules_document(_document(rule), "r.yaml").rules, [make_event(action=Action.CONNECT)]
    )
    assert len(findings) == 1


@pytest.mark.parametrize(("failed", "expected_users"), [(True, ["bad"]), (False, ["good"])])
def test_failed_selects_by_outcome(failed: bool, expected_users: list[str]) -> None:
    """GIVEN failed: true/false WHEN a failed and a successful statement arrive THEN only one kind matches."""
    rule = _rule(failed=failed)
    events = [
        make_event(0, user="good", statement="SELECT 1", status="0"),
        make_event(1, user="bad", statement="SELEC 1", status="1064"),
    ]
    findings = _detect(parse_rules_document(_document(rule), "r.yaml").rules, events)
    assert [f.event.user for f in findings] == expected_users


def test_statement_class_uses_the_classifier() -> None:
    """GIVEN statement_class [grant, revoke] WHEN statements arrive THEN only GRANT/REVOKE match."""
    rule = _rule(match={}, statement_class=["grant", "revoke"])
    del rule["match"]
    events = [
        make_event(0, statement="GRANT SELECT ON t TO u"),
        make_event(1, statement="SELECT 'grant select on t to u'"),
        make_event(2, statement="/* x */ revoke all on t from u"),
    ]
    findings = _detect(parse_rules_document(_document(rule), "r.yaml").rules, events)
    assert [f.event.time.second for f in findings] == [0, 2]


def test_threshold_counts_events_per_group_within_the_window() -> None:
    """GIVEN 3 in 1 min grouped by user WHEN events of two users interleave THEN each group counts alone."""
    rule = _rule(
        title="{count} queries by {user}",
        threshold={"count": 3, "window_minutes": 1, "group_by": ["user"]},
    )
    events = [
        make_event(0, user="a", statement="SELECT 1"),
        make_event(1, user="b", statement="SELECT 1"),
        make_event(2, user="a", statement="SELECT 1"),
        make_event(3, user="a", statement="SELECT 1"),  # a's third: matches
        make_event(4, user="b", statement="SELECT 1"),
        make_event(70, user="b", statement="SELECT 1"),  # b's first two left the window
        make_event(71, user="a", statement="SELECT 1"),  # a has 2 in (11, 71]: no match
    ]
    findings = _detect(parse_rules_document(_document(rule), "r.yaml").rules, events)
    assert [(f.title, f.context) for f in findings] == [("3 queries by a", (("count_in_window", "3"),))]


def test_threshold_with_distinct_counts_distinct_values() -> None:
    """GIVEN distinct: database WHEN the same database repeats THEN only new databases count."""
    rule = _rule(threshold={"count": 2, "window_minutes": 5, "distinct": "database"}, title="{count} dbs")
    events = [
        make_event(i, database=db, statement="SELECT 1") for i, db in enumerate(["a", "a", "a", "b", "b"])
    ]
    findings = _detect(parse_rules_document(_document(rule), "r.yaml").rules, events)
    assert [f.title for f in findings] == ["2 dbs", "2 dbs"]


def test_threshold_ignores_a_redelivered_event() -> None:
    """GIVEN count 2 WHEN the same event (same event_id) arrives twice THEN it counts once."""
    rule = _rule(threshold={"count": 2, "window_minutes": 5})
    event = make_event(0, statement="SELECT 1", event_id="e-1")
    assert _detect(parse_rules_document(_document(rule), "r.yaml").rules, [event, event]) == []


def test_allow_listed_events_do_not_count_towards_a_threshold() -> None:
    """GIVEN a threshold rule with an allow-list WHEN allow-listed events arrive THEN they are not counted."""
    rule = _rule(threshold={"count": 2, "window_minutes": 5}, allow=[{"user": {"equals": "etl"}}])
    events = [
        make_event(0, user="etl", statement="SELECT 1"),
        make_event(1, user="app", statement="SELECT 1"),
    ]
    assert _detect(parse_rules_document(_document(rule), "r.yaml").rules, events) == []


def test_title_placeholders_and_the_statement_is_redacted() -> None:
    """GIVEN a title naming fields WHEN it renders THEN fields fill in and statement passwords are masked."""
    rule = _rule(
        title="{user}@{client_host} on {resource} at {time}: {statement} ({count}) {{literal}}",
        match={"statement": {"regex": "(?i)identified"}},
    )
    event = make_event(5, statement="ALTER USER 'x'@'%' IDENTIFIED BY 'hunter2'")
    (finding,) = _detect(parse_rules_document(_document(rule), "r.yaml").rules, [event])
    assert finding.title == (
        "app@10.0.0.5 on prod at 2024-05-01T10:00:05+00:00: "
        "ALTER USER 'x'@'%' IDENTIFIED BY '***' (1) {literal}"
    )


def test_default_title_and_dedup_key() -> None:
    """GIVEN no title and no dedup_by WHEN it matches THEN the title says who/where; key cluster|user|host."""
    rule_file = parse_rules_document(_document(_rule(description="Odd {thing}")), "r.yaml")
    (finding,) = _detect(rule_file.rules, [make_event(statement="SELECT 1")])
    assert (finding.title, finding.dedup_key) == (
        "Odd {thing}: app from 10.0.0.5 on prod",
        "prod|app|10.0.0.5",
    )


def test_custom_dedup_key() -> None:
    """GIVEN dedup_by [database, action] WHEN the rule matches THEN the key joins those fields."""
    rule_file = parse_rules_document(_document(_rule(dedup_by=["database", "action"])), "r.yaml")
    (finding,) = _detect(rule_file.rules, [make_event(database="hr", statement="SELECT 1")])
    assert finding.dedup_key == "hr|QUERY"


@pytest.mark.parametrize(("include", "expected"), [(False, 0), (True, 1)])
def test_internal_users_are_skipped_unless_included(include: bool, expected: int) -> None:
    """GIVEN include_internal_users WHEN rdsadmin matches THEN the engine skips it unless included."""
    rule_file = parse_rules_document(_document(_rule(include_internal_users=include)), "r.yaml")
    findings = _detect(rule_file.rules, [make_event(user="rdsadmin", statement="SELECT 1")])
    assert len(findings) == expected


def test_user_rules_run_with_state_shared_across_batches() -> None:
    """GIVEN a threshold rule WHEN events come in two detect calls THEN the window spans both."""
    rule_file = parse_rules_document(_document(_rule(threshold={"count": 2, "window_minutes": 5})), "r.yaml")
    engine = DetectionEngine(rule_file.rules, InMemoryStateStore())
    first = list(engine.detect([make_event(0, statement="SELECT 1")]))
    second = list(engine.detect([make_event(60, statement="SELECT 1")]))
    assert (len(first), len(second)) == (0, 1)


# --- the schema itself ---


def test_schemas_are_valid_json_schema() -> None:
    """GIVEN the schema constants THEN they are valid Draft 2020-12 schemas, the specialised one too."""
    Draft202012Validator.check_schema(RULES_FILE_SCHEMA)
    Draft202012Validator.check_schema(CASE_FILE_SCHEMA)
    Draft202012Validator.check_schema(rules_file_schema(builtin_rules()))


def test_every_object_in_the_schema_rejects_unknown_keys() -> None:
    """GIVEN the specialised schema THEN every object node says additionalProperties: false."""
    open_objects: list[str] = []

    def walk(node: Any, where: str) -> None:
        """Collect object nodes that allow unknown keys."""
        if isinstance(node, dict):
            if node.get("type") == "object" and node.get("additionalProperties") is not False:
                open_objects.append(where)
            for key, child in node.items():
                walk(child, f"{where}/{key}")
        elif isinstance(node, list):
            for index, child in enumerate(node):
                walk(child, f"{where}/{index}")

    walk(rules_file_schema(builtin_rules()), "#")
    walk(CASE_FILE_SCHEMA, "#")
    assert open_objects == []


def test_matchable_fields_are_the_event_fields_plus_resource() -> None:
    """GIVEN AuditEvent THEN MATCHABLE_FIELDS is its fields but time, flags and ids, plus resource."""
    event_fields = {f.name for f in dataclasses.fields(AuditEvent)}
    unmatched = {"time", "statement_truncated", "event_id", "location", "raw"}
    assert set(MATCHABLE_FIELDS) == (event_fields - unmatched) | {"resource"}


def test_builtin_tuning_keys_follow_declared_params() -> None:
    """GIVEN the built-ins THEN each tunable section lists the common keys plus exactly the rule's params."""
    section = rules_file_schema(builtin_rules())["properties"]["builtin"]["properties"]
    assert sorted(section["password-spray"]["properties"]) == [
        "allow",
        "channels",
        "distinct_users",
        "enabled",
        "severity",
        "window_minutes",
    ]
    assert sorted(section["drop-table"]["properties"]) == ["allow", "channels", "enabled", "severity"]


def test_case_times_default_to_the_epoch_plus_position() -> None:
    """GIVEN inline test events without time WHEN parsed THEN they are one second apart from 2024-01-01."""
    rule_file = parse_rules_document(_example(), "rules.yaml")
    times = [e.time for e in rule_file.cases[3].events]
    start = datetime(2024, 1, 1, tzinfo=UTC)
    assert times == [start, start + timedelta(seconds=1), start + timedelta(seconds=2)]


def test_inline_cases_can_run_with_the_files_internal_users() -> None:
    """GIVEN internal_users [monitor] WHEN an inline case runs with those settings THEN monitor is skipped."""
    document = _document(
        _rule(
            tests=[
                {
                    "name": "monitor is internal",
                    "events": [{"user": "monitor", "statement": "SELECT 1"}],
                    "expect": 0,
                }
            ]
        )
    )
    document["settings"] = {"internal_users": ["monitor"]}
    rule_file = parse_rules_document(document, "r.yaml")
    assert rule_file.internal_users is not None
    settings = EngineSettings(internal_users=rule_file.internal_users)
    with_file_settings = run_case(rule_file.rules[0], rule_file.cases[0], settings)
    with_defaults = run_case(rule_file.rules[0], rule_file.cases[0])
    assert (with_file_settings.passed, with_defaults.passed) == (True, False)


def test_an_error_stays_on_one_line_even_for_keys_with_newlines() -> None:
    """GIVEN a misspelt key holding a newline WHEN parsed THEN the message is still one line."""
    document = _set(_example(), "rules.0.match.user", {"glob\nx": "a"})
    with pytest.raises(RulesFileError) as caught:
        parse_rules_document(document, "rules.yaml")
    assert str(caught.value) == "rules.yaml: rules[0].match.user: unknown key 'glob\\nx'"
