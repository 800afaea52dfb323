"""Storm: many failed logins for one key in one payload, through the CloudWatch handler, state on moto."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

import boto3
from moto import mock_aws

from benchmarks.quiet import clear_handler_env, count_api_calls, quiet_handlers
from benchmarks.workloads import START_US, BenchContext, subscription_payload
from infra.state_table import create_table_kwargs

TABLE = "audit-alerts-bench-state"


@dataclass(frozen=True, slots=True)
class StormFigures:
    """Events per second and DynamoDB API calls per 1,000 events for one storm payload."""

    events: int
    events_per_s: float
    state_calls_per_1000: float


def storm_lines(events: int) -> list[str]:
    """`events` Aurora MySQL failed logins of one user from one host, 1 ms apart."""
    return [
        f"{START_US + n * 1000},bench-instance-1,victim,203.0.113.9,{5000 + n},0,FAILED_CONNECT,,,1045"
        for n in range(events)
    ]


def measure_storm(events: int = 10_000) -> StormFigures:
    """Run one payload of `events` failed logins with the state table on moto; time it, count calls."""
    clear_handler_env()
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    payload = {"awslogs": {"data": subscription_payload(storm_lines(events), 0)}}
    with mock_aws():
        boto3.client("dynamodb", region_name="us-east-1").create_table(**create_table_kwargs(TABLE))
        os.environ["ALERTS_STATE_TABLE"] = TABLE
        calls = count_api_calls("before-call.dynamodb")
        from handlers.cloudwatch_logs import lambda_handler  # noqa: PLC0415 - after the environment is set
        from handlers.runtime import reset_runtime  # noqa: PLC0415

        reset_runtime()
        try:
            with quiet_handlers():
                start = time.perf_counter()
                lambda_handler(payload, BenchContext())
                seconds = time.perf_counter() - start
        finally:
            os.environ.pop("ALERTS_STATE_TABLE", None)
            reset_runtime()
    return StormFigures(events, events / seconds, calls[0] * 1000 / events)
