"""Benchmark inputs built in code: real-layout audit lines, subscription payloads, a Lambda context."""

from __future__ import annotations

import base64
import gzip
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
MARIADB_LOG = ROOT / "examples" / "real-servers" / "mariadb" / "server_audit.log"
AURORA_GROUP = "/aws/rds/cluster/bench-cluster/audit"
AURORA_STREAM = "bench-cluster-instance-1.audit.log.0.2026-11-23-13-00.0.0"
ACCOUNT = "123456789012"
START_US = 1_795_000_000_000_000  # 2026-11-18, microseconds since the epoch


@dataclass
class BenchContext:
    """The LambdaContext attributes Powertools and the handlers read."""

    function_name: str = "aurora-audit-alerts-bench"
    function_version: str = "$LATEST"
    invoked_function_arn: str = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:aurora-audit-alerts-bench"
    memory_limit_in_mb: int = 256
    aws_request_id: str = "00000000-0000-4000-8000-000000000000"
    log_group_name: str = "/aws/lambda/aurora-audit-alerts-bench"
    log_stream_name: str = "2026/11/23/[$LATEST]bench"

    def get_remaining_time_in_millis(self) -> int:
        """A generous fixed remaining time."""
        return 900_000


def _long_statement(n: int) -> str:
    """A long multi-row INSERT (~2 KB) as an application writes it, escaped like the audit plugin."""
    rows = ",".join(f"({n * 100 + i},\\'customer {i}, ltd\\',{i * 3}.50)" for i in range(40))
    return f"'INSERT INTO orders (id, customer, total) VALUES {rows}'"


def aurora_lines(count: int) -> list[str]:
    """`count` Aurora MySQL audit lines re-laid from the real MariaDB server_audit log.

    Every real line keeps its user, host, query id, operation, database and object; the timestamp
    becomes Aurora's epoch microseconds (one millisecond apart), the server host an Aurora instance,
    and each pass over the log gets new connection ids. Every tenth line is a long multi-row INSERT
    (DML), as applications write them.
    """
    real = [line for line in MARIADB_LOG.read_text(encoding="utf-8").splitlines() if line]
    lines = []
    for n in range(count):
        timestamp = START_US + n * 1000
        if n % 10 == 9:
            fields = ["bench-cluster-instance-1", "app", "10.0.3.17", "900", str(n), "QUERY", "shop"]
            lines.append(",".join([str(timestamp), *fields, _long_statement(n), "0"]))
            continue
        _ts, _server, user, host, connection, rest = real[n % len(real)].split(",", 5)
        # Each pass over the real log is new connections, as on a server that keeps running.
        connection = str(int(connection) + 1000 * (n // len(real)))
        lines.append(f"{timestamp},bench-cluster-instance-1,{user},{host},{connection},{rest}")
    return lines


def subscription_payload(lines: Sequence[str], batch: int, log_group: str = AURORA_GROUP) -> str:
    """base64(gzip(json)) of the CloudWatch Logs subscription document carrying `lines`."""
    base_ms = START_US // 1000
    document = {
        "messageType": "DATA_MESSAGE",
        "owner": ACCOUNT,
        "logGroup": log_group,
        "logStream": AURORA_STREAM,
        "subscriptionFilters": ["aurora-audit-alerts"],
        "logEvents": [
            {"id": f"{batch:08d}{n:012d}", "timestamp": base_ms + n, "message": line}
            for n, line in enumerate(lines)
        ],
    }
    compressed = gzip.compress(json.dumps(document).encode("utf-8"), mtime=0)
    return base64.b64encode(compressed).decode("ascii")


def cloudwatch_payloads(payloads: int, lines_per_payload: int) -> list[str]:
    """`payloads` subscription payloads of `lines_per_payload` mixed Aurora MySQL lines each."""
    lines = aurora_lines(payloads * lines_per_payload)
    return [
        subscription_payload(lines[i * lines_per_payload : (i + 1) * lines_per_payload], i)
        for i in range(payloads)
    ]


def decode_floor(payload: str) -> int:
    """The least any consumer must do: base64 + gunzip + json; returns the number of log events."""
    document: dict[str, Any] = json.loads(gzip.decompress(base64.b64decode(payload)))
    return len(document["logEvents"])


def best_of(repeat: int, work: Callable[[], object], clock: Callable[[], float] = time.perf_counter) -> float:
    """The fastest of `repeat` runs in seconds (the run least disturbed by other processes).

    In-process work is timed with `time.process_time` (CPU seconds of this process): on a shared
    machine a longer run is more often preempted than its short floor, which wall-clock time would
    count against it. Work in child processes (cold imports) needs the default wall clock.
    """
    timings = []
    for _ in range(repeat):
        start = clock()
        work()
        timings.append(clock() - start)
    return min(timings)


CPU = time.process_time  # the clock for in-process measurements (see best_of)


def bench_time(n: int) -> str:
    """An ISO timestamp n milliseconds after the workload's start (for DAS events)."""
    seconds = START_US / 1_000_000 + n / 1000
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M:%S.%f+00")
