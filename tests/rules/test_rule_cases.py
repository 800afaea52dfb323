"""Every built-in rule case (tests/rules/cases/*.yaml) passes, plus the mechanics of the case runner."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from detections.catalogue import builtin_rules
from detections.rule_cases import (
    CaseEventError,
    RuleCase,
    event_from_case,
    load_case_file,
    run_case,
)
from detections.user_rule_validation import RulesFileError
from parsers.event import Action, AuditEvent, Source

CASES_DIR = Path(__file__).parent / "cases"
RULES = {rule.id: rule for rule in builtin_rules()}


def _all_cases() -> list[Any]:
    """Every case of every case file, xfail-marked (strictly) where the case says why it fails today."""
    params = []
    for path in sorted(CASES_DIR.glob("*.yaml")):
        for case in load_case_file(path):
            marks = [pytest.mark.xfail(reason=case.xfail_reason, strict=True)] if case.xfail_reason else []
            params.append(pytest.param(case, id=f"{case.rule_id}: {case.name}", marks=marks))
    return params


@pytest.mark.parametrize("case", _all_cases())
def test_rule_case(case: RuleCase) -> None:
    """GIVEN a case's events WHEN its rule runs alone over them THEN findings, titles and keys are right."""
    result = run_case(RULES[case.rule_id], case)
    assert result.passed, result.message
    assert result.findings == case.expect


def test_event_from_case_fills_defaults_and_converts_values() -> None:
    """GIVEN a few case fields WHEN an event is built THEN defaults fill the rest and numbers become text."""
    event = event_from_case({"user": "app", "session_id": 42, "statement": "SELECT 1"}, position=3)
    assert event == AuditEvent(
        source=Source.MYSQL_AUDIT,
        time=datetime(2024, 1, 1, 0, 0, 3, tzinfo=UTC),
        action=Action.QUERY,
        user="app",
        session_id="42",
        statement="SELECT 1",
    )


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("2024-03-01T10:00:05Z", datetime(2024, 3, 1, 10, 0, 5, tzinfo=UTC)),
        ("2024-03-01T12:00:05+02:00", datetime(2024, 3, 1, 10, 0, 5, tzinfo=UTC)),
        ("2024-03-01 10:00:05", datetime(2024, 3, 1, 10, 0, 5, tzinfo=UTC)),  # naive: taken as UTC
        (datetime(2024, 3, 1, 10, 0, 5), datetime(2024, 3, 1, 10, 0, 5, tzinfo=UTC)),  # a YAML timestamp
    ],
)
def test_event_from_case_reads_times_as_utc(given: object, expected: datetime) -> None:
    """GIVEN a time in a case WHEN the event is built THEN it is that instant in UTC."""
    assert event_from_case({"time": given}).time == expected


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"usr": "app"}, "usr: unknown event field 'usr'"),
        (
            {"action": "LOGIN"},
            "action: unknown action 'LOGIN' (one of CONNECT, FAILED_CONNECT, DISCONNECT, "
            "CHANGEUSER, PROXY_CONNECT, QUERY, QUERY_DDL, QUERY_DCL, QUERY_DML, TABLE)",
        ),
        ({"time": "yesterday"}, "time: not an ISO 8601 time: 'yesterday'"),
        ({"user": True}, "user: must be a string or an integer"),
        ({"statement_truncated": "yes"}, "statement_truncated: must be true or false"),
    ],
)
def test_event_from_case_names_the_bad_field(fields: dict[str, object], message: str) -> None:
    """GIVEN a case event with a bad field WHEN it is built THEN the error names the field."""
    with pytest.raises(CaseEventError) as caught:
        event_from_case(fields)
    assert str(caught.value) == message
    assert isinstance(caught.value, ValueError)


def test_run_case_reports_what_differs() -> None:
    """GIVEN a case whose expectations are wrong WHEN it runs THEN the result says what was found instead."""
    case = RuleCase(
        rule_id="failed-login",
        name="wrong expectations",
        events=(
            event_from_case({"action": "FAILED_CONNECT", "user": "a", "client_host": "h", "cluster": "c"}),
        ),
        expect=1,
        expect_titles=("Failed login for b from h on c",),
        expect_dedup_keys=("c|b|h",),
    )
    result = run_case(RULES["failed-login"], case)
    assert (result.findings, result.passed) == (1, False)
    assert result.message == (
        "titles ['Failed login for a from h on c'] != expected ['Failed login for b from h on c']; "
        "dedup keys ['c|a|h'] != expected ['c|b|h']"
    )


def test_run_case_counts_a_rule_that_raises_as_a_failure() -> None:
    """GIVEN a rule that raises WHEN a negative case runs THEN it fails instead of passing silently."""

    def explode(observation: object, context: object) -> None:
        """A broken rule."""
        raise RuntimeError("boom")

    # needs=None: a new evaluate makes no promise about what it reads, so it is called on every event
    broken = dataclasses.replace(RULES["failed-login"], evaluate=explode, needs=None)
    case = RuleCase(rule_id="failed-login", name="broken", events=(event_from_case({}),), expect=0)
    result = run_case(broken, case)
    assert (result.findings, result.passed, result.message) == (0, False, "the rule raised 1 time(s)")


def test_load_case_file_rejects_unknown_keys_with_their_path(tmp_path: Path) -> None:
    """GIVEN a case file with a misspelt key WHEN it is loaded THEN the one-line error names file and path."""
    path = tmp_path / "drop-table.yaml"
    path.write_text(
        "- {rule: drop-table, name: ok, events: [{statement: 'DROP TABLE t'}], expect: 1}\n"
        "- {rule: drop-table, name: bad, events: [{statement: x}, {usr: app}], expect: 0}\n",
        encoding="utf-8",
    )
    with pytest.raises(RulesFileError) as caught:
        load_case_file(path)
    assert str(caught.value) == f"{path}: [1].events[1]: unknown key 'usr'"


def test_load_case_file_reads_xfail_reason(tmp_path: Path) -> None:
    """GIVEN a case marked xfail_reason WHEN it is loaded THEN the reason is kept on the case."""
    path = tmp_path / "cases.yaml"
    path.write_text(
        "- rule: drop-table\n  name: known gap\n  events: [{statement: 'DROP TABLE t'}]\n  expect: 1\n"
        "  xfail_reason: classifier misses it\n",
        encoding="utf-8",
    )
    (case,) = load_case_file(path)
    assert (case.name, case.expect, case.xfail_reason, len(case.events)) == (
        "known gap",
        1,
        "classifier misses it",
        1,
    )


def test_load_case_file_reports_invalid_yaml_on_one_line(tmp_path: Path) -> None:
    """GIVEN a file that is not YAML WHEN it is loaded THEN the error is one line naming the file."""
    path = tmp_path / "broken.yaml"
    path.write_text("- rule: [unclosed\n", encoding="utf-8")
    with pytest.raises(RulesFileError) as caught:
        load_case_file(path)
    assert str(caught.value).startswith(f"{path}: not valid YAML: ")
    assert "\n" not in str(caught.value)
