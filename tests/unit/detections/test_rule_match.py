"""`Match.of`: the keyword-friendly constructor rules call per match, pinned to the Match fields."""

from __future__ import annotations

import inspect
from dataclasses import MISSING, fields

from detections.rule import MEASURED, Match


def test_match_of_takes_exactly_the_fields_of_match_in_order_with_their_defaults() -> None:
    # GIVEN the fields of Match and the parameters of Match.of
    declared = [(field.name, field.default) for field in fields(Match)]
    parameters = inspect.signature(Match.of).parameters.values()
    # WHEN both are listed as (name, default)
    taken = [(p.name, MISSING if p.default is inspect.Parameter.empty else p.default) for p in parameters]
    # THEN they are the same list: a field added to Match and missed by Match.of fails here
    assert taken == declared


def test_match_of_builds_the_match_the_class_builds_from_the_same_keywords() -> None:
    # GIVEN every field given by keyword, and only the required ones
    full = {
        "title": "Brute force: 5 failed logins for bob from 10.0.0.9 in 40 s",
        "dedup_key": "c1|bob|10.0.0.9",
        "context": ((MEASURED, "5 failed logins in 40 s"),),
        "objects": ("app.users",),
        "measured": True,
        "tally": "failed logins for bob from 10.0.0.9",
    }
    required = {"title": "Failed login for bob", "dedup_key": "c1|bob|10.0.0.9"}
    # WHEN each is built by Match.of and by Match itself
    built = [(Match.of(**given), Match(**given)) for given in (full, required)]  # type: ignore[arg-type]
    # THEN both ways give equal matches, field by field
    for by_of, by_class in built:
        assert by_of == by_class
        assert type(by_of) is Match
