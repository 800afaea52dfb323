"""Findings of decrypted Activity Stream records through the handler's parse → detect, pre-filter on or off.

The records are one Kinesis batch, each its own unit, parsed by the handler's own `parse_decrypted`
and detected in batch order as `process_activity_batch` does. Without the fast path every rule is
stripped of its declared needs (no pre-filter, no rule index): every rule sees every observation.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from detections.catalogue import builtin_rules
from detections.engine import DetectionEngine, batch_order
from detections.finding import Finding
from detections.rule import Rule
from detections.rule_needs import activity_prefilter_for
from detections.state import InMemoryStateStore
from handlers.activity_stream_batch import DecryptedRecord, parse_decrypted
from handlers.pipeline import RunReport, accept_events, detect
from parsers.event import AuditEvent

# rule, title, dedup key, event id, event location, objects
DasFindingKey = tuple[str, str, str, str, str, tuple[str, ...]]


@dataclass(frozen=True)
class DasOutcome:
    """The findings of one run (sorted, duplicates kept), the events parsed, and how many were dropped."""

    findings: list[DasFindingKey]
    events: int
    prefiltered: int


def finding_key(finding: Finding) -> DasFindingKey:
    """What must not change about a finding."""
    event = finding.event
    rule, title, dedup_key = finding.rule_id, finding.title, finding.dedup_key
    return (rule, title, dedup_key, event.event_id, event.location, finding.objects)


def das_findings_of(
    records: Sequence[Mapping[str, object]], *, prefiltered: bool, rules: Sequence[Rule] | None = None
) -> DasOutcome:
    """Run the rules (default: built-in) over decrypted records as one batch, the fast path on or off."""
    declared = tuple(rules) if rules is not None else builtin_rules()
    decrypted = {
        f"seq-{n}": DecryptedRecord(dict(record), f"cluster-TEST/seq-{n}") for n, record in enumerate(records)
    }
    prefilter = activity_prefilter_for(rule.needs for rule in declared) if prefiltered else None
    report = RunReport()
    record_of: dict[str, str] = {}
    events: list[AuditEvent] = []
    for key, results in parse_decrypted(decrypted.items(), prefilter):
        for event in accept_events(results, report):
            record_of[event.location] = key
            events.append(event)
    engine_rules = declared if prefiltered else [dataclasses.replace(r, needs=None) for r in declared]
    engine = DetectionEngine(engine_rules, InMemoryStateStore())
    found = detect(
        engine,
        sorted(events, key=batch_order),
        report,
        unit_of=lambda event: record_of.get(event.location, ""),
        units=set(decrypted),
    )
    return DasOutcome(
        findings=sorted(finding_key(f) for f in found),
        events=len(events),
        prefiltered=prefilter.dropped if prefilter is not None else 0,
    )
