"""Real servers: a drop that succeeds and the same drop failing stay two findings; one statement, one finding.

The sequence of issue 7, by one user within a minute: `drop database if exists scratchdb`,
`DROP SCHEMA scratch2`, `DROP DATABASE shop` (succeeds), `DROP DATABASE shop` again (fails), then the
multi-statement query string `CREATE TABLE ms_t (id int); INSERT INTO ms_t VALUES (1); DROP TABLE ms_t`
and `DROP TABLE ms_a; DROP TABLE ms_missing` (the second drop fails).
On MariaDB server_audit (CONNECT,QUERY,TABLE) and on PostgreSQL 15 + pgaudit, once with pgaudit alone
and once with log_statement='all' as well (which also logs passwords in clear where pgaudit redacts).
"""

from __future__ import annotations

import io
import json
from collections import Counter
from pathlib import Path

import pytest

from handlers.cli import main

from .conftest import _installed as installed
from .mariadb_server import MariaDbServer, find_mariadb
from .postgres_server import PostgresServer, find_postgres
from .scenario import ScenarioError, SqlServer

pytestmark = pytest.mark.integration

MULTI_STATEMENT = "CREATE TABLE ms_t (id int); INSERT INTO ms_t VALUES (1); DROP TABLE ms_t"
# A string whose first drop succeeds and whose second fails: one drop and one attempt.
HALF_FAILING = ("CREATE TABLE ms_a (id int)", "DROP TABLE ms_a; DROP TABLE ms_missing")
DROPS = (
    "drop database if exists scratchdb",
    "DROP SCHEMA scratch2",
    "DROP DATABASE shop",
    "DROP DATABASE shop",
)
PASSWORD = "S3cr3t-dropper!"  # a throwaway test server's password
NEWBIE_PASSWORDS = ("S3cr3t-newbie!", "S3cr3t-newbie-2!")
PG_PLAIN, PG_LOGGED = "dropper_a", "dropper_b"  # pgaudit alone / pgaudit + log_statement='all'


def _run(
    server: SqlServer, statements: list[str], user: str | None, errors: int = 0, database: str = ""
) -> None:
    """Run statements in one connection; fail unless exactly `errors` of them were rejected."""
    result = server.run_statements(statements, user, PASSWORD if user else "", database)
    if result.auth_failed or result.statement_errors != errors:
        raise ScenarioError(f"{user}: expected {errors} failing statements, got {result}")


@pytest.fixture(scope="module")
def mariadb_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """server_audit.log of a MariaDB server on which `dropper` ran the drop-twice sequence."""
    install = installed(find_mariadb)
    with MariaDbServer(tmp_path_factory.mktemp("mariadb-drop-twice"), install) as server:
        setup = [f"CREATE DATABASE {name}" for name in ("scratchdb", "scratch2", "shop", "msdb")]
        setup += [f"CREATE USER dropper IDENTIFIED BY '{PASSWORD}'", "GRANT ALL ON *.* TO dropper"]
        _run(server, setup, None)
        _run(server, [*DROPS, MULTI_STATEMENT, *HALF_FAILING], "dropper", errors=2, database="msdb")
        _run(server, ["SELECT 1 FROM ms_a"], "dropper", errors=1, database="msdb")  # ms_a was dropped
    return server.audit_log_path


@pytest.fixture(scope="module")
def postgres_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """postgresql.log of a PostgreSQL server on which two users ran the sequence, one under log_statement."""
    install = installed(find_postgres)
    with PostgresServer(tmp_path_factory.mktemp("postgres-drop-twice"), install) as server:
        for user in (PG_PLAIN, PG_LOGGED):
            _run(server, [f"CREATE ROLE {user} LOGIN CREATEDB CREATEROLE PASSWORD '{PASSWORD}'"], None)
        _run(server, [f"ALTER ROLE {PG_LOGGED} SET log_statement = 'all'"], None)
        for user in (PG_PLAIN, PG_LOGGED):
            # each user works in its own database (PostgreSQL 15: its owner owns its public schema)
            work = f"work_{user}"
            _run(
                server, [f"CREATE DATABASE {name} OWNER {user}" for name in ("scratchdb", "shop", work)], None
            )
            _run(server, [f"CREATE SCHEMA scratch2 AUTHORIZATION {user}"], None, database=work)
            newbie = f"newbie_{user}"
            accounts = [
                f"CREATE ROLE {newbie} LOGIN PASSWORD '{NEWBIE_PASSWORDS[0]}'",
                f"ALTER ROLE {newbie} PASSWORD '{NEWBIE_PASSWORDS[1]}'",
            ]
            _run(server, [*DROPS, MULTI_STATEMENT, *HALF_FAILING, *accounts], user, errors=2, database=work)
            _run(server, ["SELECT 1 FROM ms_a"], user, database=work)  # the failed string kept ms_a
    return server.log_path


def _findings(log: Path) -> list[dict[str, object]]:
    """`audit-alerts replay --json --findings <log>` records."""
    out, err = io.StringIO(), io.StringIO()
    assert main(["replay", "--json", "--findings", str(log)], out=out, err=err) == 0, err.getvalue()
    return [json.loads(line) for line in out.getvalue().splitlines()]


def _by_object(records: list[dict[str, object]], user: str, *rules: str) -> Counter[tuple[str, str, bool]]:
    """How many findings of `rules` by `user` name each (rule, bare object, failed)."""
    counted: Counter[tuple[str, str, bool]] = Counter()
    for record in records:
        if record["user"] == user and record["rule"] in rules:
            objects = record["objects"]
            assert isinstance(objects, list)
            for name in objects:
                bare = str(name).rsplit(".", 1)[-1].strip("`\"'")
                counted[str(record["rule"]), bare, bool(record["attempt_failed"])] += 1
    return counted


EXPECTED_DROPS = Counter(
    {
        ("drop-database", "scratchdb", False): 1,
        ("drop-database", "scratch2", False): 1,
        ("drop-database", "shop", False): 1,
        ("drop-database", "shop", True): 1,
        ("drop-table", "ms_t", False): 1,
        ("drop-table", "ms_missing", True): 1,
    }
)
# MariaDB runs each statement of the string on its own: ms_a is dropped. PostgreSQL runs the string as
# one implicit transaction: the failing drop rolls the drop of ms_a back, so it is an attempt too.
EXPECTED_MARIADB_DROPS = EXPECTED_DROPS + Counter({("drop-table", "ms_a", False): 1})
EXPECTED_POSTGRES_DROPS = EXPECTED_DROPS + Counter({("drop-table", "ms_a", True): 1})


def test_mariadb_reports_the_successful_and_the_failed_drop_separately(mariadb_log: Path) -> None:
    # GIVEN the server_audit log of the sequence
    # WHEN replaying it for findings
    records = _findings(mariadb_log)
    # THEN shop once dropped and once attempted, ms_missing attempted, the others dropped once
    assert _by_object(records, "dropper", "drop-database", "drop-table") == EXPECTED_MARIADB_DROPS


@pytest.mark.parametrize("user", [PG_PLAIN, PG_LOGGED])
def test_postgres_reports_the_successful_and_the_failed_drop_separately(
    postgres_log: Path, user: str
) -> None:
    # GIVEN the PostgreSQL log of the sequence (pgaudit alone, or with log_statement as well)
    # WHEN replaying it for findings
    records = _findings(postgres_log)
    # THEN the same, except that ms_a is an attempt (rolled back with ms_missing)
    assert _by_object(records, user, "drop-database", "drop-table") == EXPECTED_POSTGRES_DROPS


@pytest.mark.parametrize("user", [PG_PLAIN, PG_LOGGED])
def test_postgres_account_statements_are_one_finding_each(postgres_log: Path, user: str) -> None:
    # GIVEN CREATE ROLE … PASSWORD and ALTER ROLE … PASSWORD, redacted by pgaudit, in clear by log_statement
    # WHEN replaying for findings
    records = _findings(postgres_log)
    # THEN one user-created and one password-changed finding, no password in the output
    counted = _by_object(records, user, "user-created", "password-changed")
    assert counted == Counter(
        {("user-created", f"newbie_{user}", False): 1, ("password-changed", f"newbie_{user}", False): 1}
    )
    assert not [p for p in (PASSWORD, *NEWBIE_PASSWORDS) if p in json.dumps(records)]
