"""The letters gate of the keyword check (parsers/statement_keywords.py): a superset of keyword_text."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from parsers.statement_keywords import ascii_letters_lowered, holds_any, keyword_text


def test_the_letters_of_a_statement_are_its_ascii_letters_lower_case() -> None:
    # GIVEN a statement with quotes, escapes, digits, whitespace and upper-case letters
    statement = "EXECUTE IMMEDIATE 'DR\\\\OP' 'TaBle t1', x_2"
    # WHEN its letters are taken THEN only the letters remain, lower case, in order
    assert ascii_letters_lowered(statement) == "executeimmediatedroptabletx"


@settings(max_examples=500, deadline=None)
@given(
    statement=st.text(alphabet=st.sampled_from(list("'\"\\ \t\n,(0DRoOPpsSETt_ul")), max_size=40),
    word=st.sampled_from(["drop", "set", "grant", "uninstall"]),
)
def test_a_keyword_in_keyword_text_is_in_the_letters_alone(statement: str, word: str) -> None:
    # GIVEN an ASCII statement of keyword letters split by quotes, escapes, whitespace and marks
    text = keyword_text(statement)
    assert text is not None
    # WHEN a keyword made of letters is in keyword_text's text THEN it is in the letters alone too
    if holds_any(text, [word]):
        assert word in ascii_letters_lowered(statement)
