"""Field helpers of the MySQL-family audit parser: timestamps, ids, unescaping, host:port."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parsers.event import Source
from parsers.mysql_fields import (
    MalformedAuditLineError,
    UnescapedStatement,
    parse_timestamp,
    require_numeric_id,
    split_host_port,
    unescape_statement,
    utf8_length,
)


@pytest.mark.parametrize(
    ("text", "time", "source"),
    [
        ("1603442208508100", datetime(2020, 10, 23, 8, 36, 48, 508100, tzinfo=UTC), Source.AURORA_MYSQL),
        ("20221201 14:07:05", datetime(2022, 12, 1, 14, 7, 5, tzinfo=UTC), Source.MYSQL_AUDIT),
        ("20240229 23:59:59", datetime(2024, 2, 29, 23, 59, 59, tzinfo=UTC), Source.MYSQL_AUDIT),
    ],
)
def test_parse_timestamp(text: str, time: datetime, source: Source) -> None:
    """GIVEN either timestamp form WHEN parsed THEN the UTC instant and the dialect it reveals."""
    parsed = parse_timestamp(text)

    assert (parsed.time, parsed.time.tzinfo, parsed.source) == (time, UTC, source)


@pytest.mark.parametrize(
    "text", ["20230230 10:00:00", "2023010110:00:00", " 1603442208508100", "1.6e15", "١" * 16]
)
def test_parse_timestamp_refuses_anything_else(text: str) -> None:
    """GIVEN a malformed timestamp WHEN parsed THEN MalformedAuditLineError with a short reason."""
    with pytest.raises(MalformedAuditLineError) as caught:
        parse_timestamp(text)

    assert caught.value.reason == "bad timestamp"


@pytest.mark.parametrize("text", ["0", "47141561040897", "18446744073709551616", "-1"])
def test_require_numeric_id_keeps_the_text(text: str) -> None:
    """GIVEN a numeric id of any size WHEN checked THEN returned unchanged, as text."""
    assert require_numeric_id(text, "query id") == text


@pytest.mark.parametrize("text", ["", "1a", "QUERY_ID", " 1", "1.0", "١٢"])  # incl. Arabic-Indic digits
def test_require_numeric_id_refuses_non_numbers(text: str) -> None:
    """GIVEN a non-numeric id WHEN checked THEN MalformedAuditLineError naming the field."""
    with pytest.raises(MalformedAuditLineError) as caught:
        require_numeric_id(text, "query id")

    assert caught.value.reason == "non-numeric query id"


@pytest.mark.parametrize(
    ("body", "text", "dangling"),
    [
        ("plain", "plain", False),
        ("\\n\\t\\r\\b\\f\\'\\\\\\\"\\0", "\n\t\r\b\f'\\\"\0", False),
        ("\\q\\%", "\\q\\%", False),  # unknown escapes keep their backslash
        ("abc\\", "abc", True),  # a cut escape
        ("abc\\\\", "abc\\", False),  # a whole escaped backslash
        ("abc\\\\\\", "abc\\", True),
        ("\\", "", True),
        ("é\\n漢", "é\n漢", False),
    ],
)
def test_unescape_statement(body: str, text: str, dangling: bool) -> None:
    """GIVEN the text between the quotes WHEN unescaped THEN the original characters and any cut escape."""
    assert unescape_statement(body) == UnescapedStatement(text, dangling)


# The plugin's escapes read by one regex, left to right, as the parser first did: the reference
# the faster str-based unescaping must equal.
_REFERENCE_UNESCAPES = {
    "n": "\n",
    "t": "\t",
    "r": "\r",
    "b": "\b",
    "f": "\f",
    "'": "'",
    "\\": "\\",
    '"': '"',
    "0": "\0",
}
_REFERENCE_PAIR = re.compile(r"\\(.)", re.DOTALL)


def _reference_unescape(body: str) -> UnescapedStatement:
    """Drop a lone trailing backslash, then map each `\\x` pair from the left (unknown pairs kept)."""
    dangling = (len(body) - len(body.rstrip("\\"))) % 2 == 1
    body = body[:-1] if dangling else body
    text = _REFERENCE_PAIR.sub(lambda pair: _REFERENCE_UNESCAPES.get(pair.group(1), pair.group(0)), body)
    return UnescapedStatement(text, dangling)


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("\\\\\\'\"ntrbf0x \n")) | st.characters(), max_size=30))
def test_unescape_statement_equals_the_left_to_right_reference(body: str) -> None:
    """GIVEN any text dense in backslashes, quotes and escape letters WHEN unescaped
    THEN exactly what reading each pair from the left gives."""
    assert unescape_statement(body) == _reference_unescape(body)


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("10.0.0.5", ("10.0.0.5", "")),
        ("10.0.0.5:3306", ("10.0.0.5", "3306")),
        ("db.example.com:54312", ("db.example.com", "54312")),
        ("host:123456", ("host:123456", "")),  # more than five digits is no port
        (":3306", (":3306", "")),  # no host in front of the port
        ("[::1]:3306", ("::1", "3306")),
        ("[fe80::1%eth0]:3306", ("fe80::1%eth0", "3306")),
        ("::1", ("::1", "")),
        ("2001:db8::1", ("2001:db8::1", "")),
        ("fe80::1:3306", ("fe80::1:3306", "")),  # valid as an address: kept whole
        ("2001:db8::1:54312", ("2001:db8::1", "54312")),  # 54312 is no IPv6 group: address + port
        ("2001:db8:0:0:0:0:0:1:3306", ("2001:db8:0:0:0:0:0:1", "3306")),  # nine groups: address + port
        ("::ffff:10.0.0.5:3306", ("::ffff:10.0.0.5", "3306")),
        ("a:b:3306", ("a:b:3306", "")),  # neither an address nor an address + port
        ("", ("", "")),
    ],
)
def test_split_host_port(host: str, expected: tuple[str, str]) -> None:
    """GIVEN a host field WHEN split THEN (host, port) only where the port is unambiguous."""
    assert split_host_port(host) == expected


@pytest.mark.parametrize(("text", "length"), [("abc", 3), ("é", 2), ("漢", 3), ("\ufffd", 3), ("😀", 4)])
def test_utf8_length(text: str, length: int) -> None:
    """GIVEN text WHEN measured THEN its UTF-8 byte length, the unit of server_audit_query_log_limit."""
    assert utf8_length(text) == length
