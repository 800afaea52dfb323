"""CloudWatch batches: the pre-filtered parse equals parsing the kept records; `in_batch_order` gives
exactly `sorted(..., key=batch_order)`."""

from __future__ import annotations

import random
from datetime import datetime

import pytest

from benchmarks.workloads import aurora_lines, subscription_payload
from detections.catalogue import builtin_rules
from detections.engine import batch_order
from detections.rule_needs import prefilter_for
from handlers.log_batches import in_batch_order, parse_log_batch
from parsers.cloudwatch_logs import decode_cloudwatch_payload
from parsers.event import AuditEvent, Source
from parsers.log_groups import origin_for_log_group, source_for_log_group
from parsers.mysql_audit import parse_mysql_audit
from tests.factories import make_event


def test_a_prefiltered_mysql_batch_parses_as_its_kept_records_do() -> None:
    # GIVEN a benchmark payload (Aurora lines, long INSERTs, groups) and the built-in rules' pre-filters
    batch = decode_cloudwatch_payload(subscription_payload(aurora_lines(2000), 0))
    splitting, listing = (prefilter_for(rule.needs for rule in builtin_rules()) for _ in range(2))
    assert splitting is not None
    assert listing is not None
    # WHEN the batch is parsed through the pre-filter's split, and its kept records parsed alone
    results = parse_log_batch(batch, splitting)
    origin = origin_for_log_group(batch.log_group, batch.log_stream)
    source = source_for_log_group(batch.log_group)
    assert source is Source.AURORA_MYSQL
    expected = list(parse_mysql_audit(listing.records(source, batch.records), origin))
    # THEN the results and the dropped counts are the same
    assert results == expected
    assert [repr(r.time) for r in results if isinstance(r, AuditEvent)] == [
        repr(r.time) for r in expected if isinstance(r, AuditEvent)
    ]
    assert splitting.dropped == listing.dropped > 0


def _events(seconds_and_ids: list[tuple[float, str]]) -> list[AuditEvent]:
    """Events at T0 + seconds with these event ids."""
    return [make_event(seconds, event_id=event_id) for seconds, event_id in seconds_and_ids]


def test_strictly_increasing_times_keep_the_batch_as_it_is() -> None:
    # GIVEN events whose times strictly increase but whose ids would sort otherwise
    events = _events([(0, "9"), (1, "10"), (2, "1")])
    # WHEN they are put in batch order
    ordered = in_batch_order(events)
    # THEN the order is unchanged, which is what sorting by batch_order gives too
    assert ordered == events
    assert ordered == sorted(events, key=batch_order)


@pytest.mark.parametrize(
    "seconds_and_ids",
    [
        [(1, "a"), (0, "b")],  # out of order in time
        [(0, "10"), (0, "9")],  # same time: the shorter id first
        [(0, "b"), (0, "a"), (1, "c")],  # same time and length: by id
        [(0, "a"), (0, "a")],  # equal keys: stable
        [],
        [(5, "x")],
    ],
)
def test_any_other_batch_is_sorted_by_batch_order(seconds_and_ids: list[tuple[float, str]]) -> None:
    # GIVEN a batch that is not strictly increasing in time (or too small to be out of order)
    events = _events(seconds_and_ids)
    # WHEN it is put in batch order
    ordered = in_batch_order(events)
    # THEN it is exactly what sorted(key=batch_order) gives, ties kept in arrival order
    assert [id(event) for event in ordered] == [id(event) for event in sorted(events, key=batch_order)]


def test_shuffled_batches_match_sorted_order() -> None:
    # GIVEN many shuffled batches with repeated times and ids of different lengths
    rng = random.Random(11)
    for _ in range(200):
        events = _events([(rng.randrange(5), str(rng.randrange(200))) for _ in range(rng.randrange(12))])
        # WHEN each is put in batch order
        ordered = in_batch_order(events)
        # THEN each equals sorted(key=batch_order), object for object
        assert [id(e) for e in ordered] == [id(e) for e in sorted(events, key=batch_order)]


def test_naive_and_aware_times_fail_as_sorting_does() -> None:
    # GIVEN a batch mixing a naive time with aware ones
    events = [make_event(0), make_event(1, time=datetime(2024, 5, 1, 10, 0, 30))]
    # WHEN it is put in batch order
    # THEN the comparison fails as sorted(key=batch_order) does
    with pytest.raises(TypeError):
        sorted(events, key=batch_order)
    with pytest.raises(TypeError):
        in_batch_order(events)
