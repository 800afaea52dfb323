"""The shared composition's counts: events per source slug, parse failures set aside."""

from __future__ import annotations

from handlers.pipeline import RunReport, accept_events
from parsers.event import AuditEvent, ParseFailure, ParseResult, Source
from tests.factories import make_event


def test_events_are_counted_per_source_slug_and_failures_set_aside() -> None:
    # GIVEN events of every source and one unparsable record
    results: list[ParseResult] = [make_event(n, source=source) for n, source in enumerate(Source)]
    results.append(make_event(9, source=Source.AURORA_MYSQL))
    failure = ParseFailure("mysql_audit", "bad line", "raw text", "f:3")
    results.insert(1, failure)
    report, aside = RunReport(), []
    # WHEN accepting them
    accepted: list[AuditEvent] = list(accept_events(results, report, aside.append))
    # THEN the events pass in order, counted under each source's plain string slug
    assert accepted == [r for r in results if isinstance(r, AuditEvent)]
    assert report.events == {"aurora_mysql": 2, "mysql_audit": 1, "postgres": 1, "activity_stream": 1}
    assert {type(name) for name in report.events} == {str}
    # AND the failure is counted and set aside, not passed on
    assert (dict(report.parse_failures), aside) == ({"mysql_audit": 1}, [failure])
