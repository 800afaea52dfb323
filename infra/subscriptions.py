"""Attach, update and detach our CloudWatch Logs subscription filter on the selected audit log groups.

Public API (the CLI, the subscriber function and the demo call these with their own logs client):

- `plan_subscriptions(logs_client, destination_arn, selection, role_arn=None, *, detach=False)`
  → `list[SubscriptionChange]`: reads only (DescribeLogGroups, DescribeSubscriptionFilters, tags);
- `plan_log_group(logs_client, log_group, destination_arn, selection, role_arn=None, *, detach=False)`
  → `SubscriptionChange`: the same for one named group (a CreateLogGroup event);
- `apply_subscriptions(logs_client, plan)` → `list[SubscriptionResult]`: Put / Delete per change.

The filter is ours when its name is FILTER_NAME; a filter of any other name is never changed, and a
group already holding SUBSCRIPTION_FILTER_LIMIT of them is skipped with the reason.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Final

from botocore.config import Config
from botocore.exceptions import ClientError

from infra.log_selection import LogGroupSelection, filter_pattern_for

if TYPE_CHECKING:
    from mypy_boto3_logs import CloudWatchLogsClient

__all__ = [
    "FILTER_NAME",
    "LOGS_CLIENT_CONFIG",
    "ChangeAction",
    "LogGroupSelection",
    "SubscriptionChange",
    "SubscriptionResult",
    "apply_subscriptions",
    "list_log_groups",
    "plan_log_group",
    "plan_subscriptions",
]

logger = logging.getLogger(__name__)

FILTER_NAME: Final = "aurora-audit-alerts"
SUBSCRIPTION_FILTER_LIMIT: Final = 2  # per log group (ca-central-1 allows 5; 2 is the safe bound)
# Many groups mean many calls: standard retries back off on ThrottlingException with jittered exponential
# sleeps; adaptive mode also slows the client down once it has been throttled.
LOGS_CLIENT_CONFIG: Final = Config(
    retries={"mode": "adaptive", "max_attempts": 8}, connect_timeout=5, read_timeout=20
)


class ChangeAction(StrEnum):
    """What a plan does to one log group."""

    ATTACH = "attach"
    UPDATE = "update"
    SKIP = "skip"
    DETACH = "detach"


@dataclass(frozen=True, slots=True)
class SubscriptionChange:
    """One log group's planned change: the action, why, and the filter it would put."""

    log_group: str
    action: ChangeAction
    reason: str
    destination_arn: str = ""
    filter_pattern: str = ""
    role_arn: str | None = None

    def as_record(self) -> dict[str, str]:
        """The reported object: {"log_group", "action", "reason"}."""
        return {"log_group": self.log_group, "action": self.action.value, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class SubscriptionResult:
    """A change after apply: whether it took effect, and the AWS error when it did not."""

    change: SubscriptionChange
    ok: bool
    error: str = ""

    def as_record(self) -> dict[str, str]:
        """The reported object; a failed change says so in its reason."""
        record = self.change.as_record()
        if not self.ok:
            record["reason"] = f"failed: {self.error}"
        return record


def _describe_filters(logs_client: CloudWatchLogsClient, log_group: str) -> list[dict[str, Any]]:
    """Every subscription filter on a group (at most a handful; paginated anyway)."""
    filters: list[dict[str, Any]] = []
    paginator = logs_client.get_paginator("describe_subscription_filters")
    for page in paginator.paginate(logGroupName=log_group):
        filters.extend(dict(f) for f in page.get("subscriptionFilters", []))
    return filters


def _group_tags(logs_client: CloudWatchLogsClient, arn: str) -> dict[str, str]:
    """A log group's tags, by its ARN without the trailing `:*`."""
    response = logs_client.list_tags_for_resource(resourceArn=arn.removesuffix(":*"))
    return dict(response.get("tags", {}))


def list_log_groups(logs_client: CloudWatchLogsClient, selection: LogGroupSelection) -> Iterator[str]:
    """Names of the selected log groups, paginated, with a server-side name prefix where possible."""
    paginator = logs_client.get_paginator("describe_log_groups")
    seen: set[str] = set()
    for prefix in selection.server_prefixes():
        pages = paginator.paginate(logGroupNamePrefix=prefix) if prefix else paginator.paginate()
        for page in pages:
            for group in page.get("logGroups", []):
                name = group.get("logGroupName", "")
                if name in seen or not selection.matches_name(name):
                    continue
                seen.add(name)
                if selection.tags and not selection.matches_tags(_group_tags(logs_client, group["arn"])):
                    continue
                yield name


def _plan_from_filters(
    log_group: str,
    filters: Sequence[dict[str, Any]],
    destination_arn: str,
    pattern: str,
    role_arn: str | None,
    *,
    detach: bool,
) -> SubscriptionChange:
    """Decide one group's change from the filters it holds now."""
    ours = next((f for f in filters if f.get("filterName") == FILTER_NAME), None)
    foreign = [f for f in filters if f.get("filterName") != FILTER_NAME]
    if detach:
        if ours is None:
            return SubscriptionChange(log_group, ChangeAction.SKIP, "no filter of ours")
        return SubscriptionChange(log_group, ChangeAction.DETACH, f"remove filter {FILTER_NAME}")
    wanted = SubscriptionChange(log_group, ChangeAction.ATTACH, "", destination_arn, pattern, role_arn)
    if ours is not None:
        changed = [
            label
            for label, now, want in (
                ("destination", ours.get("destinationArn", ""), destination_arn),
                ("pattern", ours.get("filterPattern", ""), pattern),
                ("role", ours.get("roleArn") or None, role_arn),
            )
            if now != want
        ]
        if not changed:
            return SubscriptionChange(log_group, ChangeAction.SKIP, "already attached, up to date")
        reason = " and ".join(changed) + " changed"
        return _replace(wanted, ChangeAction.UPDATE, reason)
    same_destination = [f["filterName"] for f in foreign if f.get("destinationArn") == destination_arn]
    if same_destination:
        reason = f"filter {same_destination[0]!r} (not ours) already sends this group to the destination"
        return SubscriptionChange(log_group, ChangeAction.SKIP, reason)
    if len(foreign) >= SUBSCRIPTION_FILTER_LIMIT:
        names = ", ".join(sorted(str(f.get("filterName")) for f in foreign))
        reason = f"already holds {len(foreign)} subscription filters of others ({names}); limit is 2"
        return SubscriptionChange(log_group, ChangeAction.SKIP, reason)
    return _replace(wanted, ChangeAction.ATTACH, "no filter of ours yet")


def _replace(change: SubscriptionChange, action: ChangeAction, reason: str) -> SubscriptionChange:
    """The same change with another action and reason."""
    return SubscriptionChange(
        change.log_group, action, reason, change.destination_arn, change.filter_pattern, change.role_arn
    )


def plan_log_group(
    logs_client: CloudWatchLogsClient,
    log_group: str,
    destination_arn: str,
    selection: LogGroupSelection | None = None,
    role_arn: str | None = None,
    *,
    detach: bool = False,
) -> SubscriptionChange:
    """The change for one named group; a group outside the selection (by name) is skipped."""
    selection = selection or LogGroupSelection()
    if not selection.matches_name(log_group):
        return SubscriptionChange(log_group, ChangeAction.SKIP, "not selected by the name patterns")
    pattern = filter_pattern_for(log_group, all_events=selection.all_events)
    filters = _describe_filters(logs_client, log_group)
    return _plan_from_filters(log_group, filters, destination_arn, pattern, role_arn, detach=detach)


def plan_subscriptions(
    logs_client: CloudWatchLogsClient,
    destination_arn: str,
    selection: LogGroupSelection | None = None,
    role_arn: str | None = None,
    *,
    detach: bool = False,
) -> list[SubscriptionChange]:
    """One change per selected log group (reads only; nothing is changed)."""
    selection = selection or LogGroupSelection()
    plan = []
    for log_group in list_log_groups(logs_client, selection):
        pattern = filter_pattern_for(log_group, all_events=selection.all_events)
        filters = _describe_filters(logs_client, log_group)
        plan.append(_plan_from_filters(log_group, filters, destination_arn, pattern, role_arn, detach=detach))
    return plan


def _apply_one(logs_client: CloudWatchLogsClient, change: SubscriptionChange) -> None:
    """Make one change through the API."""
    if change.action is ChangeAction.DETACH:
        logs_client.delete_subscription_filter(logGroupName=change.log_group, filterName=FILTER_NAME)
        return
    arguments: dict[str, Any] = {
        "logGroupName": change.log_group,
        "filterName": FILTER_NAME,
        "filterPattern": change.filter_pattern,
        "destinationArn": change.destination_arn,
    }
    if change.role_arn:
        arguments["roleArn"] = change.role_arn
    logs_client.put_subscription_filter(**arguments)


def apply_subscriptions(
    logs_client: CloudWatchLogsClient, plan: Sequence[SubscriptionChange]
) -> list[SubscriptionResult]:
    """Apply a plan; an AWS error fails that group only (it is reported, the others still run)."""
    results = []
    for change in plan:
        if change.action is ChangeAction.SKIP:
            results.append(SubscriptionResult(change, ok=True))
            continue
        try:
            _apply_one(logs_client, change)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            message = f"{error.get('Code', 'Error')}: {error.get('Message', '')}".rstrip(": ")
            logger.warning("subscription change failed for %s: %s", change.log_group, message)
            results.append(SubscriptionResult(change, ok=False, error=message))
            continue
        results.append(SubscriptionResult(change, ok=True))
    return results
