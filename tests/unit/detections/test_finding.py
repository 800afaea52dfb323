"""The event a finding shows: secrets masked, raw text dropped, every other field kept."""

from __future__ import annotations

from dataclasses import fields

import pytest

from detections.finding import redacted
from detections.redaction import redact_statement
from parsers.event import Action, AuditEvent, Source, evolve
from tests.factories import make_event

EVENTS = [
    make_event(0, statement="DROP TABLE ü", raw="1,vm,app,DROP TABLE ü", event_id="7", location="f:1"),
    make_event(0, statement="CREATE USER a IDENTIFIED BY 'pw'", raw="… IDENTIFIED BY 'pw'", status="1"),
    make_event(0, action=Action.FAILED_CONNECT, statement=None, raw="login", error_message="denied"),
    make_event(0, statement="", raw="x", statement_truncated=True, source=Source.POSTGRES),
    make_event(0, statement="SELECT 1", raw=""),
]


@pytest.mark.parametrize("event", EVENTS)
def test_the_shown_event_is_the_event_redacted_without_raw_text(event: AuditEvent) -> None:
    # GIVEN an event with or without a secret, a statement, raw text
    statement = redact_statement(event.statement) if event.statement else event.statement
    # WHEN shown in a finding
    shown = redacted(event)
    # THEN it equals the event with its statement redacted and no raw text, field by field
    assert shown == evolve(event, statement=statement, raw="")
    assert repr(shown) == repr(evolve(event, statement=statement, raw=""))


def test_an_event_with_nothing_to_hide_is_shown_as_it_is() -> None:
    # GIVEN an event without raw text whose statement holds no secret
    event = EVENTS[-1]
    # WHEN shown
    # THEN the same object is used
    assert redacted(event) is event


def test_every_field_but_the_raw_text_is_copied_to_the_shown_event() -> None:
    # GIVEN an event whose every field holds a value of its own (none a default), without a secret
    values = {f.name: f"value of {f.name}" for f in fields(AuditEvent) if f.type in ("str", "str | None")}
    event = make_event(3, **{**values, "statement": "DROP TABLE t", "statement_truncated": True})
    assert all(getattr(event, f.name) != f.default for f in fields(AuditEvent))
    # WHEN shown
    shown = redacted(event)
    # THEN each field equals the event's, the raw text is empty, and it is another object
    for f in fields(AuditEvent):
        assert getattr(shown, f.name) == ("" if f.name == "raw" else getattr(event, f.name)), f.name
    assert shown == evolve(event, raw="")
    assert shown is not event
