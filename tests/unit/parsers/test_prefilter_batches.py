"""One pre-filter's remembered answers serve every batch of a container; each batch decides alone."""

from __future__ import annotations

from benchmarks.workloads import aurora_lines
from handlers.runtime import Runtime
from handlers.settings import Settings
from parsers.event import Source
from parsers.prefilter import Prefilter
from parsers.records import RawRecord
from tests.unit.detections.test_prefilter_edges import CASES
from tests.unit.parsers.test_mysql_audit_fast_path import MYSQL_LOGS, TRICKY_LINES
from tests.unit.parsers.test_prefilter_split import NEEDS


def _records(lines: list[str]) -> list[RawRecord]:
    """Records as CloudWatch delivers them for the given lines."""
    return [RawRecord(line, f"g/s#{n}", str(n), 1_700_000_000_000 + n) for n, line in enumerate(lines, 1)]


def _batches() -> list[list[RawRecord]]:
    """Batches a container meets in turn: benchmark payloads, bundled logs, edge lines, repeats."""
    lines = aurora_lines(3000)
    batches = [lines[start : start + 1000] for start in range(0, len(lines), 1000)]
    batches += [path.read_text(encoding="utf-8", errors="replace").splitlines() for path in MYSQL_LOGS]
    batches.append([*TRICKY_LINES, *(line for case in CASES.values() for line in case)])
    return [_records(batch) for batch in [*batches, *batches]]


def test_batches_decided_with_shared_answers_equal_batches_decided_afresh() -> None:
    # GIVEN the batches a warm container meets, for every set of rule needs
    for keywords, actions in NEEDS:
        shared = Prefilter(keywords, actions)
        for records in _batches():
            source = Source.AURORA_MYSQL if records[0].text[:16].isdigit() else Source.MYSQL_AUDIT
            # WHEN one batch is decided by a pre-filter sharing what earlier batches remembered, and by
            # a fresh one
            batch, fresh = shared.for_batch(), Prefilter(keywords, actions)
            # THEN the same records are kept, split and counted
            assert batch.split_records(source, records) == fresh.split_records(source, records)
            assert batch.dropped == fresh.dropped
        assert shared.dropped == 0  # every count stayed with its batch


def test_a_table_line_of_one_batch_keeps_no_query_line_of_the_next() -> None:
    # GIVEN a batch whose DROP TABLE line announces query 9 of connection 7, and a next batch holding
    # a plain statement of the same ids
    announcing = _records(
        [
            "1700000000000000,i1,u,h,7,9,DROP,shop,t,0",
            "1700000000000001,i1,u,h,7,9,QUERY,shop,'DROP TABLE t',0",
        ]
    )
    plain = _records(["1700000000000002,i1,u,h,7,9,QUERY,shop,'SELECT 1',0"])
    shared = Prefilter(*NEEDS[0])
    # WHEN each batch is decided in turn
    first, second = shared.for_batch(), shared.for_batch()
    kept_first = first.records(Source.AURORA_MYSQL, announcing)
    kept_second = second.records(Source.AURORA_MYSQL, plain)
    # THEN the first keeps its drop, the second drops its plain statement: TABLE ids stay in their batch
    assert (kept_first, first.dropped) == (announcing, 0)
    assert (kept_second, second.dropped) == ([], 1)


def test_the_runtime_hands_each_batch_its_own_pre_filter_over_shared_answers() -> None:
    # GIVEN a runtime over the built-in rules
    runtime = Runtime(Settings())
    # WHEN two batches ask for a pre-filter
    first, second = runtime.prefilter(), runtime.prefilter()
    # THEN each has its own count, both share what is remembered per text
    assert first is not None
    assert second is not None
    assert first is not second
    first.records(Source.AURORA_MYSQL, _records(["1700000000000000,i1,u,h,7,0,DISCONNECT,,,0"]))
    assert (first.dropped, second.dropped) == (1, 0)
    assert first._tails is second._tails
    assert ",0" in second._tails
