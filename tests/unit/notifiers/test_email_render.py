"""Plain-text e-mail rendering: exact subjects and bodies, hostile data, and the SNS size limits."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detections.finding import Alert, Finding
from detections.severity import Severity
from notifiers.email_render import (
    MAX_MESSAGE_BYTES,
    RenderedEmail,
    clean_block,
    clean_line,
    render_body,
    render_email,
    render_subject,
    truncate_chars,
    truncate_utf8,
)
from notifiers.links import default_query, logs_insights_url
from notifiers.notifier import OutgoingAlert
from parsers.event import Action, Source
from tests.factories import T0, failed_login, make_event

LOG_GROUP = "/aws/rds/cluster/prod/audit"


def make_alert(
    *,
    rule_id: str = "failed-login",
    title: str = "Failed login for app from 10.0.0.5 on prod (1045)",
    severity: Severity = Severity.MEDIUM,
    count: int = 1,
    span: timedelta = timedelta(0),
    context: tuple[tuple[str, str], ...] = (),
    **event_fields: Any,
) -> Alert:
    """An alert of `count` matches over `span` from T0, its first event a failed login unless told."""
    event = failed_login(0, **event_fields) if "action" not in event_fields else make_event(0, **event_fields)
    finding = Finding(rule_id, title, severity, ("email",), "prod|app|10.0.0.5", event, context)
    return Alert(finding, count, event.time, event.time + span)


def drop_table_alert(statement: str, **fields: Any) -> Alert:
    """A failed DROP TABLE by `app` on prod with the given (already redacted) statement."""
    return make_alert(
        rule_id="drop-table",
        title="Attempted drop table orders (failed: 1051) by app on prod",
        severity=Severity.HIGH,
        context=(("objects", "orders"),),
        action=Action.QUERY_DDL,
        statement=statement,
        database="shop",
        object="orders",
        status="1051",
        error_message="Unknown table 'shop.orders'",
        location="server_audit.log:42",
        **fields,
    )


def has_forbidden_body_char(text: str) -> bool:
    """Whether text holds a control/separator/surrogate character other than \\n and \\t."""
    return any(
        (unicodedata.category(ch) in ("Cc", "Cs", "Zl", "Zp") and ch not in "\n\t") or ch in "\u202e\ufeff"
        for ch in text
    )


def has_forbidden_subject_char(text: str) -> bool:
    """Whether text holds any control, line break, separator or surrogate character (tab included)."""
    return any(unicodedata.category(ch) in ("Cc", "Cs", "Zl", "Zp") or ch in "\u202e\ufeff" for ch in text)


def test_collapsed_failed_login_burst_renders_every_fact_and_the_raw_events_link() -> None:
    """GIVEN 25 failed logins folded into one alert, with region and log group known
    WHEN it is rendered
    THEN the subject names severity, title and count, and the body every fact plus the Logs Insights link."""
    alert = make_alert(
        count=25,
        span=timedelta(minutes=4, seconds=10),
        log_group=LOG_GROUP,
        log_stream="prod-1.audit.log.0",
        location="cloudwatch:/aws/rds/cluster/prod/audit/prod-1.audit.log.0#3",
        engine="aurora-mysql",
        source=Source.AURORA_MYSQL,
        client_port="51514",
        error_message="Access denied for user 'app'@'10.0.0.5'",
    )
    link = logs_insights_url("us-east-1", LOG_GROUP, alert.first_seen, alert.last_seen, default_query(alert))

    rendered = render_email(OutgoingAlert("failed-login-7f3a", alert, region="us-east-1"))

    assert rendered == RenderedEmail(
        subject="[MEDIUM] Failed login for app from 10.0.0.5 on prod (1045) ×25",
        body=(
            "Failed login for app from 10.0.0.5 on prod (1045)\n"
            "\n"
            "Severity:    MEDIUM (rule failed-login)\n"
            "User:        app\n"
            "Client host: 10.0.0.5 port 51514\n"
            "Cluster:     prod\n"
            "Instance:    prod-1\n"
            "First seen:  2024-05-01 10:00:00 UTC\n"
            "Last seen:   2024-05-01 10:04:10 UTC\n"
            "Count:       25 failed logins between 2024-05-01 10:00:00 and 2024-05-01 10:04:10 UTC\n"
            "Attempt:     failed (1045: Access denied for user 'app'@'10.0.0.5')\n"
            "Source:      aurora_mysql (aurora-mysql)\n"
            "Location:    cloudwatch:/aws/rds/cluster/prod/audit/prod-1.audit.log.0#3\n"
            "Log group:   /aws/rds/cluster/prod/audit\n"
            "Log stream:  prod-1.audit.log.0\n"
            "\n"
            "See the raw events (CloudWatch Logs Insights):\n"
            f"{link}\n"
            "\n"
            "Alert id: failed-login-7f3a\n"
        ),
    )
    assert link.startswith("https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1#")


def test_drop_table_renders_the_statement_indented_with_line_breaks_normalized() -> None:
    """GIVEN a failed DROP TABLE whose statement spans lines (CRLF and LF), and no region
    WHEN it is rendered
    THEN the statement sits indented in its own section and no link is offered."""
    alert = drop_table_alert("DROP TABLE orders;\r\n-- cleanup\nSELECT '***'", log_group=LOG_GROUP)

    rendered = render_email(OutgoingAlert("drop-table-01", alert))

    assert rendered == RenderedEmail(
        subject="[HIGH] Attempted drop table orders (failed: 1051) by app on prod",
        body=(
            "Attempted drop table orders (failed: 1051) by app on prod\n"
            "\n"
            "Severity:    HIGH (rule drop-table)\n"
            "User:        app\n"
            "Client host: 10.0.0.5\n"
            "Cluster:     prod\n"
            "Instance:    prod-1\n"
            "Database:    shop\n"
            "Object:      orders\n"
            "First seen:  2024-05-01 10:00:00 UTC\n"
            "Last seen:   2024-05-01 10:00:00 UTC\n"
            "Count:       1 matching statement at 2024-05-01 10:00:00 UTC\n"
            "Attempt:     failed (1051: Unknown table 'shop.orders')\n"
            "Source:      mysql_audit\n"
            "Location:    server_audit.log:42\n"
            "Log group:   /aws/rds/cluster/prod/audit\n"
            "Objects:     orders\n"
            "\n"
            "Statement (secrets redacted):\n"
            "    DROP TABLE orders;\n"
            "    -- cleanup\n"
            "    SELECT '***'\n"
            "\n"
            "Alert id: drop-table-01\n"
        ),
    )


def test_statement_cut_by_the_database_is_said_so() -> None:
    """GIVEN a statement the source truncated  WHEN rendered  THEN the section heading says so."""
    alert = drop_table_alert("DROP TABLE orde", statement_truncated=True)

    body = render_body(OutgoingAlert("a", alert))

    assert "Statement (secrets redacted) (cut by the database before logging):\n    DROP TABLE orde\n" in body


@pytest.mark.parametrize(
    ("suppressed_before", "suppressed_since", "expected_line"),
    [
        (
            24,
            datetime(2024, 5, 1, 9, 49, 18, tzinfo=UTC),
            "Earlier:     24 more since 09:49:18 UTC (suppressed)",
        ),
        (
            3,
            datetime(2024, 4, 30, 23, 59, 1, tzinfo=UTC),
            "Earlier:     3 more since 2024-04-30 23:59:01 UTC (suppressed)",
        ),
        (2, None, "Earlier:     2 more before this alert (suppressed)"),
    ],
)
def test_suppressed_before_alert_says_how_many_more_since_when(
    suppressed_before: int, suppressed_since: datetime | None, expected_line: str
) -> None:
    """GIVEN matches folded while the previous alert was suppressed
    WHEN the next alert is rendered
    THEN a line under Count says how many and since when (the time alone on the same UTC day)."""
    alert = make_alert(
        rule_id="brute-force",
        title="Brute force: 25 failed logins for app from 10.0.0.5 on prod within 5 min",
        severity=Severity.HIGH,
        count=25,
        span=timedelta(seconds=30),
        context=(("failures_in_window", "25"),),
    )

    rendered = render_email(OutgoingAlert("bf-1", alert, suppressed_before, suppressed_since))

    assert (
        rendered.subject == "[HIGH] Brute force: 25 failed logins for app from 10.0.0.5 on prod within 5 min"
    )  # the rule measures its own count: no "×25 matches" beside "25 failed logins"
    assert rendered.body.splitlines()[9:13] == [
        "Count:       25 matches between 2024-05-01 10:00:00 and 2024-05-01 10:00:30 UTC",
        expected_line,
        "Attempt:     failed (1045)",
        "Source:      mysql_audit",
    ]
    assert rendered.body.splitlines()[-3:] == ["Failures in window: 25", "", "Alert id: bf-1"]


def test_suppressed_before_widens_the_raw_events_link_to_the_folded_matches() -> None:
    """GIVEN folded matches since 09:49:18  WHEN rendered with a region  THEN the link starts there."""
    since = datetime(2024, 5, 1, 9, 49, 18, tzinfo=UTC)
    alert = make_alert(count=2, span=timedelta(seconds=5), log_group=LOG_GROUP)

    body = render_body(OutgoingAlert("x", alert, 24, since, region="eu-west-1"))

    assert logs_insights_url("eu-west-1", LOG_GROUP, since, alert.last_seen, default_query(alert)) in body


@pytest.mark.parametrize(
    ("region", "log_group"),
    [("", LOG_GROUP), ("us-east-1", "")],
)
def test_no_link_without_region_or_log_group(region: str, log_group: str) -> None:
    """GIVEN region or log group unknown  WHEN rendered  THEN no console link is offered."""
    body = render_body(OutgoingAlert("x", make_alert(log_group=log_group), region=region))

    assert "Logs Insights" not in body
    assert "https://" not in body


def test_successful_attempt_and_unknown_parts_are_spelled_out() -> None:
    """GIVEN a successful statement with no user, host or cluster
    WHEN rendered  THEN the outcome reads 'succeeded' and missing parts read 'unknown'."""
    alert = make_alert(
        rule_id="user-created",
        title="User created",
        action=Action.QUERY_DCL,
        statement="CREATE USER x",
        user="",
        client_host="",
        cluster="",
        server_host="",
    )

    lines = render_body(OutgoingAlert("u", alert)).splitlines()

    assert lines[3:6] == ["User:        unknown", "Client host: unknown", "Cluster:     unknown"]
    assert "Attempt:     succeeded" in lines
    assert not any(line.startswith("Instance:") for line in lines)


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
