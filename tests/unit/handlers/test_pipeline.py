"""The shared composition's counts: events per source slug, parse failures set aside."""

from __future__ import annotations

from handlers.pipeline import RunReport, accept_events
from parsers.event import Action, AuditEvent, ParseFailure, ParseResult, Source
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


def test_a_list_without_failures_is_counted_as_event_by_event() -> None:
    # GIVEN the same events as a list (a parsed payload) and as a stream
    events: list[ParseResult] = [make_event(n, source=source) for n, source in enumerate([*Source, *Source])]
    from_list, from_stream = RunReport(), RunReport()
    # WHEN accepting them
    accepted = list(accept_events(events, from_list))
    streamed = list(accept_events(iter(events), from_stream))
    # THEN both pass every event in order, with the same counts per source slug and no failure
    assert accepted == streamed == events
    assert from_list.events == from_stream.events == {source.value: 2 for source in Source}
    assert {type(name) for name in from_list.events} == {str}
    assert not from_list.parse_failures


def test_findings_are_counted_per_rule_and_returned_in_order() -> None:
    # GIVEN an engine over the built-in rules and a batch with two drops and a failed login
    from detections.catalogue import builtin_rules
    from detections.engine import DetectionEngine
    from detections.state import InMemoryStateStore
    from handlers.pipeline import detect

    engine = DetectionEngine(builtin_rules(), InMemoryStateStore())
    events = [
        make_event(0, statement="DROP TABLE a", query_id="0"),
        make_event(1, action=Action.FAILED_CONNECT, status="1045"),
        make_event(2, statement="DROP TABLE b", query_id="0"),
    ]
    report = RunReport()
    # WHEN detecting
    findings = detect(engine, events, report, unit_of="payload", units={"payload"})
    # THEN the findings come in observation order and the report counts them per rule
    assert [f.rule_id for f in findings] == ["drop-table", "failed-login", "drop-table"]
    assert report.findings == {"drop-table": 2, "failed-login": 1}
