"""Looking for rule keywords in statement text: what the pre-filter and the rule index test (ASCII only).

`keyword_text` is the text a keyword is looked for in; `ascii_letters_lowered` is a cheaper superset
test for keywords made of letters only: a keyword in `keyword_text` is also in the letters alone.
"""

from __future__ import annotations

import re
import string
from collections.abc import Sequence

# The end of one literal and the start of the next ('DR' 'OP' is 'DROP' in MySQL). One pattern per
# quote: a pattern starting with a literal character is searched far faster than a class.
_LITERAL_JOINS = (("'", re.compile(r"'\s*'")), ('"', re.compile(r'"\s*"')))
# ASCII bytes to lower case (what str.lower does to ASCII text), and every byte but an ASCII letter.
_LOWER_CASE = bytes.maketrans(string.ascii_uppercase.encode(), string.ascii_lowercase.encode())
_NOT_LETTERS = bytes(byte for byte in range(256) if chr(byte) not in string.ascii_letters)


def keyword_text(statement: str) -> str | None:
    """The text to look for keywords in: lower case, no backslashes or literal joins; None if not ASCII.

    Removing backslashes matters: the classifier unescapes string literals it runs (EXECUTE
    IMMEDIATE 'DR\\OP TABLE t' drops a table), and an audit line escapes the backslash once more.
    Adjacent literals are one string in MySQL ('DR' 'OP TABLE t' is 'DROP TABLE t'), so a quote,
    whitespace and a quote are removed too. Beyond ASCII, case mapping (e.g. U+017F → "S") could
    make a keyword: such text is never gated.
    """
    if not statement.isascii():
        return None
    lowered = statement.lower()
    if "\\" in lowered:
        lowered = lowered.replace("\\", "")
    for quote, join in _LITERAL_JOINS:  # `in` finds a quote far faster than the pattern's own scan
        if quote in lowered and join.search(lowered) is not None:
            lowered = join.sub("", lowered)
    return lowered


def ascii_letters_lowered(statement: str) -> str:
    """An ASCII statement's letters alone, lower case (one C pass: encode, translate, decode).

    keyword_text only removes non-letters, so the letters of a keyword it finds are adjacent once
    every non-letter is gone: no keyword of letters in this text means none in keyword_text's.
    """
    return statement.encode("ascii").translate(_LOWER_CASE, _NOT_LETTERS).decode("ascii")


def holds_any(text: str, words: Sequence[str]) -> bool:
    """Whether `text` contains one of `words` (a plain loop: no generator per call on the hot path)."""
    for word in words:  # noqa: SIM110 - any() over a generator costs more than the scans it saves
        if word in text:
            return True
    return False
