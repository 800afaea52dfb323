"""Slack text safety: escaping, marker neutralizing, code blocks and truncation that never breaks entities."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from notifiers.mrkdwn import (
    BACKTICK_LOOKALIKE,
    ELLIPSIS,
    ZERO_WIDTH_JOINER,
    code_block,
    escape,
    escape_truncated,
    multi_line,
    neutralize_markers,
    single_line,
    slack_length,
    truncate,
)

ZWJ = ZERO_WIDTH_JOINER
_ENTITY_OR_OTHER = re.compile(r"&(?:amp|lt|gt);|[^&]")


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("a & b", "a &amp; b"),
        ("<!channel>", "&lt;!channel&gt;"),
        ("<!here>", "&lt;!here&gt;"),
        ("<@U123>", "&lt;@U123&gt;"),
        ("<http://evil|click>", "&lt;http://evil|click&gt;"),
        ("&amp;", "&amp;amp;"),  # data that already looks escaped is data: shown as typed
        ("'\"*_~`:smile:|", "'\"*_~`:smile:|"),  # nothing else is HTML-encoded
        ("", ""),
    ],
)
def test_escape_replaces_only_slacks_three_control_characters(raw: str, escaped: str) -> None:
    """GIVEN log text WHEN escaped THEN only &, < and > become entities."""
    assert escape(raw) == escaped


def test_neutralize_markers_puts_a_zero_width_joiner_before_each_marker() -> None:
    """GIVEN *bold* _it_ ~s~ `code` WHEN neutralized THEN a ZWJ precedes every marker (pinned choice)."""
    assert neutralize_markers("*bold* _it_ ~s~ `c`") == (
        f"{ZWJ}*bold{ZWJ}* {ZWJ}_it{ZWJ}_ {ZWJ}~s{ZWJ}~ {ZWJ}`c{ZWJ}`"
    )


@pytest.mark.parametrize(
    ("raw", "one_line"),
    [
        ("alice\nSeverity: LOW", "alice Severity: LOW"),
        ("a\r\nb\tc\x00d", "a  b c d"),
        ("evil\u202etxt.exe", "eviltxt.exe"),  # bidi override dropped
        ("line\u2028sep", "line sep"),
    ],
)
def test_single_line_flattens_controls_and_drops_bidi_overrides(raw: str, one_line: str) -> None:
    """GIVEN text with line breaks/controls WHEN made single-line THEN it cannot fake extra lines."""
    assert single_line(raw) == one_line


def test_multi_line_keeps_line_feeds_only() -> None:
    """GIVEN SQL with CRLF, tabs and NUL WHEN cleaned THEN LF stays, CR goes, tab/NUL become spaces."""
    assert multi_line("SELECT 1\r\nFROM\tt\x00\u202e") == "SELECT 1\nFROM t "


@pytest.mark.parametrize(
    ("escaped", "limit", "cut"),
    [
        ("abcdef", 6, "abcdef"),  # fits: unchanged
        ("abcdef", 4, f"abc{ELLIPSIS}"),
        ("ab&amp;cd", 4, f"ab{ELLIPSIS}"),  # would end inside &amp;
        ("ab&amp;cd", 7, f"ab{ELLIPSIS}"),  # would end just before the ';'
        ("ab&amp;cd", 8, f"ab&amp;{ELLIPSIS}"),
        ("&lt;&lt;&lt;", 6, f"&lt;{ELLIPSIS}"),
        ("a😀b", 3, f"a{ELLIPSIS}"),  # the emoji counts 2 (UTF-16) and does not fit
        ("a😀bc", 4, f"a😀{ELLIPSIS}"),
        ("😀😀", 2, ELLIPSIS),
        ("éééé", 3, f"éé{ELLIPSIS}"),  # 2 UTF-8 bytes, 1 Slack character each
        ("abc", 0, ""),
    ],
)
def test_truncate_never_cuts_inside_an_entity_or_a_character(escaped: str, limit: int, cut: str) -> None:
    """GIVEN escaped text WHEN cut to a limit THEN the result fits and ends on a whole entity/character."""
    assert truncate(escaped, limit) == cut
    assert slack_length(cut) <= limit


def test_slack_length_counts_utf16_code_units() -> None:
    """GIVEN BMP and astral characters WHEN measured THEN an emoji counts twice (pinned, conservative)."""
    assert [slack_length(text) for text in ("abc", "é", "😀", "")] == [3, 1, 2, 0]


def test_escape_truncated_escapes_before_cutting() -> None:
    """GIVEN '<<<<' and room for 9 WHEN escaped and cut THEN two whole entities, not '<<<<' cut raw."""
    assert escape_truncated("<<<<", 9) == f"&lt;&lt;{ELLIPSIS}"


def test_code_block_replaces_backticks_and_keeps_lines() -> None:
    """GIVEN SQL with ``` and < WHEN fenced THEN one pair of fences, look-alike backticks, escaped."""
    block = code_block("SELECT '```'\nFROM `t` WHERE a<b & c", 3000)

    tick = BACKTICK_LOOKALIKE
    assert block == f"```\nSELECT '{tick * 3}'\nFROM {tick}t{tick} WHERE a&lt;b &amp; c\n```"
    assert block.count("`") == 6


@pytest.mark.parametrize(
    "statement",
    [
        "x" * 5000,
        "a" * 2985 + "&" * 100,  # entities straddle the cut
        "é" * 5000,
        "😀" * 5000,
        "`" * 5000,
    ],
)
def test_code_block_of_a_long_statement_fits_3000_with_fences(statement: str) -> None:
    """GIVEN a 5,000-character statement WHEN fenced for a section THEN ≤ 3000 incl. fences, cleanly cut."""
    block = code_block(statement, 3000)

    assert slack_length(block) <= 3000
    assert block.startswith("```\n")
    assert block.endswith(f"{ELLIPSIS}\n```")
    body = block.removeprefix("```\n").removesuffix(f"{ELLIPSIS}\n```")
    assert _ENTITY_OR_OTHER.sub("", body) == ""  # every '&' starts a whole entity
    assert "`" not in body


@settings(max_examples=300, deadline=None)
@given(text=st.text(alphabet=st.sampled_from("ab&<>😀é`*\n")), limit=st.integers(min_value=1, max_value=60))
def test_escape_truncated_properties(text: str, limit: int) -> None:
    """GIVEN any text and limit WHEN escaped and cut THEN it fits, is a prefix of the escape, no raw < >."""
    result = escape_truncated(text, limit)

    assert slack_length(result) <= limit
    kept = result.removesuffix(ELLIPSIS) if result != escape(text) else result
    assert escape(text).startswith(kept)
    assert "<" not in result
    assert ">" not in result
    assert _ENTITY_OR_OTHER.sub("", kept) == ""
