"""Lambda entry point that keeps our subscription filter on every audit log group, new and existing.

Triggered by EventBridge: a CloudTrail `CreateLogGroup` event attaches the new group at once; the
schedule (hourly, and so also within the hour after deploy) walks every selected group, which catches
groups created before the stack, groups whose CloudTrail event was missed, and destination changes.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from handlers.invocation import logger, metrics
from handlers.runtime import get_runtime
from handlers.settings import ENV_SUBSCRIPTION_DESTINATION, SettingsError
from infra.subscriptions import (
    ChangeAction,
    SubscriptionChange,
    apply_subscriptions,
    plan_log_group,
    plan_subscriptions,
)

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


@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Attach (or update) our filter: on the one new group of a CreateLogGroup event, else on all."""
    runtime = get_runtime()
    destination = runtime.settings.subscription_destination_arn
    if not destination:
        raise SettingsError(f"{ENV_SUBSCRIPTION_DESTINATION} is not set: nowhere to subscribe log groups to")
    role = runtime.settings.subscription_role_arn
    selection = runtime.subscription_selection
    new_group = created_log_group(event)
    plan: list[SubscriptionChange]
    if new_group is not None:
        plan = [plan_log_group(runtime.logs, new_group, destination, selection, role)]
    elif event.get("detail-type") == CLOUDTRAIL_DETAIL_TYPE:
        plan = []  # another API call, or a failed CreateLogGroup: nothing to attach
    else:
        plan = plan_subscriptions(runtime.logs, destination, selection, role)
    results = apply_subscriptions(runtime.logs, plan)
    counts = Counter(r.change.action.value for r in results if r.ok)
    failures = [r.as_record() for r in results if not r.ok]
    for result in results:
        if result.ok and result.change.action is not ChangeAction.SKIP:
            logger.info("subscription changed", extra={"change": result.as_record()})
    summary = {"log_groups": len(results), **counts, "failed": len(failures)}
    logger.info("subscriber summary", extra={"summary": summary, "failures": failures})
    metrics.add_metric(name="SubscriptionsAttached", unit=MetricUnit.Count, value=counts["attach"])
    metrics.add_metric(name="SubscriptionsUpdated", unit=MetricUnit.Count, value=counts["update"])
    metrics.add_metric(name="SubscriptionFailures", unit=MetricUnit.Count, value=len(failures))
    if failures:
        raise SubscriptionError(f"{len(failures)} log groups could not be subscribed: {failures[:5]}")
    return summary
