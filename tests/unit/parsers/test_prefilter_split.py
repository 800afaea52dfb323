"""The pre-filter's one-pass decisions equal the previous per-line checks, and its split feeds the parser.

`_ReferencePrefilter` is the pre-filter's decision loop as it was before the split text was handed to
the parser (regex timestamp check, per-line TABLE keyword test, no statement cache): the current one
must keep and count exactly the same records on every input we have.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks.workloads import aurora_lines
from detections.catalogue import builtin_rules
from detections.rule_needs import declared_needs
from parsers.event import STATEMENT_ACTIONS, Action, AuditEvent, ParseResult, Source
from parsers.mysql_audit import parse_mysql_audit, parse_mysql_split, statement_closes_on_line
from parsers.mysql_fields import TIMESTAMP_PREFIX
from parsers.prefilter import STATEMENT_CHARS_KEPT, Prefilter, _Groups
from parsers.records import Origin, RawRecord, RecordColumns
from parsers.statement_keywords import holds_any, keyword_text
from tests.unit.detections.test_prefilter_edges import CASES
from tests.unit.parsers.test_mysql_audit_fast_path import MYSQL_LOGS, TRICKY_LINES

ORIGIN = Origin(log_group="/aws/rds/cluster/c1/audit", log_stream="c1-instance-1.audit.log", cluster="c1")
BUILTIN = declared_needs(rule.needs for rule in builtin_rules())
assert BUILTIN is not None
NEEDS: list[tuple[tuple[str, ...], tuple[Action, ...]]] = [
    (tuple(BUILTIN[0]), tuple(BUILTIN[1])),
    (("DROP", "grant"), (Action.CONNECT, Action.FAILED_CONNECT, *STATEMENT_ACTIONS)),
    (("write", "set"), (Action.DISCONNECT,)),  # a keyword that is also a TABLE operation
    (("into outfile", "load_file", "drop"), (Action.CONNECT,)),  # keywords beyond letters: no letter gate
]


class _ReferencePrefilter(Prefilter):
    """The decision loop before the one-pass changes, kept verbatim as the reference."""

    __slots__ = ()

    def records(self, source: Source, records: Sequence[RawRecord]) -> list[RawRecord]:
        """The records the previous loop kept."""
        kept = [True] * len(records)
        groups = _Groups(kept)
        after_complete_line = True
        kinds = self._operation_kinds
        for index, record in enumerate(records):
            text = record.text
            if not text or text.isspace():
                continue
            parts = text.split(",", 8)
            if len(parts) < 9 or TIMESTAMP_PREFIX.match(text) is None:
                after_complete_line = False
                continue
            kind = kinds.get(parts[6], "kept")
            if kind == "kept":
                after_complete_line = True
                continue
            droppable = after_complete_line and self._readable(parts[0], parts[4], parts[5])
            after_complete_line = True
            if kind == "unread":
                if droppable and self._bare_tail(parts[8]) is not None:
                    kept[index] = False
                continue
            group = (parts[4], parts[5])
            if kind != "query":
                plain = parts[6].lower() not in self.keywords and self._bare_tail(parts[8]) in ("", "0")
                if droppable and plain:
                    groups.plain(group, index)
                else:
                    groups.live(group)
                    self._remember_table_line(group)
                continue
            rest = parts[8]
            if rest.endswith(("\n", "\r")):
                rest = rest.rstrip("\r\n")
            if not statement_closes_on_line(rest):
                after_complete_line = False
            elif droppable and not self._reference_matters(group, rest):
                groups.drop_query(group, index)
                continue
            groups.live(group, evidence=False)
        self.dropped += kept.count(False)
        return [record for record, keep in zip(records, kept, strict=True) if keep]

    def _reference_matters(self, group: tuple[str, str], statement: str) -> bool:
        """The previous `_matters`: the keyword check on every statement, nothing remembered."""
        if group in self._table_ids:
            return True
        text = keyword_text(statement)
        return text is None or holds_any(text, self.keywords)


def _records(lines: Sequence[str], name: str = "t") -> list[RawRecord]:
    """Records as CloudWatch delivers them for the given lines."""
    return [RawRecord(line, f"{name}#{n}", str(n), 1_700_000_000_000 + n) for n, line in enumerate(lines, 1)]


def _as_columns(records: Sequence[RawRecord]) -> RecordColumns:
    """The records as a CloudWatch payload holds them (locations are `<name>#<event id>`)."""
    prefix = records[0].location.rpartition("#")[0] + "#" if records else ""
    columns = RecordColumns(
        [r.text for r in records], [r.event_id for r in records], [r.timestamp_ms for r in records], prefix
    )
    assert columns == tuple(records)
    return columns


def _with_times(results: list[ParseResult]) -> list[tuple[ParseResult, str]]:
    """Each result with its time's repr (equal instants in another zone would compare equal)."""
    return [(result, repr(result.time) if isinstance(result, AuditEvent) else "") for result in results]


def assert_same_as_reference(records: Sequence[RawRecord], source: Source = Source.AURORA_MYSQL) -> None:
    """For every set of needs: the same records kept and counted, the split is each text's, and the
    parse of the split records equals the parse of the kept records."""
    for keywords, actions in NEEDS:
        reference, current, splitting = (
            cls(keywords, actions) for cls in (_ReferencePrefilter, Prefilter, Prefilter)
        )
        kept = reference.records(source, records)

        assert current.records(source, records) == kept
        assert current.dropped == reference.dropped
        split = splitting.split_records(source, records)
        assert [record for record, _ in split] == kept
        # a CloudWatch payload's columns are decided and split exactly as its records are
        assert Prefilter(keywords, actions).split_records(source, _as_columns(records)) == split
        assert splitting.dropped == reference.dropped
        assert all(parts is None or parts == record.text.split(",", 8) for record, parts in split)
        parsed = list(parse_mysql_audit(kept, ORIGIN))
        assert _with_times(parse_mysql_split(split, ORIGIN)) == _with_times(parsed)


def test_the_benchmark_batches_are_decided_as_before() -> None:
    # GIVEN the benchmark's lines in batches of 1,000 (long INSERTs, repeated statements, groups)
    lines = aurora_lines(5000)
    for start in range(0, len(lines), 1000):
        # WHEN each batch is filtered THEN the same records are kept and parsed as before
        assert_same_as_reference(_records(lines[start : start + 1000]))


@pytest.mark.parametrize("path", MYSQL_LOGS, ids=lambda path: path.name)
def test_every_bundled_log_is_decided_as_before(path: Path) -> None:
    # GIVEN a bundled MySQL-family log, with and without its line ends
    text = path.read_text(encoding="utf-8", errors="replace")
    source = Source.AURORA_MYSQL if text[:16].isdigit() else Source.MYSQL_AUDIT
    # WHEN filtered THEN the same records are kept and parsed as before
    assert_same_as_reference(_records(text.splitlines()), source)
    assert_same_as_reference(_records(text.splitlines(keepends=True)), source)


def test_edge_lines_are_decided_as_before_in_sequence_and_alone() -> None:
    # GIVEN the parser's tricky lines and the pre-filter's edge cases
    lines = [*TRICKY_LINES, *(line for case in CASES.values() for line in case)]
    # WHEN filtered as one stream, reversed, and one by one THEN each is decided as before
    assert_same_as_reference(_records(lines))
    assert_same_as_reference(_records(lines[::-1]))
    for line in lines:
        assert_same_as_reference(_records([line]))
        assert_same_as_reference(_records([line]), Source.MYSQL_AUDIT)


@settings(max_examples=500, deadline=None)
@given(
    statement=st.text(alphabet=st.sampled_from(list("'\"\\ \t\x1c\n,(0DRoOPpsSETt_ufilé")), max_size=40),
    needs=st.sampled_from(NEEDS),
)
def test_the_letter_gate_never_changes_whether_a_statement_may_match(
    statement: str, needs: tuple[tuple[str, ...], tuple[Action, ...]]
) -> None:
    # GIVEN a statement of keyword letters split by quotes, backslashes, whitespace and other marks
    reference, current = _ReferencePrefilter(*needs), Prefilter(*needs)
    # WHEN both judge it as a QUERY line of a group no TABLE line announced
    # THEN they agree, whether or not every keyword is made of letters
    assert current._matters(("1", "1"), statement) == reference._reference_matters(("1", "1"), statement)


@pytest.mark.parametrize(
    ("statement", "kept"),
    [
        ("'SELECT 1 INTO OUTFILE \\'/tmp/x\\''", True),
        ("'select load_file(\\'/etc/passwd\\')'", True),
        ("'select 1 into  outfile x'", False),  # two spaces: not the keyword
        ("'select 1'", False),
    ],
)
def test_keywords_beyond_letters_are_looked_for_as_they_are(statement: str, kept: bool) -> None:
    # GIVEN rules whose keywords hold a space or an underscore, and statements with and without them
    reference, current = _ReferencePrefilter(*NEEDS[3]), Prefilter(*NEEDS[3])
    # WHEN a statement is judged THEN it is as before: kept exactly when a keyword is in it
    may_match = current._matters(("1", "1"), statement)
    assert may_match == reference._reference_matters(("1", "1"), statement)
    assert may_match is kept


def test_repeated_and_long_statements_are_decided_each_time_as_before() -> None:
    # GIVEN statements repeated, some longer than the remembered length, with and without keywords
    long_plain = "select " + "x, " * STATEMENT_CHARS_KEPT
    long_drop = long_plain + "1 from t; d\\\\r\\' \\'op table t"
    long_near = long_plain + "1 from d r o p, dr1op, s-e-t"  # keyword letters apart: only the letters join
    statements = [
        "select 1",
        "DROP TABLE t",
        "select \\'dr\\' \\'op\\'",
        long_plain,
        long_drop,
        "s\u00e9t",
        long_near,
    ]
    lines = [
        f"17000000001234{n % 100:02d},node-1,app,10.0.0.5,7,{n % 8},QUERY,shop,'{statements[n % 7]}',0"
        for n in range(120)
    ]
    # WHEN filtered THEN each line is decided as before
    assert_same_as_reference(_records(lines))


HEADS = ["1700000000123456", "20240101 12:00:00", "20240230 12:00:00", "17000000001234x6", "\u0661" * 16]
OPERATIONS = [
    "QUERY",
    "QUERY_DDL",
    "CONNECT",
    "FAILED_CONNECT",
    "DISCONNECT",
    "CHANGEUSER",
    "READ",
    "WRITE",
    "DROP",
    "CREATE",
    "ALTER",
    "UNKNOWN",
]
OBJECTS = st.sampled_from(
    [
        "'select 1'",
        "'DROP TABLE t'",
        "'select \\'a,b\\''",
        "'dr\\\\op'",
        "'gr\\' \\'ant'",
        '\'"gr" "ant"\'',
        "'s\u00e9t x'",
        "'opened",
        "continued',0",
        "orders",
        "",
        "'select 1' ",
    ]
)
TAILS = st.sampled_from([",0", ",1146", ",", ",0,,", ",0,TCP/IP", "", ",x", ",0\r\n", ",0\n"])
IDS = st.sampled_from(["7", "8", "-7", "07", "\u0667", "x", ""])
LINES = st.one_of(
    st.builds(
        lambda head, connection, query, operation, obj, tail: (
            f"{head},node-1,app,10.0.0.5,{connection},{query},{operation},shop,{obj}{tail}"
        ),
        st.sampled_from(HEADS),
        IDS,
        IDS,
        st.sampled_from(OPERATIONS),
        OBJECTS,
        TAILS,
    ),
    st.sampled_from(["", "   ", "and more text',0", "not an audit line"]),
)


@settings(max_examples=300, deadline=None)
@given(lines=st.lists(LINES, max_size=12))
def test_arbitrary_streams_are_decided_as_before(lines: list[str]) -> None:
    # GIVEN streams mixing groups of shared ids, every operation, odd stamps, ids and tails
    # WHEN filtered in either dialect THEN the same records are kept, counted and parsed as before
    assert_same_as_reference(_records(lines))
    assert_same_as_reference(_records(lines), Source.MYSQL_AUDIT)


def test_other_dialects_are_handed_over_whole_and_unsplit() -> None:
    # GIVEN PostgreSQL lines
    records = _records(["2026-11-23 13:07:04 UTC:127.0.0.1(5432):app@shop:[42]:LOG:  statement: SELECT 1"])
    prefilter = Prefilter(*NEEDS[0])
    # WHEN split for the parser THEN every record comes back unsplit and nothing is counted
    assert prefilter.split_records(Source.POSTGRES, records) == [(record, None) for record in records]
    assert prefilter.dropped == 0


def _reference_keyword_text(statement: str) -> str | None:
    """keyword_text as it was: every step run on every text."""
    if not statement.isascii():
        return None
    lowered = statement.lower().replace("\\", "")
    for join in (re.compile(r"'\s*'"), re.compile(r'"\s*"')):
        lowered = join.sub("", lowered)
    return lowered


@settings(max_examples=500, deadline=None)
@given(statement=st.text(alphabet=st.sampled_from(list("'\"\\ \t\x0b\x1c\nDRopSEt,é")), max_size=30))
def test_keyword_text_is_what_every_step_on_every_text_gives(statement: str) -> None:
    # GIVEN text made of quotes, backslashes, whitespace (ASCII and not) and keyword letters
    # WHEN its keyword text is taken THEN it equals running every step unconditionally
    assert keyword_text(statement) == _reference_keyword_text(statement)


@pytest.mark.parametrize(
    ("statement", "expected"),
    [
        ("EXECUTE IMMEDIATE 'DR' 'OP TABLE t'", "execute immediate 'drop table t'"),
        ('SELECT "gr"  "ant"', 'select "grant"'),
        ("'a'\x1c'b'", "'ab'"),
        ("no quotes \\at all", "no quotes at all"),
    ],
)
def test_keyword_text_joins_literals_and_drops_backslashes(statement: str, expected: str) -> None:
    # GIVEN a statement with adjacent literals or backslashes WHEN its keyword text is taken
    # THEN the joins and backslashes are gone and the text is lower case
    assert keyword_text(statement) == expected
