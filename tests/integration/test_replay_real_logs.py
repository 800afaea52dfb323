"""Replay over logs real MariaDB and PostgreSQL servers wrote: exactly the expected findings, no secret."""

from __future__ import annotations

import io
import json
from collections import defaultdict
from pathlib import Path

import pytest

from handlers.cli import main

from .scenario import MARIADB_SCENARIO, POSTGRES_SCENARIO, SECRETS, Scenario, detection_mismatches

pytestmark = pytest.mark.integration

LOGIN_RULES = ("failed-login", "brute-force", "login-after-failures")


def _replay(log: Path, *flags: str) -> list[dict[str, object]]:
    """Run `audit-alerts replay --json <flags> <log>` and return the JSON records."""
    out, err = io.StringIO(), io.StringIO()
    assert main(["replay", "--json", *flags, str(log)], out=out, err=err) == 0, err.getvalue()
    return [json.loads(line) for line in out.getvalue().splitlines()]


def _bare(name: str) -> str:
    """An object name without database/schema qualifier, account host or quotes: the scenario's 'what'."""
    name = name.split("@", 1)[0].strip("'\"`")
    return name.rsplit(".", 1)[-1].strip("'\"`")


def _detections(records: list[dict[str, object]]) -> dict[str, frozenset[tuple[str, str]]]:
    """Findings as the scenario tables spell them: rule → {(user, what)}."""
    found: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for record in records:
        rule = str(record["rule"])
        if rule in LOGIN_RULES:
            found[rule].add((str(record["user"]), str(record["client_host"])))
        elif rule == "password-spray":
            found[rule].add(("", str(record["client_host"])))
        else:
            objects = record["objects"]
            assert isinstance(objects, list)
            found[rule].update((str(record["user"]), _bare(str(o))) for o in objects)
    return {rule: frozenset(pairs) for rule, pairs in found.items()}


@pytest.mark.parametrize(
    ("fixture", "scenario"), [("mariadb_audit_log", MARIADB_SCENARIO), ("postgres_log", POSTGRES_SCENARIO)]
)
def test_replay_reports_exactly_the_scenario(
    fixture: str, scenario: Scenario, request: pytest.FixtureRequest
) -> None:
    # GIVEN the audit log a real server wrote while the scenario ran
    log: Path = request.getfixturevalue(fixture)
    # WHEN replaying it for every finding
    records = _replay(log, "--findings")
    # THEN every expected detection is there and nothing else from these rules
    assert detection_mismatches(scenario, _detections(records)) == []


@pytest.mark.parametrize("fixture", ["mariadb_audit_log", "postgres_log"])
def test_no_output_contains_a_password(fixture: str, request: pytest.FixtureRequest) -> None:
    # GIVEN a real log (PostgreSQL's contains two of the passwords in clear text)
    log: Path = request.getfixturevalue(fixture)
    # WHEN replaying it as findings, as alerts, and as the table
    outputs = [json.dumps(_replay(log, "--findings")), json.dumps(_replay(log))]
    table = io.StringIO()
    assert main(["replay", str(log)], out=table, err=io.StringIO()) == 0
    outputs.append(table.getvalue())
    # THEN no password appears anywhere
    leaked = [secret for secret in SECRETS for text in outputs if secret in text]
    assert leaked == []


@pytest.mark.parametrize("fixture", ["mariadb_audit_log", "postgres_log"])
def test_the_brute_force_burst_collapses_into_one_alert_per_rule(
    fixture: str, request: pytest.FixtureRequest
) -> None:
    # GIVEN the scenario's burst of wrong passwords for `victim`, then a good one
    log: Path = request.getfixturevalue(fixture)
    # WHEN replaying with noise control
    alerts = [r for r in _replay(log) if r["user"] == "victim" and r["rule"] in LOGIN_RULES]
    # THEN one alert per login rule, the failed-login one counting every failure
    by_rule = {str(a["rule"]): a for a in alerts}
    assert sorted(by_rule) == sorted(LOGIN_RULES)
    assert len(alerts) == 3
    assert by_rule["failed-login"]["count"] == 22


@pytest.mark.parametrize("fixture", ["mariadb_audit_log", "postgres_log"])
def test_failed_statements_are_reported_as_attempts(fixture: str, request: pytest.FixtureRequest) -> None:
    # GIVEN the scenario's DROP TABLE of a table that does not exist
    log: Path = request.getfixturevalue(fixture)
    # WHEN replaying for findings
    records = _replay(log, "--findings")
    # THEN it is reported, marked as a failed attempt
    attempts = [
        r for r in records if r["rule"] == "drop-table" and "t_does_not_exist" in map(_bare, r["objects"])
    ]  # type: ignore[arg-type]
    assert [(r["attempt_failed"], str(r["title"]).startswith("Attempted")) for r in attempts] == [
        (True, True)
    ]


def test_a_replay_has_no_parse_failures(mariadb_audit_log: Path, postgres_log: Path) -> None:
    # GIVEN both real logs
    # WHEN replaying them together
    err = io.StringIO()
    assert (
        main(["replay", "--json", str(mariadb_audit_log), str(postgres_log)], out=io.StringIO(), err=err) == 0
    )
    # THEN every record parsed
    assert "parse failures: 0" in err.getvalue()
