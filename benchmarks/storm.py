"""A failed-login storm through the CloudWatch Logs composition with the state table on moto.

One payload of N failed logins for one (cluster, user, host), 100 a second, handled by the same
code the Lambda runs (parse, detect with batch-aggregated rule windows, suppression, no channels).
Reported: events per second and the ratio to a floor measured in the same run (splitting the same
lines on commas), how the time grows with the burst (1.0 = linear), and the DynamoDB API calls per
1,000 events (counted with a botocore event hook; target: at most 40 at 4,000 events).

    python -m benchmarks.storm [--events N] [--calls-at N] [--repeat R]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import time
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest import mock

import boto3
from moto import mock_aws

from handlers.invocation import InvocationSummary
from handlers.log_batches import process_log_batch
from handlers.runtime import Runtime
from handlers.settings import ENV_STATE_TABLE, Settings
from parsers.cloudwatch_logs import LogBatch, decode_cloudwatch_payload
from stores.schema import create_table_kwargs

TABLE = "audit-alerts-bench"
REGION = "eu-west-1"
START = datetime(2026, 11, 23, 14, 0, 0, tzinfo=UTC)
FAKE_AWS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
}


def storm_lines(events: int, first_conn: int = 1000) -> list[str]:
    """`events` MariaDB FAILED_CONNECT lines for bob from 127.0.0.66, 100 a second."""
    return [
        f"{START + timedelta(seconds=n // 100):%Y%m%d %H:%M:%S},vm,bob,127.0.0.66,{first_conn + n},0,"
        "FAILED_CONNECT,,,1045"
        for n in range(events)
    ]


def storm_batch(lines: Sequence[str], first_id: int = 0) -> LogBatch:
    """The lines as one decoded CloudWatch Logs subscription payload of a MariaDB audit log group."""
    document = {
        "messageType": "DATA_MESSAGE",
        "owner": "123456789012",
        "logGroup": "/aws/rds/instance/mariadb-prod/audit",
        "logStream": "mariadb-prod.server_audit.log",
        "subscriptionFilters": ["bench"],
        "logEvents": [
            {"id": f"{first_id + n:056d}", "timestamp": 1_795_442_400_000 + n, "message": line}
            for n, line in enumerate(lines)
        ],
    }
    return decode_cloudwatch_payload(json.dumps(document).encode("utf-8"))


@contextmanager
def fake_account() -> Any:
    """Fake credentials and a moto account holding the state table."""
    with mock.patch.dict(os.environ, FAKE_AWS), mock_aws():
        boto3.client("dynamodb", region_name=REGION).create_table(**create_table_kwargs(TABLE))
        yield


def handle(events: int, calls: list[str] | None = None, first_id: int = 0) -> float:
    """Seconds one fresh container takes to handle a storm of `events` (DynamoDB calls noted in `calls`)."""
    runtime = Runtime(Settings.from_env({ENV_STATE_TABLE: TABLE}), boto3.Session(region_name=REGION))
    if calls is not None:
        runtime.dynamodb.meta.events.register(
            "before-call.dynamodb.*", lambda model, **_: calls.append(model.name)
        )
    batch = storm_batch(storm_lines(events), first_id)
    start = time.perf_counter()
    process_log_batch(batch, runtime, InvocationSummary(), deadline=None)
    return time.perf_counter() - start


@dataclass(frozen=True, slots=True)
class StormFigures:
    """Events per second and DynamoDB API calls per 1,000 events for one storm payload."""

    events: int
    events_per_s: float
    state_calls_per_1000: float


def measure_storm(events: int = 10_000) -> StormFigures:
    """One payload of `events` failed logins with the state table on moto: timed, its calls counted."""
    logging.getLogger("notifiers").setLevel(logging.ERROR)  # no channel is configured: not news here
    with fake_account():
        calls: list[str] = []
        seconds = handle(events, calls, first_id=7 * 10**7)
    return StormFigures(events, events / seconds, len(calls) * 1000 / events)


def best_of(repeat: int, work: Callable[[int], float]) -> float:
    """The fastest of `repeat` runs (each on fresh payload ids, so none is a re-delivery)."""
    return min(work(run) for run in range(repeat))


def floor(events: int) -> float:
    """The floor: split every line of the storm on commas."""
    lines = storm_lines(events)
    start = time.perf_counter()
    sum(len(line.split(",")) for line in lines)
    return time.perf_counter() - start


def main(argv: Sequence[str] | None = None) -> int:
    """Print storm_events_per_s (with its floor ratio), storm_scaling and storm_state_calls_per_1000."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--calls-at", type=int, default=4_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    logging.getLogger("notifiers").setLevel(logging.ERROR)  # no channel is configured: not news here
    small = max(args.events // 10, 1)
    with fake_account():
        seconds = best_of(args.repeat, lambda run: handle(args.events, first_id=run * 10**7))
        small_seconds = best_of(args.repeat, lambda run: handle(small, first_id=(run + 50) * 10**7))
        calls: list[str] = []
        handle(args.calls_at, calls, first_id=99 * 10**7)
    floor_s = min(floor(args.events) for _ in range(args.repeat))
    scaling = (seconds / args.events) / (small_seconds / small)
    per_1000 = len(calls) * 1000 / args.calls_at
    print(f"storm events: {args.events} (one key, one payload), best of {args.repeat}")
    print(
        f"storm_events_per_s        {args.events / seconds:12,.0f} events/s  {seconds / floor_s:8.1f}x floor"
    )
    print(f"storm_scaling             {scaling:12.2f} ({args.events} vs {small} events; 1.0 = linear)")
    print(f"storm_state_calls_per_1000 {per_1000:11.1f} at {args.calls_at} events (target <= 40)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
