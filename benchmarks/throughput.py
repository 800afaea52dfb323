"""Parse and detect throughput per dialect, as a ratio to a floor measured in the same run.

The floor is the least work any reader of these logs must do: iterate the lines and split each on
commas. Ratios stay comparable across machines where absolute numbers do not.

    python -m benchmarks.throughput [--lines N] [--repeat R]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from benchmarks.workloads import CPU, best_of
from detections.catalogue import builtin_rules
from detections.engine import DetectionEngine
from detections.state import InMemoryStateStore
from parsers.dialects import parser_for
from parsers.event import AuditEvent, Source
from parsers.records import Origin, RawRecord

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = {
    Source.MYSQL_AUDIT: ROOT / "examples" / "real-servers" / "mariadb" / "server_audit.log",
    Source.POSTGRES: ROOT / "examples" / "real-servers" / "postgresql" / "postgresql.log",
}


def workload(source: Source, lines: int) -> list[str]:
    """Real-server lines repeated to `lines` physical lines."""
    sample = EXAMPLES[source].read_text(encoding="utf-8").split("\n")
    sample = [line for line in sample if line]
    return [sample[i % len(sample)] for i in range(lines)]


def floor(lines: Sequence[str]) -> int:
    """The floor: split every line on commas."""
    return sum(len(line.split(",")) for line in lines)


def parse(source: Source, lines: Sequence[str]) -> list[AuditEvent]:
    """Parse the lines with the dialect's parser."""
    records = [RawRecord(text=line, location=f"bench:{n}") for n, line in enumerate(lines, 1)]
    return [e for e in parser_for(source)(records, Origin()) if isinstance(e, AuditEvent)]


def detect(events: Sequence[AuditEvent]) -> int:
    """Run every built-in rule over the events."""
    engine = DetectionEngine(builtin_rules(), InMemoryStateStore())
    return sum(1 for _ in engine.detect(events))


def cold_start_ratio(repeat: int) -> tuple[float, float]:
    """Seconds to import the CloudWatch handler in a fresh interpreter, and to start a bare one."""

    def run(code: str) -> float:
        return best_of(repeat, lambda: subprocess.run([sys.executable, "-c", code], check=True))

    return run("import handlers.cloudwatch_logs"), run("pass")


def main(argv: Sequence[str] | None = None) -> int:
    """Print one line per measurement: what, absolute rate, ratio to the floor."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    print(f"lines per dialect: {args.lines}, best of {args.repeat}")
    for source in EXAMPLES:
        lines = workload(source, args.lines)
        floor_s = best_of(args.repeat, lambda lines=lines: floor(lines), CPU)
        parse_s = best_of(args.repeat, lambda lines=lines, source=source: parse(source, lines), CPU)
        events = parse(source, lines)
        detect_s = best_of(args.repeat, lambda events=events: detect(events), CPU)
        for what, seconds in (("parse", parse_s), ("detect", detect_s)):
            rate = args.lines / seconds
            print(f"{source.value:12} {what:7} {rate:12,.0f} lines/s  {seconds / floor_s:8.1f}x floor")
    handler_s, bare_s = cold_start_ratio(args.repeat)
    print(
        f"cold_start   import  {handler_s * 1000:9.0f} ms        {handler_s / bare_s:8.1f}x bare interpreter"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
