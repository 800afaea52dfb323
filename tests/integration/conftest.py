"""Session fixtures that run the audit scenario on real MariaDB and PostgreSQL servers once per test run."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest

from .mariadb_server import find_mariadb
from .postgres_server import find_postgres
from .scenario import capture_mariadb_log, capture_postgres_log
from .server_process import ServerNotInstalledError

Install = TypeVar("Install")


def _installed(find: Callable[[], Install]) -> Install:
    """The located install; skip when it is missing, but fail under CI=true (CI installs the servers)."""
    try:
        return find()
    except ServerNotInstalledError as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{exc} (CI=true: the integration servers must be installed)", pytrace=False)
        pytest.skip(str(exc))


@pytest.fixture(scope="session")
def mariadb_audit_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """server_audit.log of a MariaDB server that ran the scenario and has been shut down."""
    install = _installed(find_mariadb)
    return capture_mariadb_log(tmp_path_factory.mktemp("mariadb"), install)


@pytest.fixture(scope="session")
def postgres_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """postgresql.log of a PostgreSQL + pgaudit server that ran the scenario and has been shut down."""
    install = _installed(find_postgres)
    return capture_postgres_log(tmp_path_factory.mktemp("postgres"), install)
