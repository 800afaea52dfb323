"""The documented example rules file and small builders the user-rule tests share."""

from __future__ import annotations

from typing import Any

import yaml

from detections.engine import DetectionEngine
from detections.finding import Finding
from detections.rule import Rule
from detections.state import InMemoryStateStore
from parsers.event import AuditEvent

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


def example_document() -> dict[str, Any]:
    """The example rules document, freshly loaded (tests mutate their copy)."""
    document = yaml.safe_load(EXAMPLE)
    assert isinstance(document, dict)
    return document


def minimal_rule(**overrides: Any) -> dict[str, Any]:
    """A minimal valid user rule mapping."""
    return {
        "id": "app-writes",
        "description": "App wrote",
        "severity": "low",
        "channels": ["slack"],
        "match": {"action": {"equals": "QUERY"}},
        **overrides,
    }


def rules_document(*rules: dict[str, Any]) -> dict[str, Any]:
    """A rules document holding the given user rules."""
    return {"version": 1, "rules": list(rules)}


def findings_of(rules: tuple[Rule, ...] | list[Rule], events: list[AuditEvent]) -> list[Finding]:
    """Findings of the rules over the events, with fresh in-memory state."""
    return list(DetectionEngine(rules, InMemoryStateStore()).detect(events))


def rule_by_id(rule_id: str, rules: tuple[Rule, ...]) -> Rule:
    """The rule with that id."""
    return next(r for r in rules if r.id == rule_id)
