"""Audit tampering, grant edge cases and the `--` trap on real MariaDB and PostgreSQL: findings, no secret."""

from __future__ import annotations

import io
import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import pytest

from handlers.cli import main

from .conftest import _installed
from .mariadb_server import MariaDbServer, find_mariadb
from .postgres_server import PostgresServer, find_postgres
from .scenario import Scenario, detection_mismatches, run_scenario
from .tampering_scenario import DATABASE, MARIADB_TAMPERING, POSTGRES_TAMPERING, SECRETS

pytestmark = pytest.mark.integration

Records = list[dict[str, object]]


@dataclass(frozen=True, slots=True)
class Played:
    """The log a server wrote while a scenario ran, and what a probe query answered afterwards."""

    log: Path
    probe: str


@pytest.fixture(scope="module")
def mariadb_tampering(tmp_path_factory: pytest.TempPathFactory) -> Played:
    """MariaDB after the tampering scenario; the probe counts t_trap tables left (the `--` trap drops it)."""
    install = _installed(find_mariadb)
    with MariaDbServer(tmp_path_factory.mktemp("mariadb-tampering"), install) as server:
        run_scenario(server, MARIADB_TAMPERING)
        probe = server.run_statements(
            (
                "SELECT COUNT(*) FROM information_schema.tables "
                f"WHERE table_schema = '{DATABASE}' AND table_name = 't_trap'",
            ),
            None,
        )
    return Played(server.audit_log_path, probe.stdout.strip())


@pytest.fixture(scope="module")
def postgres_tampering(tmp_path_factory: pytest.TempPathFactory) -> Played:
    """PostgreSQL after the tampering scenario; the probe counts pgaudit extensions (the trap: a comment)."""
    install = _installed(find_postgres)
    with PostgresServer(tmp_path_factory.mktemp("postgres-tampering"), install) as server:
        run_scenario(server, POSTGRES_TAMPERING)
        probe = server.run_statements(
            ("SELECT count(*) FROM pg_extension WHERE extname = 'pgaudit'",), None, database=DATABASE
        )
    return Played(server.log_path, probe.stdout.strip())


PLAYED = [("mariadb_tampering", MARIADB_TAMPERING), ("postgres_tampering", POSTGRES_TAMPERING)]


def _replay(log: Path, *flags: str) -> Records:
    """`audit-alerts replay --json <flags> <log>` as JSON records."""
    out, err = io.StringIO(), io.StringIO()
    assert main(["replay", "--json", *flags, str(log)], out=out, err=err) == 0, err.getvalue()
    return [json.loads(line) for line in out.getvalue().splitlines()]


def _what(rule: str, name: str) -> str:
    """A finding's object as the scenario spells it: settings whole, accounts without host, tables bare."""
    if rule == "audit-disabled":
        return name
    return name.split("@", 1)[0].rsplit(".", 1)[-1]


def _detections(records: Records) -> dict[str, frozenset[tuple[str, str]]]:
    """rule → {(user, what)} of statement findings."""
    found: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for record in records:
        objects = record["objects"]
        assert isinstance(objects, list)
        rule = str(record["rule"])
        found[rule].update((str(record["user"]), _what(rule, str(name))) for name in objects)
    return {rule: frozenset(pairs) for rule, pairs in found.items()}


def _subject(record: dict[str, object]) -> str:
    """A title without its trailing ' by <user> on <server>'."""
    return str(record["title"]).rsplit(" by ", 1)[0]


@pytest.mark.parametrize(("fixture", "scenario"), PLAYED)
def test_replay_finds_exactly_the_tampering_grants_and_trap(
    fixture: str, scenario: Scenario, request: pytest.FixtureRequest
) -> None:
    # GIVEN the log a real server wrote while the tampering scenario ran
    played: Played = request.getfixturevalue(fixture)
    # WHEN replaying it for every finding
    records = _replay(played.log, "--findings")
    # THEN every expected finding is there, and no decoy or narrow grant fired
    assert detection_mismatches(scenario, _detections(records)) == []


@pytest.mark.parametrize(
    ("fixture", "subjects"),
    [
        (
            "mariadb_tampering",
            {
                "server_audit_logging set OFF",
                "server_audit_excl_users set to 'dba'",
                "serve… changed (the log cut the statement short)",
                "Attempted UNINSTALL PLUGIN server_audit (failed: 1142)",
                "Attempted server_audit_logging set OFF (failed: 1227)",
            },
        ),
        (
            "postgres_tampering",
            {
                "pgaudit.log set to 'none' server-wide (ALTER SYSTEM)",
                "pgaudit.log set to 'none' for role mallory",
                "Attempted DROP EXTENSION pgaudit (failed: 42501)",
                "Attempted pgaudit.log set to 'none' for the session (failed: 42501)",
            },
        ),
    ],
)
def test_audit_disabled_titles_say_what_was_weakened(
    fixture: str, subjects: set[str], request: pytest.FixtureRequest
) -> None:
    # GIVEN the tampering log
    played: Played = request.getfixturevalue(fixture)
    # WHEN replaying it
    records = [r for r in _replay(played.log, "--findings") if r["rule"] == "audit-disabled"]
    # THEN each title names the setting and what happened to it; refused statements are attempts
    assert {_subject(r) for r in records} == subjects
    assert all(r["attempt_failed"] is str(r["title"]).startswith("Attempted") for r in records)
    assert all(r["severity"] == "critical" for r in records)


@pytest.mark.parametrize(
    ("fixture", "subjects"),
    [
        (
            "mariadb_tampering",
            {
                ("user-created", "User created or password set by GRANT: reporter@%"),
                ("privilege-grant", "Privilege grant (PROCESS, FILE on *.*) to reporter@%"),
                ("privilege-grant", "Privilege grant (ALL PRIVILEGES on *.*, WITH GRANT OPTION) to dba@%"),
            },
        ),
        (
            "postgres_tampering",
            {
                ("privilege-grant", "Privilege grant (pg_read_server_files) to reader"),
                ("privilege-grant", "Privilege grant (CREATEROLE) to reader"),
            },
        ),
    ],
)
def test_grant_titles_name_what_was_granted(
    fixture: str, subjects: set[tuple[str, str]], request: pytest.FixtureRequest
) -> None:
    # GIVEN the tampering log with its grants
    played: Played = request.getfixturevalue(fixture)
    # WHEN replaying it
    records = _replay(played.log, "--findings")
    # THEN the grants and GRANT … IDENTIFIED BY are titled with what they gave
    found = {
        (str(r["rule"]), _subject(r)) for r in records if r["rule"] in ("privilege-grant", "user-created")
    }
    assert subjects <= found


def test_mariadb_runs_the_drop_after_a_glued_double_dash(mariadb_tampering: Played) -> None:
    # GIVEN `SELECT 1--1; DROP TABLE t_trap` sent to MariaDB as one query
    log_text = mariadb_tampering.log.read_text(encoding="utf-8")
    # THEN the server dropped the table (`--1` is no comment in MySQL) and logged one record per statement
    assert mariadb_tampering.probe == "0"
    assert ",'SELECT 1--1',0" in log_text
    assert ",'DROP TABLE t_trap',0" in log_text


def test_postgres_reads_the_same_double_dash_as_a_comment(postgres_tampering: Played) -> None:
    # GIVEN `SELECT 1--1; DROP EXTENSION pgaudit` sent to PostgreSQL as one query (logged by log_statement)
    log_text = postgres_tampering.log.read_text(encoding="utf-8")
    # THEN the extension is still there: everything after `--` was a comment
    assert postgres_tampering.probe == "1"
    assert "statement: SELECT 1--1; DROP EXTENSION pgaudit" in log_text


def test_what_mariadb_leaves_out_of_its_audit_log(mariadb_tampering: Played) -> None:
    # GIVEN the MariaDB tampering log
    log_text = mariadb_tampering.log.read_text(encoding="utf-8")
    # THEN what ran while logging was off, or by an excluded user, is absent (the alert is the only trace),
    # the narrowing of server_audit_events is not logged at all, and a low query_log_limit cuts its own SET
    assert "DROP TABLE t_hidden" not in log_text
    assert "DROP TABLE t_excluded" not in log_text
    assert "server_audit_events=\\'CONNECT\\''," not in log_text
    assert log_text.count(",'SET GLOBAL serve',0") == 1
    assert ",'SET GLOBAL server_audit_query_log_limit=1024',0" in log_text
    assert ",'SET GLOBAL server_audit_logging=OFF',0" in log_text


@pytest.mark.parametrize("fixture", ["mariadb_tampering", "postgres_tampering"])
def test_no_output_contains_a_password(fixture: str, request: pytest.FixtureRequest) -> None:
    # GIVEN a tampering log (GRANT … IDENTIFIED BY, CREATE ROLE … PASSWORD under log_statement)
    played: Played = request.getfixturevalue(fixture)
    # WHEN replaying it as findings, as alerts, and as the table
    outputs = [json.dumps(_replay(played.log, "--findings")), json.dumps(_replay(played.log))]
    table = io.StringIO()
    assert main(["replay", str(played.log)], out=table, err=io.StringIO()) == 0
    outputs.append(table.getvalue())
    # THEN no password appears anywhere
    assert [secret for secret in SECRETS for text in outputs if secret in text] == []
