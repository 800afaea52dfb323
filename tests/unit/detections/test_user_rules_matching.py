"""User rules: conditions, thresholds, titles, dedup keys and internal users."""

from __future__ import annotations

from typing import Any

import pytest

from detections.engine import DetectionEngine
from detections.state import InMemoryStateStore
from detections.user_rules import parse_rules_document
from parsers.event import Action
from tests.factories import make_event
from tests.unit.detections.user_rule_documents import findings_of, minimal_rule, rules_document


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
    rule_file = parse_rules_document(rules_document(minimal_rule(match={"database": condition})), "r.yaml")
    findings = findings_of(rule_file.rules, [make_event(database=value, statement="SELECT 1")])
    assert len(findings) == (1 if holds else 0)


def test_resource_and_enum_fields_are_matchable() -> None:
    """GIVEN conditions on resource, source and action WHEN events vary THEN the text values are compared."""
    rule = minimal_rule(
        match={
            "resource": {"equals": "prod-1"},
            "source": {"equals": "mysql_audit"},
            "action": {"equals": "QUERY"},
        }
    )
    rule_file = parse_rules_document(rules_document(rule), "r.yaml")
    events = [
        make_event(
            0, cluster="", server_host="prod-1", statement="SELECT 1"
        ),  # resource falls back to the host
        make_event(1, cluster="prod", statement="SELECT 1"),
        make_event(2, cluster="", server_host="prod-1", action=Action.CONNECT),
    ]
    assert [f.event.time.second for f in findings_of(rule_file.rules, events)] == [0]


def test_a_missing_statement_is_empty_text() -> None:
    """GIVEN a not-regex on statement WHEN a login (no statement) arrives THEN the condition sees ''."""
    rule = minimal_rule(match={"statement": {"not": {"regex": "."}}, "action": {"equals": "CONNECT"}})
    findings = findings_of(
        parse_rules_document(rules_document(rule), "r.yaml").rules, [make_event(action=Action.CONNECT)]
    )
    assert len(findings) == 1


@pytest.mark.parametrize(("failed", "expected_users"), [(True, ["bad"]), (False, ["good"])])
def test_failed_selects_by_outcome(failed: bool, expected_users: list[str]) -> None:
    """GIVEN failed: true/false WHEN a failed and a successful statement arrive THEN only one kind matches."""
    rule = minimal_rule(failed=failed)
    events = [
        make_event(0, user="good", statement="SELECT 1", status="0"),
        make_event(1, user="bad", statement="SELEC 1", status="1064"),
    ]
    findings = findings_of(parse_rules_document(rules_document(rule), "r.yaml").rules, events)
    assert [f.event.user for f in findings] == expected_users


def test_statement_class_uses_the_classifier() -> None:
    """GIVEN statement_class [grant, revoke] WHEN statements arrive THEN only GRANT/REVOKE match."""
    rule = minimal_rule(match={}, statement_class=["grant", "revoke"])
    del rule["match"]
    events = [
        make_event(0, statement="GRANT SELECT ON t TO u"),
        make_event(1, statement="SELECT 'grant select on t to u'"),
        make_event(2, statement="/* x */ revoke all on t from u"),
    ]
    findings = findings_of(parse_rules_document(rules_document(rule), "r.yaml").rules, events)
    assert [f.event.time.second for f in findings] == [0, 2]


def test_threshold_counts_events_per_group_within_the_window() -> None:
    """GIVEN 3 in 1 min grouped by user WHEN events of two users interleave THEN each group counts alone."""
    rule = minimal_rule(
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
    findings = findings_of(parse_rules_document(rules_document(rule), "r.yaml").rules, events)
    assert [(f.title, f.context) for f in findings] == [("3 queries by a", (("count_in_window", "3"),))]


def test_threshold_with_distinct_counts_distinct_values() -> None:
    """GIVEN distinct: database WHEN the same database repeats THEN only new databases count."""
    rule = minimal_rule(
        threshold={"count": 2, "window_minutes": 5, "distinct": "database"}, title="{count} dbs"
    )
    events = [
        make_event(i, database=db, statement="SELECT 1") for i, db in enumerate(["a", "a", "a", "b", "b"])
    ]
    findings = findings_of(parse_rules_document(rules_document(rule), "r.yaml").rules, events)
    assert [f.title for f in findings] == ["2 dbs", "2 dbs"]


def test_threshold_ignores_a_redelivered_event() -> None:
    """GIVEN count 2 WHEN the same event (same event_id) arrives twice THEN it counts once."""
    rule = minimal_rule(threshold={"count": 2, "window_minutes": 5})
    event = make_event(0, statement="SELECT 1", event_id="e-1")
    assert findings_of(parse_rules_document(rules_document(rule), "r.yaml").rules, [event, event]) == []


def test_allow_listed_events_do_not_count_towards_a_threshold() -> None:
    """GIVEN a threshold rule with an allow-list WHEN allow-listed events arrive THEN they are not counted."""
    rule = minimal_rule(threshold={"count": 2, "window_minutes": 5}, allow=[{"user": {"equals": "etl"}}])
    events = [
        make_event(0, user="etl", statement="SELECT 1"),
        make_event(1, user="app", statement="SELECT 1"),
    ]
    assert findings_of(parse_rules_document(rules_document(rule), "r.yaml").rules, events) == []


def test_title_placeholders_and_the_statement_is_redacted() -> None:
    """GIVEN a title naming fields WHEN it renders THEN fields fill in and statement passwords are masked."""
    rule = minimal_rule(
        title="{user}@{client_host} on {resource} at {time}: {statement} ({count}) {{literal}}",
        match={"statement": {"regex": "(?i)identified"}},
    )
    event = make_event(5, statement="ALTER USER 'x'@'%' IDENTIFIED BY 'hunter2'")
    (finding,) = findings_of(parse_rules_document(rules_document(rule), "r.yaml").rules, [event])
    assert finding.title == (
        "app@10.0.0.5 on prod at 2024-05-01T10:00:05+00:00: "
        "ALTER USER 'x'@'%' IDENTIFIED BY '***' (1) {literal}"
    )


def test_default_title_and_dedup_key() -> None:
    """GIVEN no title and no dedup_by WHEN it matches THEN the title says who/where; key cluster|user|host."""
    rule_file = parse_rules_document(rules_document(minimal_rule(description="Odd {thing}")), "r.yaml")
    (finding,) = findings_of(rule_file.rules, [make_event(statement="SELECT 1")])
    assert (finding.title, finding.dedup_key) == (
        "Odd {thing}: app from 10.0.0.5 on prod",
        "prod|app|10.0.0.5",
    )


def test_custom_dedup_key() -> None:
    """GIVEN dedup_by [database, action] WHEN the rule matches THEN the key joins those fields."""
    rule_file = parse_rules_document(rules_document(minimal_rule(dedup_by=["database", "action"])), "r.yaml")
    (finding,) = findings_of(rule_file.rules, [make_event(database="hr", statement="SELECT 1")])
    assert finding.dedup_key == "hr|QUERY"


@pytest.mark.parametrize(("include", "expected"), [(False, 0), (True, 1)])
def test_internal_users_are_skipped_unless_included(include: bool, expected: int) -> None:
    """GIVEN include_internal_users WHEN rdsadmin matches THEN the engine skips it unless included."""
    rule_file = parse_rules_document(rules_document(minimal_rule(include_internal_users=include)), "r.yaml")
    findings = findings_of(rule_file.rules, [make_event(user="rdsadmin", statement="SELECT 1")])
    assert len(findings) == expected


def test_user_rules_run_with_state_shared_across_batches() -> None:
    """GIVEN a threshold rule WHEN events come in two detect calls THEN the window spans both."""
    rule_file = parse_rules_document(
        rules_document(minimal_rule(threshold={"count": 2, "window_minutes": 5})), "r.yaml"
    )
    engine = DetectionEngine(rule_file.rules, InMemoryStateStore())
    first = list(engine.detect([make_event(0, statement="SELECT 1")]))
    second = list(engine.detect([make_event(60, statement="SELECT 1")]))
    assert (len(first), len(second)) == (0, 1)
