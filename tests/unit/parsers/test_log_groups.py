"""Tests for routing RDS log-group names to a dialect (parsers/log_groups.py)."""

from __future__ import annotations

import pytest

from parsers.event import Source
from parsers.log_groups import LogGroupName, origin_for_log_group, parse_log_group_name, source_for_log_group
from parsers.records import Origin

# (log group, parsed name, dialect)
LOG_GROUPS: list[tuple[str, LogGroupName | None, Source | None]] = [
    ("/aws/rds/cluster/mydb/audit", LogGroupName("cluster", "mydb", "audit"), Source.AURORA_MYSQL),
    ("/aws/rds/instance/mydb/audit", LogGroupName("instance", "mydb", "audit"), Source.MYSQL_AUDIT),
    (
        "/aws/rds/cluster/aurora-pg-1/postgresql",
        LogGroupName("cluster", "aurora-pg-1", "postgresql"),
        Source.POSTGRES,
    ),
    (
        "/aws/rds/instance/my_instance/postgresql",
        LogGroupName("instance", "my_instance", "postgresql"),
        Source.POSTGRES,
    ),
    ("/aws/rds/cluster/mydbcluster/slowquery", LogGroupName("cluster", "mydbcluster", "slowquery"), None),
    ("/aws/rds/cluster/mydb/error", LogGroupName("cluster", "mydb", "error"), None),
    ("/aws/rds/instance/mydb/iam-db-auth-error", LogGroupName("instance", "mydb", "iam-db-auth-error"), None),
    ("/aws/rds/proxy/myproxy", None, None),
    ("/aws/rds/cluster/mydb", None, None),
    ("/aws/rds/cluster/mydb/audit/extra", None, None),
    ("/aws/rds/cluster//audit", None, None),
    ("/aws/rds/Cluster/mydb/audit", None, None),
    ("/aws/lambda/echo-nodejs", None, None),
    ("CloudTrail/logs", None, None),
    ("", None, None),
]


@pytest.mark.parametrize(("log_group", "parsed", "source"), LOG_GROUPS)
def test_parse_log_group_name(log_group: str, parsed: LogGroupName | None, source: Source | None) -> None:
    """GIVEN a log-group name WHEN parsed THEN kind/identifier/log type, or None for non-RDS groups."""
    assert parse_log_group_name(log_group) == parsed


@pytest.mark.parametrize(("log_group", "parsed", "source"), LOG_GROUPS)
def test_source_for_log_group(log_group: str, parsed: LogGroupName | None, source: Source | None) -> None:
    """GIVEN a log-group name WHEN routed THEN Aurora MySQL for cluster audit, audit plugin for instance
    audit, PostgreSQL for postgresql, None otherwise."""
    assert source_for_log_group(log_group) == source


@pytest.mark.parametrize(
    ("log_group", "log_stream", "expected"),
    [
        (
            "/aws/rds/cluster/prod-aurora/audit",
            "prod-aurora-instance-1",
            Origin("/aws/rds/cluster/prod-aurora/audit", "prod-aurora-instance-1", "prod-aurora"),
        ),
        (
            "/aws/rds/instance/rds-dbinstance-1/audit",
            "rds-dbinstance-1",
            Origin("/aws/rds/instance/rds-dbinstance-1/audit", "rds-dbinstance-1", "rds-dbinstance-1"),
        ),
        ("CloudTrail/logs", "stream", Origin("CloudTrail/logs", "stream", "")),
        ("", "", Origin("", "", "")),
    ],
)
def test_origin_for_log_group(log_group: str, log_stream: str, expected: Origin) -> None:
    """GIVEN a log group and stream WHEN an origin is built THEN the cluster is the group's identifier."""
    assert origin_for_log_group(log_group, log_stream) == expected
