"""EventBridge events the subscriber function receives: CloudTrail API calls and scheduled runs."""

from __future__ import annotations

from typing import Any

from tests.functional.lambda_events import REGION


def cloudtrail_event(
    log_group: str, *, event_name: str = "CreateLogGroup", error: str = ""
) -> dict[str, Any]:
    """An EventBridge event for a CloudTrail-recorded CloudWatch Logs API call (RDS creating the group)."""
    detail: dict[str, Any] = {
        "eventVersion": "1.08",
        "eventSource": "logs.amazonaws.com",
        "eventName": event_name,
        "awsRegion": REGION,
        "sourceIPAddress": "rds.amazonaws.com",
        "userAgent": "rds.amazonaws.com",
        "requestParameters": {"logGroupName": log_group},
        "responseElements": None,
        "eventType": "AwsApiCall",
    }
    if error:
        detail["errorCode"] = error
    return {
        "version": "0",
        "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
        "detail-type": "AWS API Call via CloudTrail",
        "source": "aws.logs",
        "account": "123456789012",
        "time": "2026-12-03T07:00:00Z",
        "region": REGION,
        "resources": [],
        "detail": detail,
    }


SCHEDULED = {
    "version": "0",
    "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
    "detail-type": "Scheduled Event",
    "source": "aws.events",
    "account": "123456789012",
    "time": "2026-12-03T07:00:00Z",
    "region": REGION,
    "resources": ["arn:aws:events:eu-west-1:123456789012:rule/audit-alerts-subscriber"],
    "detail": {},
}
