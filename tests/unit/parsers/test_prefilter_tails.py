"""The pre-filter's remembered tails: a QUERY line closes exactly when statement_closes_on_line says so."""

from __future__ import annotations

import pytest

from parsers.event import Action
from parsers.mysql_audit import statement_closes_on_line
from parsers.prefilter import TAIL_CHARS_KEPT, TAILS_KEPT, Prefilter, _Groups, _Remembered

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
