"""`python -m benchmarks`: every speed figure against its floor or target, measured in one run.

    python -m benchmarks [--json] [--repeat R] [--payloads P] [--lines L] [--storm-events N]

A table by default; `--json` prints one JSON object with exactly the keys in KEYS.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence

from benchmarks.activity_stream import measure_activity_stream
from benchmarks.cloudwatch import measure_cloudwatch
from benchmarks.imports import measure_imports
from benchmarks.memory import measure_peak_rss_mb
from benchmarks.storm import measure_storm

DEFAULT_STORM_EVENTS = 10_000  # the storm: one key, one payload

# key → (what it is, target as written in issue 11)
KEYS: dict[str, tuple[str, str]] = {
    "cwl_events_per_s": ("CloudWatch handler, events/s", ""),
    "cwl_floor_events_per_s": ("base64+gunzip+json floor, events/s", ""),
    "cwl_ratio": ("CloudWatch / floor", ">= 0.15 (goal 0.5)"),
    "das_events_per_s": ("Activity Stream handler, events/s", ""),
    "das_floor_events_per_s": ("ESDK decrypt+gunzip+json floor, events/s", ""),
    "das_ratio": ("Activity Stream / floor", ">= 0.8"),
    "kms_calls_per_1000_records": ("KMS Decrypt calls per 1,000 records", "= data keys"),
    "distinct_data_keys": ("distinct data keys in the batch", ""),
    "import_ratio_cloudwatch": ("import handlers.cloudwatch_logs / import boto3", "<= 1.4"),
    "import_ratio_activity_stream": ("import handlers.activity_stream / import boto3", "<= 1.8"),
    "peak_rss_mb": ("peak RSS on a 6 MB Kinesis batch, MB", "<= 256"),
    "storm_events_per_s": ("storm of failed logins, events/s", ""),
    "storm_state_calls_per_1000": ("DynamoDB calls per 1,000 storm events", ""),
}


def measure(repeat: int, payloads: int, lines: int, storm_events: int, das_records: int) -> dict[str, float]:
    """Run every benchmark once and return the figures by key."""
    cwl = measure_cloudwatch(payloads=payloads, lines=lines, repeat=repeat)
    das = measure_activity_stream(records=das_records, repeat=repeat)
    imports = measure_imports(repeat=max(repeat, 5))
    storm = measure_storm(storm_events)
    return {
        "cwl_events_per_s": cwl.events_per_s,
        "cwl_floor_events_per_s": cwl.floor_events_per_s,
        "cwl_ratio": cwl.ratio,
        "das_events_per_s": das.events_per_s,
        "das_floor_events_per_s": das.floor_events_per_s,
        "das_ratio": das.ratio,
        "kms_calls_per_1000_records": das.kms_calls * 1000 / das.records,
        "distinct_data_keys": float(das.distinct_data_keys),
        "import_ratio_cloudwatch": imports.ratio("cloudwatch"),
        "import_ratio_activity_stream": imports.ratio("activity_stream"),
        "peak_rss_mb": measure_peak_rss_mb(),
        "storm_events_per_s": storm.events_per_s,
        "storm_state_calls_per_1000": storm.state_calls_per_1000,
    }


def _table(figures: dict[str, float]) -> str:
    """The figures as an aligned text table with their targets."""
    rows = [f"{'key':30} {'value':>12}  {'target':20} what"]
    for key, (what, target) in KEYS.items():
        value = figures[key]
        shown = f"{value:12,.0f}" if abs(value) >= 100 else f"{value:12.3f}"
        rows.append(f"{key:30} {shown}  {target:20} {what}")
    return "\n".join(rows)


def main(argv: Sequence[str] | None = None) -> int:
    """Measure and print the table (or one JSON object with --json)."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--repeat", type=int, default=5, help="best-of / median over this many runs")
    parser.add_argument("--payloads", type=int, default=10)
    parser.add_argument("--lines", type=int, default=1000, help="log lines per CloudWatch payload")
    parser.add_argument("--das-records", type=int, default=60)
    parser.add_argument("--storm-events", type=int, default=DEFAULT_STORM_EVENTS)
    args = parser.parse_args(argv)
    if min(args.repeat, args.payloads, args.lines, args.das_records, args.storm_events) < 1:
        parser.error("every count must be at least 1")
    figures = measure(args.repeat, args.payloads, args.lines, args.storm_events, args.das_records)
    if not all(math.isfinite(value) for value in figures.values()):
        print("a benchmark produced a non-finite figure", file=sys.stderr)
        return 1
    print(f"storm events used: {args.storm_events}", file=sys.stderr)
    print(json.dumps(figures) if args.json else _table(figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
