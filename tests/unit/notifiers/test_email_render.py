"""Plain-text e-mail rendering: exact subjects and bodies, every fact, raw-events links."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from detections.rule import MEASURED
from detections.severity import Severity
from notifiers.email_render import RenderedEmail, render_body, render_email
from notifiers.links import default_query, logs_insights_url
from notifiers.notifier import OutgoingAlert
from parsers.event import Action, Source
from tests.unit.notifiers.email_alerts import LOG_GROUP, drop_table_alert, make_alert


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
        title="Brute force: 25 failed logins for app from 10.0.0.5 on prod in 30 s",
        severity=Severity.HIGH,
        count=21,
        span=timedelta(seconds=30),
        context=((MEASURED, "25 failed logins in 30 s"), ("window", "5 min")),
        measured=True,
    )

    rendered = render_email(OutgoingAlert("bf-1", alert, suppressed_before, suppressed_since))

    assert (
        rendered.subject == "[HIGH] Brute force: 25 failed logins for app from 10.0.0.5 on prod in 30 s"
    )  # the rule measures its own count: no "×21 matches" beside "25 failed logins"
    assert rendered.body.splitlines()[9:13] == [
        "Count:       25 failed logins in 30 s (up to 2024-05-01 10:00:30 UTC)",
        expected_line,
        "Attempt:     failed (1045)",
        "Source:      mysql_audit",
    ]
    assert rendered.body.splitlines()[-3:] == ["Window:      5 min", "", "Alert id: bf-1"]


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
