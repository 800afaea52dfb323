"""The pre-filter changes no finding on the logs real MariaDB and PostgreSQL servers wrote."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.prefilter_findings import file_lines, findings_of

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("fixture", ["mariadb_audit_log", "postgres_log"])
def test_real_server_log_gives_the_same_findings_with_and_without_the_prefilter(
    fixture: str, request: pytest.FixtureRequest
) -> None:
    # GIVEN the log a real server wrote while the audit scenario ran
    log: Path = request.getfixturevalue(fixture)
    lines = file_lines(log)
    # WHEN detecting with and without the pre-filter
    full = findings_of(lines, log.name, prefiltered=False)
    filtered = findings_of(lines, log.name, prefiltered=True)
    # THEN the findings are identical
    assert full.findings
    assert filtered.findings == full.findings
