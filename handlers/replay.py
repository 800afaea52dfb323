"""`audit-alerts replay`: the pipeline over files, with in-memory state, printed as a table or JSON."""

from __future__ import annotations

import heapq
import json
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TextIO

from detections.catalogue import builtin_rules
from detections.engine import DEFAULT_INTERNAL_USERS, DetectionEngine, EngineSettings
from detections.finding import Alert, Finding
from detections.noise import DEFAULT_SUPPRESSION, collapse
from detections.state import InMemoryStateStore
from detections.user_rules import load_rules_file
from handlers.pipeline import FailureSink, RunReport, accept_events, detect
from handlers.replay_decrypt import ReplayDecryptor
from handlers.replay_inputs import expand_paths, parse_input
from handlers.replay_output import alert_record, alert_table, finding_record, json_lines, summary
from parsers.event import AuditEvent, ParseFailure, Source

PROGRESS_MIN_BYTES = 20 * 1024 * 1024  # show progress by default only for inputs this large
PROGRESS_EVERY_SECONDS = 2.0


@dataclass(frozen=True, slots=True)
class ReplayOptions:
    """What the user asked replay to do."""

    paths: Sequence[str]
    forced_format: Source | None = None
    rules_file: str | None = None
    suppression_minutes: float | None = None
    findings_only: bool = False
    as_json: bool = False
    rejects_file: str | None = None
    progress: bool | None = None  # None: automatic (large inputs only)
    kms_endpoint_url: str | None = None  # decrypt activity-stream records through this KMS endpoint
    resource_id: str | None = None  # for encrypted records whose document names no stream


class _Progress:
    """Prints how far a long replay got, to stderr, at most every couple of seconds."""

    def __init__(self, stream: TextIO, enabled: bool) -> None:
        """Start the clock."""
        self.stream, self.enabled = stream, enabled
        self.events = 0
        self._last = time.monotonic()

    def tick(self, events: Iterator[AuditEvent]) -> Iterator[AuditEvent]:
        """Pass events through, reporting now and then."""
        for event in events:
            self.events += 1
            if (
                self.enabled
                and self.events % 5000 == 0
                and time.monotonic() - self._last >= PROGRESS_EVERY_SECONDS
            ):
                self._last = time.monotonic()
                print(f"progress: {self.events} events read", file=self.stream, flush=True)
            yield event


def _rejects_writer(stream: TextIO) -> FailureSink:
    """A sink writing unparsable records, raw text included, as JSON lines the user can recover."""

    def set_aside(failure: ParseFailure) -> None:
        record = {
            "location": failure.location,
            "source": failure.source,
            "reason": failure.reason,
            "raw": failure.raw,
        }
        stream.write(json.dumps(record, ensure_ascii=False) + "\n")

    return set_aside


def _engine_and_window(options: ReplayOptions) -> tuple[DetectionEngine, timedelta]:
    """Built-in rules (tuned and extended by the rules file) on fresh in-memory state, and the window."""
    rule_file = load_rules_file(options.rules_file) if options.rules_file else None
    rules = rule_file.apply(builtin_rules()) if rule_file else builtin_rules()
    internal = DEFAULT_INTERNAL_USERS
    if rule_file is not None and rule_file.internal_users is not None:
        internal = rule_file.internal_users
    window = DEFAULT_SUPPRESSION
    if options.suppression_minutes is not None:
        window = timedelta(minutes=options.suppression_minutes)
    elif rule_file is not None and rule_file.suppression_minutes is not None:
        window = timedelta(minutes=rule_file.suppression_minutes)
    return DetectionEngine(rules, InMemoryStateStore(), EngineSettings(internal_users=internal)), window


def replay_findings(
    options: ReplayOptions, report: RunReport, err: TextIO
) -> tuple[list[Finding], timedelta]:
    """Every finding over the inputs (merged by event time), in time order, and the suppression window."""
    files = expand_paths(options.paths)
    engine, window = _engine_and_window(options)
    large = sum(f.size for f in files) >= PROGRESS_MIN_BYTES
    progress = _Progress(err, large if options.progress is None else options.progress)
    with ExitStack() as stack:
        set_aside = None
        if options.rejects_file:
            set_aside = _rejects_writer(
                stack.enter_context(Path(options.rejects_file).open("w", encoding="utf-8"))
            )
        # Rotated and per-instance files interleave: merge by event time; ties keep file order.
        # One decryptor for all files: its KMS client is built on the first encrypted record, and its
        # data-key cache spans every input.
        decryptor = ReplayDecryptor(endpoint_url=options.kms_endpoint_url, resource_id=options.resource_id)
        streams = [
            accept_events(parse_input(f, options.forced_format, decryptor), report, set_aside) for f in files
        ]
        events = progress.tick(heapq.merge(*streams, key=lambda e: e.time))
        findings = sorted(detect(engine, events, report), key=lambda f: f.event.time)
    return findings, window


def run_replay(options: ReplayOptions, out: TextIO, err: TextIO) -> int:
    """Replay the inputs and print alerts (or findings) and a summary; return the exit code."""
    report = RunReport()
    findings, window = replay_findings(options, report, err)
    if options.findings_only:
        shown = [Alert(f, 1, f.event.time, f.event.time) for f in findings]
        records = [finding_record(f) for f in findings]
        alert_count = None
    else:
        shown = collapse(findings, window)
        report.alerts.update(alert.rule_id for alert in shown)
        records = [alert_record(a) for a in shown]
        alert_count = len(shown)
    body = list(json_lines(records)) if options.as_json else [*alert_table(shown), ""]
    for line in body:
        print(line, file=out)
    for line in summary(report, alert_count):
        print(line, file=err if options.as_json else out)
    return 0
