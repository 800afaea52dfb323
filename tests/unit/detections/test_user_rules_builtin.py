"""User rule files: tuning the built-in rules and their allow-lists."""

from __future__ import annotations

import dataclasses

import pytest

from detections.catalogue import builtin_rules
from detections.severity import Severity
from detections.user_rules import parse_rules_document
from tests.factories import failed_login, make_event
from tests.unit.detections.user_rule_documents import example_document, findings_of, rule_by_id


def test_apply_tunes_disables_and_appends() -> None:
    """GIVEN the example WHEN applied to the built-ins THEN rules are tuned, disabled and added."""
    builtins = builtin_rules()
    rules = parse_rules_document(example_document(), "rules.yaml").apply(builtins)
    ids = [r.id for r in rules]
    assert "truncate-table" not in ids
    assert ids == [r.id for r in builtins if r.id != "truncate-table"] + ["payroll-read", "mass-drops"]
    brute = rule_by_id("brute-force", rules)
    assert (brute.severity, brute.channels) == (Severity.CRITICAL, ("email", "slack"))
    assert dict(brute.params) == {"threshold": 10, "window_minutes": 10}
    assert rule_by_id("failed-login", rules) is rule_by_id("failed-login", builtins)


def test_tuned_threshold_changes_when_brute_force_fires() -> None:
    """GIVEN brute-force tuned to 10 in 10 min WHEN 10 failures arrive THEN only the 10th matches."""
    rules = parse_rules_document(example_document(), "rules.yaml").apply(builtin_rules())
    brute = rule_by_id("brute-force", rules)
    findings = findings_of([brute], [failed_login(i * 50) for i in range(10)])
    assert [f.title for f in findings] == [
        "Brute force: 10 failed logins for app from 10.0.0.5 on prod in 7 min 30 s"
    ]
    assert findings[0].severity is Severity.CRITICAL


def test_tuning_only_severity_keeps_params_and_channels() -> None:
    """GIVEN only a severity for failed-login WHEN applied THEN the rest of the rule is unchanged."""
    document = {"version": 1, "builtin": {"failed-login": {"severity": "low"}}}
    (tuned,) = [
        r for r in parse_rules_document(document, "r.yaml").apply(builtin_rules()) if r.id == "failed-login"
    ]
    original = rule_by_id("failed-login", builtin_rules())
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
    rules = parse_rules_document(example_document(), "rules.yaml").apply(builtin_rules())
    event = make_event(user=user, database=database, statement="DROP TABLE t")
    findings = findings_of([rule_by_id("drop-table", rules)], [event])
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
    assert [f.event.user for f in findings_of([rule_by_id("failed-login", rules)], events)] == ["alice"]
