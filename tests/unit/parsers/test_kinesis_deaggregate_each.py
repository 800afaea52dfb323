"""deaggregate_each: readable parents split into user records, unreadable ones returned with the reason."""

from __future__ import annotations

from parsers.kinesis_records import AggregationError, deaggregate_each
from tests.das_fixtures import POSTGRES_CLUSTER_ID, corrupt_kpl_checksum, kinesis_record, kpl_aggregate


def test_a_corrupt_aggregate_is_set_apart_and_the_others_still_split() -> None:
    # GIVEN a plain record, a corrupt aggregate and a good aggregate of two payloads
    plain = kinesis_record(b"plain", resource_id=POSTGRES_CLUSTER_ID, index=0)
    corrupt = kinesis_record(
        corrupt_kpl_checksum(kpl_aggregate([b"a"])), resource_id=POSTGRES_CLUSTER_ID, index=1
    )
    good = kinesis_record(kpl_aggregate([b"x", b"y"]), resource_id=POSTGRES_CLUSTER_ID, index=2)
    # WHEN de-aggregating each
    records, unreadable = deaggregate_each([plain, corrupt, good])
    # THEN three user records come out, and the corrupt parent with an AggregationError
    assert [r["kinesis"]["sequenceNumber"] for r in records] == [
        plain["kinesis"]["sequenceNumber"],
        good["kinesis"]["sequenceNumber"],
        good["kinesis"]["sequenceNumber"],
    ]
    assert [(parent is corrupt, type(error)) for parent, error in unreadable] == [(True, AggregationError)]
