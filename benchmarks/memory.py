"""Peak RSS of a fresh interpreter running the CloudWatch-via-Kinesis handler on a ~6 MB Kinesis batch."""

from __future__ import annotations

import base64
import json
import resource
import subprocess
import sys
from pathlib import Path
from typing import Any

from benchmarks.quiet import clear_handler_env, quiet_handlers
from benchmarks.workloads import BenchContext, aurora_lines, subscription_payload

ROOT = Path(__file__).resolve().parent.parent
BATCH_BYTES = 6 * 1024 * 1024


def kinesis_batch(target_bytes: int = BATCH_BYTES) -> dict[str, Any]:
    """A Lambda Kinesis event of CloudWatch Logs payloads totalling about `target_bytes` of record data."""
    records, size, batch = [], 0, 0
    lines = aurora_lines(4000)
    while size < target_bytes:
        data = base64.b64decode(subscription_payload(lines, batch))
        text = base64.b64encode(data).decode("ascii")
        size += len(text)
        records.append(
            {
                "kinesis": {"data": text, "sequenceNumber": str(10**20 + batch), "partitionKey": "pk"},
                "eventSource": "aws:kinesis",
                "eventID": f"shardId-000000000000:{10**20 + batch}",
                "eventSourceARN": "arn:aws:kinesis:us-east-1:123456789012:stream/cwl-audit",
            }
        )
        batch += 1
    return {"Records": records}


def run_batch() -> float:
    """In this process: handle one ~6 MB batch and return the peak RSS in MB."""
    clear_handler_env()
    from handlers.cloudwatch_logs import kinesis_handler  # noqa: PLC0415 - after the environment is set

    event = kinesis_batch()
    with quiet_handlers():
        kinesis_handler(event, BenchContext())
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def measure_peak_rss_mb() -> float:
    """Peak RSS in MB of a fresh interpreter that builds and handles the batch."""
    code = "from benchmarks.memory import run_batch; print(run_batch())"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return float(json.loads(result.stdout.strip().splitlines()[-1]))
