"""Builders of the JSON documents replay accepts: stored samples, subscription payloads, Kinesis events."""

from __future__ import annotations

import base64
import gzip
import json
from pathlib import Path

SAMPLES = Path(__file__).resolve().parents[2] / "data" / "samples"

AURORA_LINE = "1603439251354761,database-1-instance-1,admin,1.34.6.81,30,966941,QUERY,world,'DROP TABLE t',0"


def load(name: str) -> object:
    """A stored JSON sample, decoded."""
    return json.loads((SAMPLES / name).read_text(encoding="utf-8"))


def gzip_b64(document: object) -> str:
    """base64(gzip(JSON)) as CloudWatch delivers it."""
    return base64.b64encode(gzip.compress(json.dumps(document).encode())).decode("ascii")


def kinesis_event(*payloads: bytes) -> dict[str, object]:
    """A Lambda Kinesis event carrying the given record payloads."""
    return {
        "Records": [
            {"kinesis": {"data": base64.b64encode(payload).decode("ascii")}, "eventSource": "aws:kinesis"}
            for payload in payloads
        ]
    }


def rds_subscription(messages: list[str]) -> dict[str, object]:
    """A decoded subscription payload from an Aurora MySQL audit log group."""
    return {
        "messageType": "DATA_MESSAGE",
        "owner": "123456789012",
        "logGroup": "/aws/rds/cluster/prod-aurora/audit",
        "logStream": "database-1-instance-1",
        "subscriptionFilters": ["audit-alerts"],
        "logEvents": [
            {
                "id": f"3700000000000000000000000000000000000000000000000000000{index}",
                "timestamp": 1603439251354,
                "message": message,
            }
            for index, message in enumerate(messages)
        ],
    }
