"""User rule files: a valid file, loading from disk, inline cases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from detections.catalogue import builtin_rules
from detections.engine import EngineSettings
from detections.rule_cases import run_case
from detections.severity import Severity
from detections.user_rules import RuleFile, RulesFileError, load_rules_file, parse_rules_document
from tests.unit.detections.user_rule_documents import EXAMPLE, example_document, minimal_rule, rules_document

# --- a valid file ---


def test_valid_file_builds_rules_tuning_settings_and_cases() -> None:
    """GIVEN the documented example WHEN parsed THEN every section is turned into values."""
    rule_file = parse_rules_document(example_document(), "rules.yaml")
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
    rule_file = parse_rules_document(example_document(), "rules.yaml")
    rules = {r.id: r for r in rule_file.rules}
    results = [run_case(rules[case.rule_id], case) for case in rule_file.cases]
    assert [(r.case.name, r.passed, r.message) for r in results] == [
        (c.name, True, "") for c in rule_file.cases
    ]


def test_a_failing_inline_case_is_reported() -> None:
    """GIVEN an inline test that expects the wrong thing WHEN it runs THEN it fails with the reason."""
    document = rules_document(
        minimal_rule(tests=[{"name": "wrong", "events": [{"action": "QUERY", "user": "a"}], "expect": 0}])
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


def test_case_times_default_to_the_epoch_plus_position() -> None:
    """GIVEN inline test events without time WHEN parsed THEN they are one second apart from 2024-01-01."""
    rule_file = parse_rules_document(example_document(), "rules.yaml")
    times = [e.time for e in rule_file.cases[3].events]
    start = datetime(2024, 1, 1, tzinfo=UTC)
    assert times == [start, start + timedelta(seconds=1), start + timedelta(seconds=2)]


def test_inline_cases_can_run_with_the_files_internal_users() -> None:
    """GIVEN internal_users [monitor] WHEN an inline case runs with those settings THEN monitor is skipped."""
    document = rules_document(
        minimal_rule(
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
