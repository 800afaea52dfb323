"""Lambda entry point that keeps our subscription filter on every audit log group, new and existing.

Triggered by EventBridge: a CloudTrail `CreateLogGroup` event attaches the new group at once; the
schedule (hourly, and so also within the hour after deploy) walks every selected group, which catches
groups created before the stack, groups whose CloudTrail event was missed, and destination changes.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from handlers.invocation import deadline_of, logger, metrics
from handlers.runtime import get_runtime
from handlers.settings import ENV_SUBSCRIPTION_DESTINATION, SettingsError
from infra.subscriptions import (
    ChangeAction,
    SubscriptionResult,
    apply_subscriptions,
    list_log_groups,
    plan_log_group,
)

if TYPE_CHECKING:
    from mypy_boto3_logs import CloudWatchLogsClient

    from infra.log_selection import LogGroupSelection

CLOUDTRAIL_DETAIL_TYPE = "AWS API Call via CloudTrail"


class SubscriptionError(RuntimeError):
    """Some groups could not be attached; raising makes the failure count in Errors and be retried."""


def created_log_group(event: dict[str, Any]) -> str | None:
    """The group a successful CloudTrail CreateLogGroup event names; None for any other event."""
    if event.get("detail-type") != CLOUDTRAIL_DETAIL_TYPE:
        return None
    detail = event.get("detail") or {}
    if detail.get("eventName") != "CreateLogGroup" or detail.get("errorCode"):
        return None
    name = (detail.get("requestParameters") or {}).get("logGroupName")
    return name if isinstance(name, str) and name else None


def _walk(
    logs: CloudWatchLogsClient,
    names: list[str],
    target: tuple[str, str | None],
    selection: LogGroupSelection,
    deadline: float | None,
) -> tuple[list[SubscriptionResult], int]:
    """Plan and apply group by group until the deadline; (results, groups left for the next run)."""
    destination, role = target
    results: list[SubscriptionResult] = []
    for done, name in enumerate(names):
        if deadline is not None and time.monotonic() >= deadline:
            return results, len(names) - done
        results.extend(apply_subscriptions(logs, [plan_log_group(logs, name, destination, selection, role)]))
    return results, 0


@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Attach (or update) our filter: on the one new group of a CreateLogGroup event, else on all."""
    runtime = get_runtime()
    destination = runtime.settings.subscription_destination_arn
    if not destination:
        raise SettingsError(f"{ENV_SUBSCRIPTION_DESTINATION} is not set: nowhere to subscribe log groups to")
    selection = runtime.subscription_selection
    new_group = created_log_group(event)
    if new_group is not None:
        names = [new_group]
    elif event.get("detail-type") == CLOUDTRAIL_DETAIL_TYPE:
        names = []  # another API call, or a failed CreateLogGroup: nothing to attach
    else:
        # A random order: when an account has more groups than one run has time for, the runs that
        # follow reach the others instead of walking the same first ones again.
        names = list(list_log_groups(runtime.logs, selection))
        random.shuffle(names)
    target = (destination, runtime.settings.subscription_role_arn)
    results, left = _walk(runtime.logs, names, target, selection, deadline_of(context))
    counts = Counter(r.change.action.value for r in results if r.ok)
    failures = [r.as_record() for r in results if not r.ok]
    for result in results:
        if result.ok and result.change.action is not ChangeAction.SKIP:
            logger.info("subscription changed", extra={"change": result.as_record()})
    summary = {"log_groups": len(results), **counts, "failed": len(failures), "left_for_next_run": left}
    logger.info("subscriber summary", extra={"summary": summary, "failures": failures})
    metrics.add_metric(name="SubscriptionsAttached", unit=MetricUnit.Count, value=counts["attach"])
    metrics.add_metric(name="SubscriptionsUpdated", unit=MetricUnit.Count, value=counts["update"])
    metrics.add_metric(name="SubscriptionFailures", unit=MetricUnit.Count, value=len(failures))
    if failures:
        raise SubscriptionError(f"{len(failures)} log groups could not be subscribed: {failures[:5]}")
    return summary
