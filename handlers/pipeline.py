"""The one composition every entry point runs: parse results → events → findings, with a run report."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Set
from dataclasses import dataclass, field

from detections.engine import DetectionEngine, UnitOf
from detections.finding import Finding
from parsers.event import AuditEvent, ParseFailure, ParseResult, Source

logger = logging.getLogger(__name__)

FAILURE_SAMPLES = 20
# Each source's slug: `Source.value` is a descriptor call on Python 3.11 (~250 ns), paid per event.
_SOURCE_NAMES = {source: source.value for source in Source}


@dataclass
class RunReport:
    """What one run did: events per source, parse failures, findings per rule, alerts."""

    events: Counter[str] = field(default_factory=Counter)
    parse_failures: Counter[str] = field(default_factory=Counter)
    failure_samples: list[ParseFailure] = field(default_factory=list)
    findings: Counter[str] = field(default_factory=Counter)
    rule_errors: Counter[str] = field(default_factory=Counter)
    alerts: Counter[str] = field(default_factory=Counter)
    prefiltered: int = 0  # records dropped unparsed: no enabled rule could match them

    def note_failure(self, failure: ParseFailure) -> None:
        """Count a parse failure and keep the first few for the summary."""
        self.parse_failures[failure.source] += 1
        if len(self.failure_samples) < FAILURE_SAMPLES:
            self.failure_samples.append(failure)


FailureSink = Callable[[ParseFailure], None]


def accept_events(
    results: Iterable[ParseResult], report: RunReport, set_aside: FailureSink | None = None
) -> Iterator[AuditEvent]:
    """Yield the events, counting them; count, log (without raw text) and set aside the failures."""
    for result in results:
        if isinstance(result, ParseFailure):
            report.note_failure(result)
            logger.warning("unparsable %s record at %s: %s", result.source, result.location, result.reason)
            if set_aside is not None:
                set_aside(result)
            continue
        report.events[_SOURCE_NAMES[result.source]] += 1
        yield result


def detect(
    engine: DetectionEngine,
    events: Iterable[AuditEvent],
    report: RunReport,
    *,
    unit_of: UnitOf | None = None,
    units: Set[str] = frozenset(),
) -> Iterator[Finding]:
    """Run the engine over a batch and keep the report's finding counts in step with it.

    `unit_of` names the re-delivered unit of each event (its payload or record), `units` all of them.
    """
    for finding in engine.detect(events, unit_of, frozenset(units)):
        report.findings[finding.rule_id] += 1
        yield finding
    report.rule_errors = Counter(engine.counters.rule_errors)
