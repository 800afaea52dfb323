"""The event model: values compared and hashed by their fields, changed copies made by evolve()."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from parsers.event import Action, AuditEvent, Source, evolve

AT = datetime(2026, 11, 23, 13, 7, 5, tzinfo=UTC)


def _event(**changes: object) -> AuditEvent:
    """A statement event with a secret in it and its raw line."""
    fields: dict[str, object] = {
        "source": Source.AURORA_MYSQL,
        "time": AT,
        "action": Action.QUERY_DCL,
        "user": "admin",
        "statement": "ALTER USER app IDENTIFIED BY 'x'",
        "raw": "1795000000000000,node,admin,…",
    }
    return AuditEvent(**{**fields, **changes})  # type: ignore[arg-type]


def test_events_with_equal_fields_are_equal_and_hash_alike() -> None:
    # GIVEN two events built from the same fields, and one differing in a single field
    first, second, other = _event(), _event(), _event(user="other")
    # WHEN comparing and hashing them
    # THEN equality and hashing go by the fields (events can key dicts and sets)
    assert first == second
    assert hash(first) == hash(second)
    assert first != other
    assert len({first, second, other}) == 2


@pytest.mark.parametrize(
    "changes",
    [
        {"statement": "ALTER USER app IDENTIFIED BY '***'", "raw": ""},
        {"status": "1045", "error_message": "denied"},
    ],
)
def test_evolve_is_dataclasses_replace_and_leaves_the_original_alone(changes: dict[str, object]) -> None:
    # GIVEN an event
    event = _event()
    # WHEN making a changed copy
    copy = evolve(event, **changes)
    # THEN it equals what dataclasses.replace makes, and the original is unchanged
    assert copy == dataclasses.replace(event, **changes)  # type: ignore[arg-type]
    assert event == _event()
    assert copy is not event


def test_evolve_refuses_a_field_the_event_does_not_have() -> None:
    # GIVEN an event
    # WHEN asking for a field that does not exist
    # THEN it fails loudly instead of silently ignoring the change
    with pytest.raises(KeyError):
        evolve(_event(), statment="typo")
