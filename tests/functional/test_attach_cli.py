"""`audit-alerts attach` on an emulated account: plan, attach, idempotence, the 2-filter limit, detach."""

from __future__ import annotations

import pytest

from infra.log_selection import MYSQL_FILTER_PATTERN
from infra.subscriptions import FILTER_NAME
from tests.functional.emulated_account import (
    EmulatedAccount,
    account_fixture,  # noqa: F401 - the `account` fixture
    json_records,
    run_cli,
)

AUDIT_GROUPS = [
    "/aws/rds/cluster/orders/audit",
    "/aws/rds/instance/billing-1/audit",
    "/aws/rds/cluster/ledger/postgresql",
]
FULL_GROUP = "/aws/rds/instance/crowded-1/audit"
OTHER_GROUPS = ["/aws/rds/cluster/orders/error", "/aws/lambda/something", "/app/audit"]


def _populate(account: EmulatedAccount) -> tuple[str, str]:
    """Audit groups, a full one holding two foreign filters, unrelated groups; (our ARN, a foreign ARN)."""
    logs = account.client("logs")
    for name in [*AUDIT_GROUPS, FULL_GROUP, *OTHER_GROUPS]:
        logs.create_log_group(logGroupName=name)
    ours = account.lambda_function("aurora-audit-alerts")
    foreign = account.lambda_function("someone-elses-forwarder")
    for name in ("siem-a", "siem-b"):
        logs.put_subscription_filter(
            logGroupName=FULL_GROUP, filterName=name, filterPattern="", destinationArn=foreign
        )
    logs.put_subscription_filter(
        logGroupName=OTHER_GROUPS[1], filterName="keep-me", filterPattern="", destinationArn=foreign
    )
    return ours, foreign


def _snapshot(account: EmulatedAccount) -> dict[str, dict[str, str]]:
    """Every group's filters."""
    return {name: account.filters(name) for name in [*AUDIT_GROUPS, FULL_GROUP, *OTHER_GROUPS]}


def test_dry_run_lists_the_plan_and_changes_nothing(account: EmulatedAccount) -> None:
    # GIVEN RDS-like log groups, one already full, and unrelated groups
    ours, _foreign = _populate(account)
    before = _snapshot(account)
    # WHEN attach runs with --dry-run --json
    code, out, err = run_cli("attach", "--destination", ours, "--dry-run", "--json")
    # THEN it lists one object per selected group, changes nothing and says so
    assert code == 0, err
    assert sorted((r["log_group"], r["action"]) for r in json_records(out)) == sorted(
        [(group, "attach") for group in AUDIT_GROUPS] + [(FULL_GROUP, "skip")]
    )
    assert all(set(r) == {"log_group", "action", "reason"} for r in json_records(out))
    assert "dry run: nothing changed" in err
    assert _snapshot(account) == before


def test_attach_is_exact_idempotent_and_detach_removes_only_ours(account: EmulatedAccount) -> None:
    # GIVEN the same account
    ours, foreign = _populate(account)
    # WHEN attach runs
    code, out, err = run_cli("attach", "--destination", ours, "--json")
    # THEN each audit group holds exactly our one filter, the full group is skipped with the reason
    assert code == 0, err
    records = {r["log_group"]: r for r in json_records(out)}
    for group in AUDIT_GROUPS:
        assert account.filters(group) == {FILTER_NAME: ours}
        assert records[group]["action"] == "attach"
    assert records[FULL_GROUP]["action"] == "skip"
    assert "already holds 2 subscription filters of others (siem-a, siem-b)" in records[FULL_GROUP]["reason"]
    assert account.filters(FULL_GROUP) == {"siem-a": foreign, "siem-b": foreign}
    # AND the unrelated groups are left alone
    assert account.filters(OTHER_GROUPS[0]) == {}
    assert account.filters(OTHER_GROUPS[1]) == {"keep-me": foreign}
    # AND the MySQL groups got the MySQL pattern
    found = account.client("logs").describe_subscription_filters(logGroupName=AUDIT_GROUPS[0])
    assert found["subscriptionFilters"][0]["filterPattern"] == MYSQL_FILTER_PATTERN

    # WHEN it runs again THEN nothing changes: every group is skipped as up to date
    after_first = _snapshot(account)
    code, out, _err = run_cli("attach", "--destination", ours, "--json")
    assert code == 0
    reasons = {r["log_group"]: r["reason"] for r in json_records(out) if r["log_group"] in AUDIT_GROUPS}
    assert reasons == dict.fromkeys(AUDIT_GROUPS, "already attached, up to date")
    assert _snapshot(account) == after_first

    # WHEN --detach runs THEN only our filters go
    code, out, _err = run_cli("attach", "--destination", ours, "--detach")
    assert code == 0
    assert "detach" in out
    assert all(account.filters(group) == {} for group in AUDIT_GROUPS)
    assert account.filters(FULL_GROUP) == {"siem-a": foreign, "siem-b": foreign}
    assert account.filters(OTHER_GROUPS[1]) == {"keep-me": foreign}


def test_a_changed_destination_is_updated_in_place(account: EmulatedAccount) -> None:
    # GIVEN our filter attached towards one function
    ours, _foreign = _populate(account)
    moved = account.lambda_function("aurora-audit-alerts-v2")
    run_cli("attach", "--destination", ours, "--pattern", "/aws/rds/cluster/*/audit")
    # WHEN attach runs with another destination
    code, out, _err = run_cli("attach", "--destination", moved, "--pattern", "/aws/rds/cluster/*/audit")
    # THEN the one filter is updated, not duplicated, and the table says why
    assert code == 0
    assert account.filters(AUDIT_GROUPS[0]) == {FILTER_NAME: moved}
    assert "update" in out
    assert "destination changed" in out


def test_without_a_reachable_account_it_says_so_in_one_line(
    account: EmulatedAccount, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN an endpoint nobody listens on
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    # WHEN attach runs THEN it exits 2 with one error line
    code, out, err = run_cli("attach", "--destination", "arn:aws:lambda:eu-west-1:123456789012:function:x")
    assert (code, out) == (2, "")
    assert err.startswith("audit-alerts: error: ")
    assert err.count("\n") == 1


def test_lists_of_globs_and_prefixes_take_either_form(account: EmulatedAccount) -> None:
    # GIVEN the populated account
    ours, _foreign = _populate(account)
    # WHEN globs are given as one list and prefixes repeated
    code, out, _err = run_cli(
        "attach", "--destination", ours, "--dry-run", "--json",
        "--pattern", "/aws/rds/cluster/*/audit", "/aws/rds/instance/*/audit",
        "--exclude-prefix", "/aws/rds/instance/crowded", "--exclude-prefix", "/aws/rds/instance/billing",
    )  # fmt: skip
    # THEN only the one cluster audit group is left
    assert code == 0
    assert [r["log_group"] for r in json_records(out)] == ["/aws/rds/cluster/orders/audit"]
