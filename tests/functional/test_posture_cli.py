"""`audit-alerts posture` on an emulated account: per-resource checks, JSON lines, exit status, --fix."""

from __future__ import annotations

import io

import pytest

from infra.subscriptions import FILTER_NAME
from tests.functional.emulated_account import (
    EmulatedAccount,
    account_fixture,  # noqa: F401 - the `account` fixture
    json_records,
    run_cli,
)


def _clusters(account: EmulatedAccount) -> None:
    """An audited Aurora MySQL cluster (export on, audit parameters set) and one without its export."""
    rds = account.client("rds")
    rds.create_db_cluster_parameter_group(
        DBClusterParameterGroupName="audited",
        DBParameterGroupFamily="aurora-mysql8.0",
        Description="audit on",
    )
    rds.modify_db_cluster_parameter_group(
        DBClusterParameterGroupName="audited",
        Parameters=[
            {"ParameterName": "server_audit_logging", "ParameterValue": "1", "ApplyMethod": "immediate"},
            {
                "ParameterName": "server_audit_events",
                "ParameterValue": "CONNECT,QUERY",
                "ApplyMethod": "immediate",
            },
        ],
    )
    for name, exports in (("orders", ["audit", "error"]), ("billing", ["error"])):
        rds.create_db_cluster(
            DBClusterIdentifier=name,
            Engine="aurora-mysql",
            MasterUsername="admin",
            MasterUserPassword="not-a-real-one-1",
            DBClusterParameterGroupName="audited",
            EnableCloudwatchLogsExports=exports,
        )


def test_posture_fails_the_cluster_without_its_audit_export(account: EmulatedAccount) -> None:
    # GIVEN one cluster exporting its audit log and one that does not
    _clusters(account)
    # WHEN posture runs with --json
    code, out, _err = run_cli("posture", "--json")
    records = json_records(out)
    checks = {(r["resource"], r["check"]): r for r in records}
    # THEN each line is {"resource", "check", "status", "reason"}, the missing export fails, the other passes
    assert all(set(r) == {"resource", "check", "status", "reason"} for r in records)
    assert checks[("cluster/orders", "log_export")]["status"] == "pass"
    assert checks[("cluster/billing", "log_export")]["status"] == "fail"
    assert "audit log not exported (exported: error)" in checks[("cluster/billing", "log_export")]["reason"]
    # AND the parameter group's audit settings pass for both, nothing is subscribed yet
    assert checks[("cluster/orders", "audit_settings")]["status"] == "pass"
    assert checks[("cluster/orders", "subscription_filter")]["status"] == "fail"
    assert checks[("cluster/orders", "activity_stream")]["status"] == "unknown"  # moto does not report it
    # AND the exit status says something failed
    assert code == 1


def test_fix_yes_attaches_the_filter_and_a_rerun_passes_it(account: EmulatedAccount) -> None:
    # GIVEN an audited cluster whose log group exists without our filter, and the pipeline's function
    _clusters(account)
    account.client("logs").create_log_group(logGroupName="/aws/rds/cluster/orders/audit")
    destination = account.lambda_function("aurora-audit-alerts")
    # WHEN posture --fix --yes runs for the filter check only (the others skipped)
    skips = ["--skip", "log_export", "--skip", "audit_settings", "--skip", "activity_stream"]
    code, out, _err = run_cli("posture", "--fix", "--yes", "--destination", destination, *skips)
    # THEN it shows the plan, applies it, and both groups now hold our filter
    assert "Plan:" in out
    assert f"fixed: cluster/orders: attach {FILTER_NAME} to /aws/rds/cluster/orders/audit" in out
    assert code == 0
    assert account.filters("/aws/rds/cluster/orders/audit") == {FILTER_NAME: destination}
    assert account.filters("/aws/rds/cluster/billing/audit") == {FILTER_NAME: destination}
    # AND a re-run passes that check
    code, out, _err = run_cli("posture", "--json", *skips)
    assert {r["status"] for r in json_records(out)} == {"pass"}
    assert code == 0


def test_fix_without_yes_and_without_a_terminal_changes_nothing(
    account: EmulatedAccount, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a failing cluster and stdin that is not a terminal
    _clusters(account)
    monkeypatch.setattr("sys.stdin", io.StringIO("y\n"))
    # WHEN posture --fix runs without --yes THEN it refuses to apply and exits 1
    code, _out, err = run_cli("posture", "--fix", "--skip", "activity_stream")
    assert code == 1
    assert "not applied: no terminal to ask on (use --yes)" in err
    described = account.client("rds").describe_db_clusters(DBClusterIdentifier="billing")["DBClusters"][0]
    assert described["EnabledCloudwatchLogsExports"] == ["error"]


def test_several_regions_name_each_resource_with_its_region(account: EmulatedAccount) -> None:
    # GIVEN a cluster in eu-west-1 and none in us-east-1
    _clusters(account)
    # WHEN posture checks both regions
    code, out, _err = run_cli("posture", "--json", "--region", "eu-west-1", "--region", "us-east-1")
    # THEN every resource is named with its region
    assert {r["resource"] for r in json_records(out)} == {
        "eu-west-1/cluster/orders",
        "eu-west-1/cluster/billing",
    }
    assert code == 1


def test_a_bad_destination_is_a_usage_error(account: EmulatedAccount) -> None:
    # GIVEN a destination that is neither a Lambda function nor a Kinesis stream THEN exit 2, one line
    code, out, err = run_cli("posture", "--fix", "--destination", "arn:aws:sqs:eu-west-1:123456789012:q")
    assert (code, out) == (2, "")
    assert err.endswith(
        "not a Lambda function or Kinesis stream ARN: 'arn:aws:sqs:eu-west-1:123456789012:q'\n"
    )


class _Terminal(io.StringIO):
    """Typed answers on what looks like a terminal."""

    def isatty(self) -> bool:
        """It is one."""
        return True


@pytest.mark.parametrize(("answer", "applied"), [("y\n", True), ("n\n", False)])
def test_fix_asks_on_a_terminal_and_applies_only_on_yes(
    account: EmulatedAccount, monkeypatch: pytest.MonkeyPatch, answer: str, applied: bool
) -> None:
    # GIVEN an RDS PostgreSQL instance without its log export, and a terminal answering the question
    account.client("rds").create_db_instance(
        DBInstanceIdentifier="pg-1",
        Engine="postgres",
        DBInstanceClass="db.t3.micro",
        MasterUsername="admin",
        MasterUserPassword="not-a-real-one-1",
        AllocatedStorage=20,
    )
    monkeypatch.setattr("sys.stdin", _Terminal(answer))
    # WHEN posture --fix runs on the export check
    skips = ["--skip", "audit_settings", "--skip", "subscription_filter"]
    code, out, err = run_cli("posture", "--fix", *skips)
    # THEN it asked, and the instance exports its postgresql log only after a yes
    assert "Apply 1 change(s)? [y/N]" in err
    assert "instance/pg-1: export the postgresql log of instance/pg-1" in out
    described = account.client("rds").describe_db_instances(DBInstanceIdentifier="pg-1")["DBInstances"][0]
    assert (described.get("EnabledCloudwatchLogsExports") == ["postgresql"]) is applied
    assert code == (0 if applied else 1)
