"""The pre-filter's remembered tails: a QUERY line closes exactly when statement_closes_on_line says so."""

from __future__ import annotations

import pytest

from parsers.event import Action
from parsers.mysql_audit import statement_closes_on_line
from parsers.prefilter import (
    LETTER_CHARS_KEPT,
    LETTERS_KEPT,
    TAIL_CHARS_KEPT,
    TAILS_KEPT,
    Prefilter,
    _Groups,
    _Remembered,
)
from parsers.statement_keywords import holds_any, keyword_text

EDGE_RESTS = [
    "'SELECT 1',0",
    "'SELECT 1',0,,",
    "'SELECT 1',-1",
    "'SELECT 1',1045\n",
    "'SELECT 1',0\r\n",
    "'it''s',0",
    "'',0",
    "'",
    "',0",
    "'SELECT 1'",
    "'SELECT 1',0,x",
    "'SELECT 1',\u0663",  # a non-ASCII digit: not a return code
    "'SELECT\n1',0",  # a raw newline inside: the statement is not on one line
    "SELECT 1,0",  # no opening quote
    "'SELECT 1',0" + ",0" * TAIL_CHARS_KEPT,  # a tail too long to remember
    "'naïve café',0",
]


@pytest.mark.parametrize("rest", EDGE_RESTS)
def test_a_query_line_closes_as_statement_closes_on_line_says(rest: str) -> None:
    # GIVEN a pre-filter and one QUERY line's fields 9+
    prefilter = Prefilter(["drop"], [Action.CONNECT])
    expected = statement_closes_on_line(rest.rstrip("\r\n"))

    # WHEN it decides the line twice (the second time from its remembered tail)
    first = prefilter._query_line(_Groups([True]), ("1", "1"), 0, rest, droppable=False)
    again = prefilter._query_line(_Groups([True]), ("1", "1"), 0, rest, droppable=False)

    # THEN both answers are the parser's own
    assert first is expected
    assert again is expected


def test_remembered_tails_stay_bounded_in_number_and_length() -> None:
    # GIVEN a remembering reader
    calls: list[str] = []

    def read(text: str) -> int:
        """Count the call and answer the text's length."""
        calls.append(text)
        return len(text)

    remembered = _Remembered(read)

    # WHEN more distinct texts than it keeps are read, one of them longer than it keeps, some twice
    for number in range(TAILS_KEPT + 10):
        assert remembered[str(number)] == len(str(number))
    long_text = "x" * (TAIL_CHARS_KEPT + 1)
    assert remembered[long_text] == len(long_text)
    assert remembered[long_text] == len(long_text)
    assert remembered[str(TAILS_KEPT + 9)] == len(str(TAILS_KEPT + 9))

    # THEN it never holds more than TAILS_KEPT texts nor a long one, and a kept text is not read again
    assert len(remembered) <= TAILS_KEPT
    assert long_text not in remembered
    assert calls.count(long_text) == 2
    assert calls.count(str(TAILS_KEPT + 9)) == 1


def test_a_remembered_reader_keeps_its_own_bounds() -> None:
    # GIVEN a remembering reader of at most 2 texts of at most 3 characters
    calls: list[str] = []
    remembered = _Remembered(lambda text: calls.append(text) or len(text), kept=2, chars=3)
    # WHEN texts are read, some twice, one longer than it keeps
    for text in ["a", "a", "bb", "bb", "cccc", "cccc", "ddd"]:
        assert remembered[text] == len(text)
    # THEN kept texts are read once, the long one each time, and no more than 2 are held
    assert calls == ["a", "bb", "cccc", "cccc", "ddd"]
    assert len(remembered) <= 2
    assert "cccc" not in remembered


def _insert(number: int, name: str = "customer") -> str:
    """A long multi-row INSERT whose rows differ only in numbers."""
    rows = ",".join(f"({number * 100 + row},\\'{name} {row}, ltd\\',{row * 3}.50)" for row in range(40))
    return f"INSERT INTO orders (id, customer, total) VALUES {rows}"


def test_statements_differing_only_in_numbers_share_their_letters_and_are_judged_as_in_full() -> None:
    # GIVEN long INSERTs that differ only in numbers, then ones whose letters differ or hold a keyword
    statements = [_insert(n) for n in range(5)] + [
        _insert(9, "s e t"),
        _insert(10, "dr' 'op"),
        _insert(11, "x"),
    ]
    prefilter = Prefilter(["drop", "set", "grant"], [Action.CONNECT])
    # WHEN each is judged as a QUERY line no TABLE line announced
    verdicts = [prefilter._matters(("1", "1"), statement) for statement in statements]
    # THEN each verdict is the full keyword check's; the numbers-only variants share one letters text
    expected = [
        (text := keyword_text(statement)) is None or holds_any(text, prefilter.keywords)
        for statement in statements
    ]
    assert verdicts == expected == [False] * 5 + [False, True, False]  # "s e t" is letters-only: no keyword
    assert len(prefilter._letters) == 1 + 3  # one letters text per distinct shape
    assert 0 < len(prefilter._letters) <= LETTERS_KEPT
    assert all(len(letters) <= LETTER_CHARS_KEPT for letters in prefilter._letters)
