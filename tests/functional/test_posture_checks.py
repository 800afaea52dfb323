"""Posture checks and fixes per engine: moto where it implements the RDS API, botocore's Stubber where not."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from infra.posture import (
    Resource,
    Status,
    check_activity_stream,
    check_audit_settings,
    check_log_export,
    check_posture,
)
from infra.posture_fixes import FixTargets, apply_fix
from tests.functional.fake_aws import use_fake_aws_credentials

REGION = "eu-west-1"


@pytest.fixture(name="aws")
def aws_fixture(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, Any]]:
    """In-process moto RDS and CloudWatch Logs clients."""
    use_fake_aws_credentials(monkeypatch, REGION)
    with mock_aws():
        yield boto3.client("rds", region_name=REGION), boto3.client("logs", region_name=REGION)


def _postgres_cluster(rds: Any, parameters: dict[str, str]) -> None:
    """An Aurora PostgreSQL cluster on a custom cluster parameter group holding these values."""
    rds.create_db_cluster_parameter_group(
        DBClusterParameterGroupName="pg", DBParameterGroupFamily="aurora-postgresql15", Description="pg"
    )
    if parameters:
        rds.modify_db_cluster_parameter_group(
            DBClusterParameterGroupName="pg",
            Parameters=[
                {"ParameterName": k, "ParameterValue": v, "ApplyMethod": "immediate"}
                for k, v in parameters.items()
            ],
        )
    rds.create_db_cluster(
        DBClusterIdentifier="ledger",
        Engine="aurora-postgresql",
        MasterUsername="admin",
        MasterUserPassword="not-a-real-one-1",
        DBClusterParameterGroupName="pg",
        EnableCloudwatchLogsExports=["postgresql"],
    )


def _settings(rds: Any, logs: Any) -> Any:
    """The audit_settings result of the one resource."""
    return next(r for _res, r in check_posture(rds, logs) if r.check == "audit_settings")


def test_postgres_without_pgaudit_fails_with_a_fix_that_sets_every_missing_parameter(
    aws: tuple[Any, Any],
) -> None:
    # GIVEN a PostgreSQL cluster preloading only pg_stat_statements, logging ddl only, connections off
    rds, logs = aws
    _postgres_cluster(rds, {"shared_preload_libraries": "pg_stat_statements", "pgaudit.log": "ddl"})
    # WHEN its settings are checked
    result = _settings(rds, logs)
    # THEN it fails naming each problem, and the fix keeps what is there and adds what is missing
    assert result.status is Status.FAIL
    assert result.reason == (
        "pgaudit is not in shared_preload_libraries; pgaudit.log=ddl lacks ddl and role; "
        "log_connections is off"
    )
    assert result.fix is not None
    assert result.fix.arguments["parameters"] == {
        "shared_preload_libraries": ("pg_stat_statements,pgaudit", "pending-reboot"),
        "pgaudit.log": ("ddl,role", "immediate"),
        "log_connections": ("1", "immediate"),
    }
    # WHEN the fix is applied THEN the group holds the values and the check passes
    resource = next(res for res, r in check_posture(rds, logs) if r.check == "audit_settings")
    assert apply_fix(rds, logs, resource, result.fix, FixTargets()).ok
    assert _settings(rds, logs).status is Status.PASS


def test_postgres_with_pgaudit_all_and_connections_logged_passes(aws: tuple[Any, Any]) -> None:
    # GIVEN pgaudit preloaded, pgaudit.log=all, log_connections on
    rds, logs = aws
    _postgres_cluster(
        rds, {"shared_preload_libraries": "pgaudit", "pgaudit.log": "all", "log_connections": "1"}
    )
    # THEN the settings pass
    assert _settings(rds, logs).status is Status.PASS


def test_an_unreadable_group_is_unknown_and_a_default_one_cannot_be_fixed(aws: tuple[Any, Any]) -> None:
    # GIVEN an Aurora MySQL cluster on its engine's default group, which this account cannot describe
    rds, logs = aws
    rds.create_db_cluster(
        DBClusterIdentifier="orders",
        Engine="aurora-mysql",
        MasterUsername="admin",
        MasterUserPassword="x" * 12,
    )
    resource = next(iter(check_posture(rds, logs)))[0]
    # THEN the unreadable group makes the check unknown
    unknown = check_audit_settings(rds, resource)
    assert (unknown.status, unknown.reason) == (
        Status.UNKNOWN,
        "cannot read the settings: DBParameterGroupNotFound",
    )
    # GIVEN a readable default group without auditing THEN it fails, says why, and offers no fix
    rds.create_db_cluster_parameter_group(
        DBClusterParameterGroupName="default.aurora-mysql8.0",
        DBParameterGroupFamily="aurora-mysql8.0",
        Description="d",
    )
    on_default = Resource("cluster", "orders", resource.arn, "aurora-mysql", (), "default.aurora-mysql8.0")
    failed = check_audit_settings(rds, on_default)
    assert failed.status is Status.FAIL
    assert failed.fix is None
    assert failed.reason == (
        "server_audit_logging is off; server_audit_events=(empty) lacks CONNECT and QUERY (parameter group "
        "default.aurora-mysql8.0 is a default one: attach a custom group to fix it)"
    )


def test_rds_mysql_needs_the_audit_plugin_option(aws: tuple[Any, Any]) -> None:
    # GIVEN an RDS MySQL instance on a custom option group without the plugin
    rds, logs = aws
    rds.create_option_group(
        OptionGroupName="audit", EngineName="mysql", MajorEngineVersion="8.0", OptionGroupDescription="audit"
    )
    rds.create_db_instance(
        DBInstanceIdentifier="shop-1",
        Engine="mysql",
        DBInstanceClass="db.t3.micro",
        MasterUsername="admin",
        MasterUserPassword="not-a-real-one-1",
        AllocatedStorage=20,
        OptionGroupName="audit",
    )
    # WHEN checked THEN it fails with a fix adding the option
    result = _settings(rds, logs)
    assert (result.status, result.reason) == (Status.FAIL, "no MARIADB_AUDIT_PLUGIN option in audit")
    assert result.fix is not None
    resource = next(res for res, r in check_posture(rds, logs) if r.check == "audit_settings")
    # WHEN the fix is applied THEN the option is there with CONNECT,QUERY and the check passes
    assert apply_fix(rds, logs, resource, result.fix, FixTargets()).ok
    assert _settings(rds, logs).status is Status.PASS


def test_cluster_log_export_fix_calls_modify_db_cluster(aws: tuple[Any, Any]) -> None:
    # GIVEN a cluster without its export (moto does not change cluster exports: a Stubber checks the call)
    _rds, logs = aws
    resource = Resource(
        "cluster", "billing", "arn:aws:rds:eu-west-1:123456789012:cluster:billing", "aurora-mysql", (), "g"
    )
    result = check_log_export(resource)
    assert result.fix is not None
    stubbed = boto3.client("rds", region_name=REGION)
    with Stubber(stubbed) as stubber:
        stubber.add_response(
            "modify_db_cluster",
            {"DBCluster": {"DBClusterIdentifier": "billing"}},
            {
                "DBClusterIdentifier": "billing",
                "CloudwatchLogsExportConfiguration": {"EnableLogTypes": ["audit"]},
                "ApplyImmediately": True,
            },
        )
        # WHEN the fix is applied THEN exactly that call is made
        assert apply_fix(stubbed, logs, resource, result.fix, FixTargets()).ok
        stubber.assert_no_pending_responses()


def test_activity_stream_is_reported_and_started_with_the_given_key() -> None:
    # GIVEN a started stream THEN it passes with its mode and key
    stream = {
        "ActivityStreamStatus": "started",
        "ActivityStreamMode": "async",
        "ActivityStreamKmsKeyId": "k1",
    }
    arn = "arn:aws:rds:eu-west-1:123456789012:cluster:c"
    started = Resource("cluster", "c", arn, "aurora-postgresql", (), "g", description=stream)
    result = check_activity_stream(started, None)
    assert result is not None
    assert (result.status, result.reason) == (Status.PASS, "started, mode async, KMS key k1")
    # GIVEN a stopped stream and no key THEN it fails without a fix; with a key the fix starts it
    stopped = Resource(
        "cluster",
        "c",
        started.arn,
        "aurora-postgresql",
        (),
        "g",
        description={"ActivityStreamStatus": "stopped"},
    )
    no_key = check_activity_stream(stopped, None)
    assert no_key is not None
    assert (no_key.status, no_key.fix) == (Status.FAIL, None)
    with_key = check_activity_stream(stopped, "arn:aws:kms:eu-west-1:123456789012:key/1")
    assert with_key is not None
    assert with_key.fix is not None
    stubbed = boto3.client("rds", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(stubbed) as stubber:
        stubber.add_response(
            "start_activity_stream",
            {"Status": "starting", "Mode": "async"},
            {
                "ResourceArn": started.arn,
                "Mode": "async",
                "KmsKeyId": "arn:aws:kms:eu-west-1:123456789012:key/1",
                "ApplyImmediately": True,
            },
        )
        # WHEN the fix is applied THEN RDS is asked to start the stream with that key
        assert apply_fix(stubbed, None, stopped, with_key.fix, FixTargets()).ok  # type: ignore[arg-type]
    # AND an RDS instance has no activity-stream check here
    assert check_activity_stream(Resource("instance", "i", "", "postgres", (), "g"), None) is None


def test_a_refused_fix_is_reported_not_raised(aws: tuple[Any, Any]) -> None:
    # GIVEN RDS refusing the call
    _rds, logs = aws
    resource = Resource(
        "cluster", "gone", "arn:aws:rds:eu-west-1:123456789012:cluster:gone", "aurora-mysql", (), "g"
    )
    fix = check_log_export(resource).fix
    assert fix is not None
    stubbed = boto3.client("rds", region_name=REGION)
    with Stubber(stubbed) as stubber:
        stubber.add_client_error("modify_db_cluster", "DBClusterNotFoundFault", "DBCluster gone not found.")
        outcome = apply_fix(stubbed, logs, resource, fix, FixTargets())
    # THEN the outcome says so
    assert (outcome.ok, outcome.error) == (False, "DBClusterNotFoundFault: DBCluster gone not found.")
