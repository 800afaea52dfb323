"""Findings of a text audit log through parse → correlate → detect, with or without the fast path.

The fast path is the pre-filter plus the engine's rule index; without it, every rule is stripped of
its declared needs, so the engine calls every rule on every observation and nothing is filtered.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from detections.catalogue import builtin_rules
from detections.engine import DetectionEngine
from detections.rule import Rule
from detections.rule_needs import prefilter_for
from detections.state import InMemoryStateStore
from handlers.pipeline import RunReport, accept_events, detect
from parsers.dialects import parser_for, sniff_source
from parsers.event import AuditEvent
from parsers.records import Origin, RawRecord

FindingKey = tuple[str, str, str, str]  # rule, title, dedup key, event location


@dataclass(frozen=True)
class Outcome:
    """The findings of one run and how many records the pre-filter dropped."""

    findings: frozenset[FindingKey]
    prefiltered: int


def file_lines(path: Path) -> list[str]:
    """A log file's physical lines, as replay reads them."""
    return path.read_text(encoding="utf-8", errors="replace").splitlines()


def findings_of(
    lines: Sequence[str], name: str, *, prefiltered: bool, rules: Sequence[Rule] | None = None
) -> Outcome:
    """Run the built-in rules over a text log, the fast path (pre-filter and rule index) on or off."""
    records = [RawRecord(text=line, location=f"{name}:{n}") for n, line in enumerate(lines, 1)]
    source = sniff_source(lines)
    assert source is not None, f"{name} is no known text audit format"
    declared = tuple(rules) if rules is not None else builtin_rules()
    prefilter = prefilter_for(rule.needs for rule in declared) if prefiltered else None
    kept = records if prefilter is None else prefilter.records(source, records)
    report = RunReport()
    engine_rules = declared if prefiltered else [dataclasses.replace(r, needs=None) for r in declared]
    engine = DetectionEngine(engine_rules, InMemoryStateStore())
    events = accept_events(parser_for(source)(kept, Origin(cluster="bench")), report)
    found = frozenset(
        (f.rule_id, f.title, f.dedup_key, f.event.location) for f in detect(engine, events, report)
    )
    return Outcome(found, prefilter.dropped if prefilter is not None else 0)


def engine_findings(events: Sequence[AuditEvent], *, indexed: bool) -> frozenset[FindingKey]:
    """Findings of the built-in rules over parsed events, the rule index on (declared needs) or off."""
    rules = builtin_rules() if indexed else [dataclasses.replace(r, needs=None) for r in builtin_rules()]
    engine = DetectionEngine(rules, InMemoryStateStore())
    return frozenset((f.rule_id, f.title, f.dedup_key, f.event.location) for f in engine.detect(events))
