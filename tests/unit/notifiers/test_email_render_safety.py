"""Plain-text e-mail rendering of hostile data, and the SNS subject and message size limits."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detections.finding import Alert, Finding
from detections.severity import Severity
from notifiers.email_render import (
    MAX_MESSAGE_BYTES,
    clean_block,
    clean_line,
    render_body,
    render_email,
    render_subject,
    truncate_chars,
    truncate_utf8,
)
from notifiers.notifier import OutgoingAlert
from parsers.event import Action
from tests.factories import T0, make_event
from tests.unit.notifiers.email_alerts import (
    drop_table_alert,
    has_forbidden_body_char,
    has_forbidden_subject_char,
    make_alert,
)

HOSTILE = [
    pytest.param("app\nSeverity:    LOW", id="newline"),
    pytest.param("app\r\nBcc: x@evil", id="crlf"),
    pytest.param("app\x00\x1b[31mred", id="nul-esc"),
    pytest.param("app\u2028line\u2029para", id="unicode-separators"),
    pytest.param("app\x85\x9b\x0b\x0c", id="c1-vt-ff"),
    pytest.param("app\u202egnp.exe\ufeff", id="bidi-override-bom"),
    pytest.param("app\ud800x", id="lone-surrogate"),
]


@pytest.mark.parametrize("hostile", HOSTILE)
def test_hostile_user_and_statement_never_reach_subject_or_body_as_controls(hostile: str) -> None:
    """GIVEN control characters in the user name, the title built from it, and the statement
    WHEN rendered
    THEN the subject is one clean line and the body keeps no control character beyond \\n and \\t,
    so the data cannot forge a line of the alert."""
    alert = drop_table_alert(
        f"DROP TABLE t; -- {hostile}\n\tSELECT 1",
        user=hostile,
        client_host=hostile,
        cluster=hostile,
    )
    alert = Alert(
        Finding(
            "drop-table", f"DROP TABLE t by {hostile} on prod", Severity.HIGH, (), "k", alert.first.event
        ),
        alert.count,
        alert.first_seen,
        alert.last_seen,
    )

    rendered = render_email(OutgoingAlert(f"id-{hostile}", alert, region="us-east-1"))

    assert not has_forbidden_subject_char(rendered.subject)
    assert "  " not in rendered.subject
    assert not has_forbidden_body_char(rendered.body)
    assert rendered.body.encode("utf-8").decode("utf-8") == rendered.body
    assert sum(line.startswith("Severity:") for line in rendered.body.splitlines()) == 1
    assert not any(line.startswith(("Bcc:", "line", "para")) for line in rendered.body.splitlines())
    assert "\n    \tSELECT 1\n" in rendered.body  # tabs and the statement's own line breaks survive, indented


@pytest.mark.parametrize(
    ("raw", "line"),
    [
        ("app\nSeverity: LOW", "app Severity: LOW"),
        ("  a\r\n\t b  ", "a b"),
        ("x\x00y\x1bz", "xyz"),
        ("a\u2028b\u2029c", "a b c"),
        ("a\u202eb\u200fc", "abc"),
        ("e\u0301\u200d", "e\u0301\u200d"),  # marks and joiners are text, not controls
    ],
)
def test_clean_line(raw: str, line: str) -> None:
    """GIVEN untrusted text  WHEN cleaned to one line  THEN controls go and whitespace collapses."""
    assert clean_line(raw) == line


@pytest.mark.parametrize(
    ("raw", "block"),
    [
        ("a\r\nb\rc\nd", "a\nb\nc\nd"),
        ("a\u2028b\x85c", "a\nb\nc"),
        ("a\tb\x00\x7f\x9bc", "a\tbc"),
    ],
)
def test_clean_block(raw: str, block: str) -> None:
    """GIVEN untrusted multi-line text  WHEN cleaned  THEN only \\n and \\t remain as layout."""
    assert clean_block(raw) == block


def test_300_kb_statement_of_four_byte_characters_fits_the_sns_message_limit() -> None:
    """GIVEN a statement of 75,000 four-byte characters (300,000 bytes)
    WHEN rendered
    THEN the body is at most 262,144 UTF-8 bytes, valid UTF-8, the statement marked truncated,
    and the alert id after it survives."""
    alert = drop_table_alert("DROP TABLE \U0001f600" + "\U0001f4a9" * 75_000)

    body = render_body(OutgoingAlert("big-1", alert))

    encoded = body.encode("utf-8")
    assert len(encoded) <= MAX_MESSAGE_BYTES
    assert len(encoded) > MAX_MESSAGE_BYTES - 8  # filled, not emptied
    assert encoded.decode("utf-8") == body
    assert body.endswith("\U0001f4a9\n    [truncated]\n\nAlert id: big-1\n")


def test_body_itself_is_cut_with_a_marker_when_even_the_facts_do_not_fit() -> None:
    """GIVEN a byte budget smaller than the facts  WHEN rendered  THEN the body is cut, '[truncated]'."""
    alert = drop_table_alert("DROP TABLE orders")

    body = render_body(OutgoingAlert("tiny", alert), max_bytes=120)

    assert len(body.encode("utf-8")) <= 120
    assert body.startswith("Attempted drop table orders (failed: 1051) by app on prod\n\nSeverity:")
    assert body.endswith("\n[truncated]")


@pytest.mark.parametrize(
    ("text", "max_bytes", "expected"),
    [
        ("abc", 3, "abc"),
        ("abcdef", 5, "ab[t]"),
        ("aé€😀", 8, "aé[t]"),  # 1+2+3+4 bytes: '€' would need 3 more
        ("a😀b", 5, "a[t]"),  # never half of the 4-byte emoji
        ("ab\u0301cd", 5, "a[t]"),  # the mark stays with its base: both go
        ("a👨\u200d👩b", 11, "a[t]"),  # a ZWJ sequence is never left dangling
    ],
)
def test_truncate_utf8_cuts_on_whole_characters(text: str, max_bytes: int, expected: str) -> None:
    """GIVEN text over a byte budget  WHEN truncated  THEN it ends on a whole character, marker included."""
    result = truncate_utf8(text, max_bytes, "[t]")

    assert result == expected
    assert len(result.encode("utf-8")) <= max_bytes


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("abcdef", 6, "abcdef"),
        ("abcdefg", 6, "abcde…"),
        ("abc de", 5, "abc…"),
        ("abcde\u0301f", 6, "abcd…"),
    ],
)
def test_truncate_chars(text: str, limit: int, expected: str) -> None:
    """GIVEN text over a character limit  WHEN truncated  THEN it ends with '…' within the limit."""
    assert truncate_chars(text, limit) == expected


def test_long_subject_is_cut_below_100_characters_with_an_ellipsis() -> None:
    """GIVEN a title far over the SNS subject limit  WHEN the subject is rendered  THEN 99 characters, '…'."""
    alert = make_alert(title="Failed login for " + "x" * 300)

    subject = render_subject(alert)

    assert subject == "[MEDIUM] Failed login for " + "x" * 72 + "…"
    assert len(subject) == 99


def test_subject_of_emoji_fits_in_utf16_code_units_too() -> None:
    """GIVEN a title of characters outside the BMP (two UTF-16 units each)
    WHEN the subject is rendered
    THEN it stays under 100 UTF-16 code units, in case SNS counts like Java."""
    subject = render_subject(make_alert(title="😀" * 120))

    assert subject == "[MEDIUM] " + "😀" * 44 + "…"
    assert len(subject.encode("utf-16-le")) // 2 == 98


@settings(max_examples=200, deadline=None)
@given(
    user=st.text(max_size=40),
    title=st.text(max_size=200),
    statement=st.text(min_size=1, max_size=400),
    max_bytes=st.integers(min_value=40, max_value=3_000),
)
def test_any_text_renders_within_limits_and_without_controls(
    user: str, title: str, statement: str, max_bytes: int
) -> None:
    """GIVEN arbitrary user, title and statement text and byte budget
    WHEN rendered
    THEN the subject is one clean line under 100 characters and the body fits, control-free."""
    event = make_event(0, action=Action.QUERY, user=user, statement=statement)
    alert = Alert(Finding("r", title, Severity.LOW, (), "k", event), 2, T0, T0)

    rendered = render_email(OutgoingAlert("p", alert), max_message_bytes=max_bytes)

    assert 0 < len(rendered.subject) <= 99
    assert not has_forbidden_subject_char(rendered.subject)
    assert len(rendered.body.encode("utf-8")) <= max_bytes
    assert not has_forbidden_body_char(rendered.body)


def test_a_subject_keeps_its_count_unless_a_threshold_rule_measured_it() -> None:
    """GIVEN the same collapsed alert from a plain rule and from a threshold rule
    WHEN the subjects are rendered
    THEN only the plain one adds ×N (the threshold rule's title already says how many)."""
    plain = make_alert(count=3, span=timedelta(seconds=10))
    measured = make_alert(count=3, span=timedelta(seconds=10), measured=True)

    assert render_subject(plain).endswith(" ×3")
    assert not render_subject(measured).endswith(" ×3")
