"""Make untrusted log text safe for Slack: escape control characters, neutralize markup, cut safely."""

from __future__ import annotations

import re

ELLIPSIS = "…"
# A backtick in data could close the code block it sits in; U+02CB (MODIFIER LETTER GRAVE ACCENT)
# looks the same and has no meaning to Slack.
BACKTICK_LOOKALIKE = "\u02cb"
# Inserted before a formatting marker so it no longer sits on a word boundary (Slack has no escape
# character for *, _, ~ and `). Only used where plain_text is impossible (the notification `text`).
ZERO_WIDTH_JOINER = "\u200d"
CODE_FENCE = "```"

_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_ENTITY_PATTERN = re.compile("[&<>]")
_MARKERS = re.compile(r"([*_~`])")
_LONGEST_ENTITY = max(len(entity) for entity in _ENTITIES.values())
# Line breaks, tabs, other C0/C1 controls and bidi overrides let data fake extra lines or reorder text.
_LINE_BREAKERS = dict.fromkeys([*range(0x20), 0x7F, *range(0x80, 0xA0), 0x2028, 0x2029], " ")
_BIDI_CONTROLS = dict.fromkeys([*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F])
_SINGLE_LINE = str.maketrans({**_LINE_BREAKERS, **_BIDI_CONTROLS})
_MULTI_LINE = str.maketrans(
    {**{code: " " for code in _LINE_BREAKERS if code not in (0x0A,)}, 0x0D: None, **_BIDI_CONTROLS}
)


def escape(text: str) -> str:
    """Replace Slack's three control characters (&, <, >) with entities; nothing else is encoded."""
    return _ENTITY_PATTERN.sub(lambda match: _ENTITIES[match.group(0)], text)


def single_line(text: str) -> str:
    """The text on one line: control characters become spaces and bidi overrides are dropped."""
    return text.translate(_SINGLE_LINE)


def multi_line(text: str) -> str:
    """The text with its line feeds kept but other controls (CR, tab, NUL …) and bidi overrides removed."""
    return text.translate(_MULTI_LINE)


def neutralize_markers(text: str) -> str:
    """Put a zero-width joiner before every *, _, ~ and ` so data cannot bold/italicize/strike/code."""
    return _MARKERS.sub(ZERO_WIDTH_JOINER + r"\1", text)


def slack_length(text: str) -> int:
    """Length as Slack may count it: UTF-16 code units (an emoji outside the BMP counts twice)."""
    return len(text.encode("utf-16-le")) // 2


def truncate(escaped: str, limit: int, *, marker: str = ELLIPSIS) -> str:
    """Cut already-escaped text to `limit` (Slack length) ending in `marker`, never inside an entity."""
    if slack_length(escaped) <= limit:
        return escaped
    if limit <= 0:
        return ""
    if slack_length(marker) > limit:
        marker = ""
    budget = limit - slack_length(marker)
    cut = _code_points_within(escaped, budget)
    # Every '&' in escaped text starts an entity; step back to it if the cut would split one.
    start = escaped.rfind("&", max(0, cut - _LONGEST_ENTITY + 1), cut)
    if start != -1 and escaped.find(";", start) >= cut:
        cut = start
    return escaped[:cut] + marker


def escape_truncated(text: str, limit: int) -> str:
    """Escape, then cut to `limit`: escaping grows text, so the order matters."""
    return truncate(escape(text), limit)


def code_block(text: str, limit: int) -> str:
    """A ``` fenced block of the text, escaped, backticks replaced, at most `limit` long with fences."""
    opening, closing = CODE_FENCE + "\n", "\n" + CODE_FENCE
    body = escape(multi_line(text).replace("`", BACKTICK_LOOKALIKE))
    return opening + truncate(body, limit - len(opening) - len(closing)) + closing


def _code_points_within(text: str, budget: int) -> int:
    """How many leading code points of `text` fit in `budget` UTF-16 code units."""
    used = 0
    for index, char in enumerate(text):
        used += 2 if ord(char) > 0xFFFF else 1
        if used > budget:
            return index
    return len(text)
