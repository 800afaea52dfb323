"""The one composition every entry point runs: parse results → events → findings, with a run report."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Set
from dataclasses import dataclass, field
from operator import attrgetter

from detections.engine import DetectionEngine, UnitOf
from detections.finding import Finding
from parsers.event import AuditEvent, ParseFailure, ParseResult, Source

logger = logging.getLogger(__name__)

FAILURE_SAMPLES = 20
# Each source's slug: `Source.value` is a descriptor call on Python 3.11 (~250 ns), paid per event.
_SOURCE_NAMES = {source: source.value for source in Source}
_rule_id_of = attrgetter("rule_id")
_source_of = attrgetter("source")
_ONLY_EVENTS = {AuditEvent}


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
    if isinstance(results, list) and set(map(type, results)) == _ONLY_EVENTS:
        # A parsed payload without failures, the usual batch: counted in one C pass, not per event.
        report.events.update(map(_SOURCE_NAMES.__getitem__, map(_source_of, results)))
        yield from results
        return
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
    unit_of: UnitOf | str | None = None,
    units: Set[str] = frozenset(),
) -> list[Finding]:
    """Run the engine over a batch and count its findings per rule and its rule errors in the report.

    `unit_of` names the re-delivered unit of each event (its payload or record; a string: the one unit
    of the whole batch), `units` all of them.
    """

    def count(findings: list[Finding]) -> None:
        """Count the findings per rule (one C pass), before a failing state store could lose them."""
        report.findings.update(map(_rule_id_of, findings))

    findings = engine.detect(events, unit_of, frozenset(units), before_commit=count)
    report.rule_errors = Counter(engine.counters.rule_errors)
    return findings
