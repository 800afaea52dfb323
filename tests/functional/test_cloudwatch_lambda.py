"""The CloudWatch Logs Lambda handler end to end: real server logs in, e-mails and Slack messages out."""

from __future__ import annotations

import gc
import unicodedata
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pytest

from handlers import log_batches
from handlers.cloudwatch_logs import lambda_handler
from handlers.settings import SettingsError
from notifiers.delivery import Delivery
from tests.functional.lambda_env import (  # noqa: F401 - fixtures are used by name
    AwsWorld,
    CapturedLogs,
    Email,
    logs_fixture,
    slack_fixture,
    slack_server_fixture,
    world_fixture,
)
from tests.functional.lambda_events import (
    FakeLambdaContext,
    mariadb_event,
    mariadb_lines,
    numbered,
    postgres_entries,
    postgres_event,
    postgres_lines,
)
from tests.integration.scenario import SECRETS


def login_lines(
    user: str, times: Sequence[str], *, host: str = "10.0.0.9", first_conn: int = 500
) -> list[str]:
    """MariaDB server_audit FAILED_CONNECT lines (as the real server writes them) at `times` (HH:MM:SS)."""
    return [
        f"20261123 {at},vm,{user},{host},{first_conn + n},0,FAILED_CONNECT,,,1045"
        for n, at in enumerate(times)
    ]


def seconds(minute: int, count: int, hour: int = 14) -> list[str]:
    """`count` consecutive seconds from hour:minute:00."""
    return [f"{hour:02d}:{minute:02d}:{second:02d}" for second in range(count)]


def subjects(emails: Sequence[Email]) -> list[str]:
    """The e-mail subjects, sorted."""
    return sorted(email.subject for email in emails)


def invoke(event: dict[str, Any]) -> dict[str, Any]:
    """Call the handler the way Lambda does."""
    return lambda_handler(event, FakeLambdaContext())


LOGIN_SUBJECTS = [
    "[CRITICAL] Logged in after 22 failed logins in under 1 s: victim from 127.0.0.1 on {c}",
    "[HIGH] Brute force: 22 failed logins for victim from 127.0.0.1 on {c} in under 1 s",
    "[HIGH] Password spray: 7 users failed to log in from 127.0.0.1 on {c} in under 1 s",
    *(
        f"[MEDIUM] Failed login for {user} from 127.0.0.1 on {{c}} ({{code}})"
        for user in ("admin_user", "app", "ghost_alice", "ghost_bob", "ghost_carol", "ghost_dave")
    ),
    "[MEDIUM] Failed login for victim from 127.0.0.1 on {c} ({code}) ×22",
]


@dataclass(frozen=True, slots=True)
class RealLog:
    """One real server log sent as one subscription event, and what its alerts must say."""

    name: str
    build: Callable[[], dict[str, Any]]
    cluster: str
    code: str  # the refused login's status: MariaDB error 1045, PostgreSQL SQLSTATE 28P01
    seen: str  # when the burst and the DROP TABLEs happened (UTC)
    drop_database: str  # its e-mail subject
    drop_table: tuple[str, int, str]  # Slack header, count, statement
    password_change: str  # the masked statement of a password change, as Slack shows it


POSTGRES_DROP_TABLE = (
    "DROP TABLE public.t_upper by admin_user on pg-prod",
    12,
    "DROP TABLE t_upper",
)
REAL_LOGS = [
    RealLog(
        "mariadb",
        lambda: mariadb_event(numbered(mariadb_lines())),
        "mariadb-prod",
        "1045",
        "2026-11-23 13:07:05",
        "[CRITICAL] DROP DATABASE scratch_db by admin_user on mariadb-prod",
        ("DROP TABLE appdb.t_upper by admin_user on mariadb-prod", 10, "DROP TABLE t_upper"),
        "ALTER USER 'app'@'%' IDENTIFIED BY *****",  # masked by the server_audit plugin
    ),
    RealLog(
        "postgres-entries",
        lambda: postgres_event(numbered(postgres_entries())),
        "pg-prod",
        "28P01",
        "2026-11-23 13:07:07",
        "[CRITICAL] DROP SCHEMA scratch_schema by admin_user on pg-prod (+1 more) ×2",
        POSTGRES_DROP_TABLE,
        "ALTER ROLE victim PASSWORD '***'",  # logged in clear by log_statement, masked by us
    ),
    RealLog(
        "postgres-lines",
        lambda: postgres_event(numbered(postgres_lines())),
        "pg-prod",
        "28P01",
        "2026-11-23 13:07:07",
        "[CRITICAL] DROP SCHEMA scratch_schema by admin_user on pg-prod (+1 more) ×2",
        POSTGRES_DROP_TABLE,
        "ALTER ROLE victim PASSWORD '***'",
    ),
]


@pytest.mark.parametrize("log", REAL_LOGS, ids=[log.name for log in REAL_LOGS])
def test_real_server_logs_give_counted_collapsed_emails_and_drop_table_slack_messages(
    world: AwsWorld, logs: CapturedLogs, log: RealLog
) -> None:
    """GIVEN one subscription event carrying a real server's whole audit log (PostgreSQL's holds two
    scenario passwords in clear; its multi-line entries as one message or as one event per line)
    WHEN the handler runs
    THEN the 22 refused logins of `victim` are ONE e-mail that says 22, the brute force and the login
    after failures are e-mailed too, the DROP TABLEs reach Slack as a Block Kit message, and no
    scenario password appears in any e-mail, Slack request or log output."""
    result = invoke(log.build())

    emails = world.emails()
    expected = [subject.format(c=log.cluster, code=log.code) for subject in LOGIN_SUBJECTS]
    assert subjects(emails) == sorted([*expected, log.drop_database])
    burst = next(e for e in emails if e.subject.endswith("×22"))
    assert f"Count:       22 failed logins at {log.seen} UTC\n" in burst.body
    assert burst.attributes == {
        "rule": "failed-login",
        "severity": "medium",
        "cluster": log.cluster,
        "kind": "alert",
        "count": "22",
    }
    assert result == {"status": "ok", "alerts_sent": len(emails) + len(world.slack_messages())}
    title, count, statement = log.drop_table
    # the header names the first drop and says how many more objects the message lists
    [message] = [m for m in world.slack_messages() if m["blocks"][0]["text"]["text"].startswith(title)]
    header_text = message["blocks"][0]["text"]["text"]
    assert header_text.startswith(f"{title} (+")
    assert header_text.endswith(" more)")
    assert [block["type"] for block in message["blocks"]] == ["header", "section", "section", "context"]
    assert message["blocks"][0] == {
        "type": "header",
        "text": {"type": "plain_text", "text": header_text, "emoji": False},
    }
    fields = message["blocks"][1]["fields"]
    [objects] = [f for f in fields if f["text"].startswith("Objects: ")]
    assert fields.index(objects) == 2  # right after severity and rule, never cut by the 10-field limit
    fields.remove(objects)
    # every table the folded drops named, not only the first one's
    assert objects["text"].startswith("Objects: ")
    assert "t_in_proc" in objects["text"]
    assert fields == [
        {"type": "plain_text", "text": text, "emoji": False}
        for text in (
            "Severity: HIGH",
            "Rule: drop-table",
            f"Cluster/instance: {log.cluster}",
            "User: admin_user",
            "Client host: 127.0.0.1",
            "Database: appdb",
            f"When (UTC): {log.seen}",
            f"Count: {count}",
            "Attempt failed: no",
        )
    ]
    # every distinct statement is quoted, the first drop first
    assert message["blocks"][2]["text"]["type"] == "mrkdwn"
    assert message["blocks"][2]["text"]["text"].startswith(f"```\n{statement}\n\n")
    link = message["blocks"][3]["elements"][-1]
    assert link["type"] == "mrkdwn"
    assert link["text"].startswith(
        "<https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#"
    )
    assert link["text"].endswith("|View raw events>")
    assert (message["unfurl_links"], message["unfurl_media"]) == (False, False)
    [summary] = logs.summaries()
    assert summary["alerts_sent"] == {"email": len(emails), "slack": len(world.slack_messages())}
    assert summary["parse_failures"] == {}
    assert summary["delivery_failures_retryable"] == summary["delivery_failures_permanent"] == 0
    outputs = {
        "sns": [e.subject + "\n" + e.body + "\n" + repr(e.attributes) for e in emails],
        "slack": world.slack_bodies(),
        "logs": [logs.text()],
    }
    leaks = [(where, s) for where, texts in outputs.items() for text in texts for s in SECRETS if s in text]
    assert leaks == []
    statements = [b["text"]["text"] for m in world.slack_messages() for b in m["blocks"] if "text" in b]
    # the masked password change is quoted (alone, or among the other statements of its alert)
    assert any(text.startswith("```\n") and f"{log.password_change}\n" in text for text in statements)


HOSTILE_LINES = [
    *login_lines("<!channel>", seconds(0, 5, hour=15), host="10.6.6.6"),
    "20261123 15:00:06,vm,<http://evil|click>,10.6.6.6,900,7,QUERY,appdb,'DROP TABLE `orders&co`',0",
    *login_lines("evil\x1b[2J\x07\u2028Subject: fake\r", ["15:00:07"], host="10.6.6.6", first_conn=910),
]


def test_hostile_text_is_escaped_for_slack_and_stripped_from_sns_subjects(world: AwsWorld) -> None:
    """GIVEN audit lines whose user names are Slack markup (<!channel>, <http://evil|click>) or hold
    control characters, and SQL with backticks and &
    WHEN the handler runs
    THEN Slack receives every one of them escaped (no live mention or link) and no SNS subject holds
    a control character."""
    invoke(mariadb_event(numbered(HOSTILE_LINES)))

    bodies = world.slack_bodies()
    assert len(bodies) == 2
    for body in bodies:
        assert "<!channel>" not in body
        assert "<http://evil|click>" not in body
    brute, drop = sorted(world.slack_messages(), key=lambda m: m["blocks"][0]["text"]["text"])
    assert brute["blocks"][0]["text"]["text"] == (
        "Brute force: 5 failed logins for &lt;!channel&gt; from 10.6.6.6 on mariadb-prod in 4 s"
    )
    assert {"type": "plain_text", "text": "User: &lt;!channel&gt;", "emoji": False} in brute["blocks"][1][
        "fields"
    ]
    assert (
        drop["blocks"][0]["text"]["text"]
        == "DROP TABLE orders&amp;co by &lt;http://evil|click&gt; on mariadb-prod"
    )
    assert drop["blocks"][2]["text"]["text"] == "```\nDROP TABLE \u02cborders&amp;co\u02cb\n```"
    assert drop["text"].startswith(
        "HIGH: DROP TABLE orders&amp;co by &lt;http://evil|click&gt; on mariadb-prod\n"
    )
    emails = world.emails()
    assert len(emails) == 3
    for email in emails:
        assert [ch for ch in email.subject if unicodedata.category(ch) in ("Cc", "Zl", "Zp")] == []
    assert "[MEDIUM] Failed login for evil[2J Subject: fake from 10.6.6.6 on mariadb-prod (1045)" in subjects(
        emails
    )


def test_two_invocations_inside_the_window_give_one_brute_force_alert_and_the_next_reports_the_rest(
    world: AwsWorld, logs: CapturedLogs
) -> None:
    """GIVEN 15 refused logins, then 15 more a minute later in a second invocation, then one more
    after the 5-minute window in a third
    WHEN the handler runs three times
    THEN the first two give exactly ONE brute-force alert (state crossed invocations in DynamoDB) and
    the third reports the 15 matches folded since 14:01:00."""
    first = invoke(mariadb_event(numbered(login_lines("victim", seconds(0, 15)))))
    second = invoke(mariadb_event(numbered(login_lines("victim", seconds(1, 15), first_conn=600), start=100)))

    assert (first, second) == ({"status": "ok", "alerts_sent": 3}, {"status": "ok", "alerts_sent": 0})
    assert subjects(world.emails()) == [
        "[HIGH] Brute force: 15 failed logins for victim from 10.0.0.9 on mariadb-prod in 14 s",
        "[MEDIUM] Failed login for victim from 10.0.0.9 on mariadb-prod (1045) ×15",
    ]
    assert len(world.slack_messages()) == 1
    assert logs.summaries()[1]["suppressed"] == 30

    third = invoke(mariadb_event(numbered(login_lines("victim", ["14:06:00"], first_conn=700), start=200)))

    assert third == {"status": "ok", "alerts_sent": 3}
    late = {e.subject: e for e in world.emails()[2:]}
    assert sorted(late) == [
        # the window is counted in 10-second buckets: 14:01:00-14:06:00 holds 15 + 1
        "[HIGH] Brute force: 16 failed logins for victim from 10.0.0.9 on mariadb-prod in 5 min",
        "[MEDIUM] Failed login for victim from 10.0.0.9 on mariadb-prod (1045)",
    ]
    for email in late.values():
        assert "Earlier:     15 more since 14:01:00 UTC (suppressed)\n" in email.body
    slack_late = world.slack_messages()[1]
    assert {
        "type": "plain_text",
        "text": "Count: 16 failed logins in 5 min (15 more since 14:01:00 UTC)",
        "emoji": False,
    } in slack_late["blocks"][1]["fields"]


def test_without_a_slack_secret_slack_alerts_are_skipped_with_one_log_line(
    world: AwsWorld, logs: CapturedLogs
) -> None:
    """GIVEN no ALERTS_SLACK_SECRET_ARN  WHEN the MariaDB log is handled twice
    THEN every e-mail still goes out, nothing reaches Slack, and the skip is logged once."""
    world.unset("ALERTS_SLACK_SECRET_ARN")

    invoke(mariadb_event(numbered(mariadb_lines())))
    invoke(mariadb_event(numbered(login_lines("newcomer", seconds(30, 1)), start=1000)))

    assert len(world.emails()) == 12
    assert world.slack_bodies() == []
    skipped = [m for m in logs.messages() if "not configured" in m]
    assert skipped == ["channel slack is not configured; its alerts are skipped"]
    assert logs.summaries()[0]["unrouted"] == {"slack": 13}


@pytest.mark.filterwarnings("ignore:No application metrics to publish")
def test_invalid_min_severity_is_a_settings_error_naming_the_variable(world: AwsWorld) -> None:
    """GIVEN ALERTS_MIN_SEVERITY=urgent  WHEN invoked  THEN a SettingsError names the variable and choices."""
    world.set_env("ALERTS_MIN_SEVERITY", "urgent")

    with pytest.raises(SettingsError) as raised:
        invoke(mariadb_event(numbered(mariadb_lines()[:3])))

    assert str(raised.value) == "ALERTS_MIN_SEVERITY='urgent' is not one of info, low, medium, high, critical"
    assert world.emails() == []


def test_without_a_state_table_state_lives_in_memory_and_the_warning_is_logged_once(
    world: AwsWorld, logs: CapturedLogs
) -> None:
    """GIVEN no ALERTS_STATE_TABLE  WHEN two invocations of one container see 15 refused logins each
    THEN noise control still holds across them (one brute-force alert), the table stays empty, and
    the warning about in-memory state is logged once."""
    world.unset("ALERTS_STATE_TABLE")

    invoke(mariadb_event(numbered(login_lines("victim", seconds(0, 15)))))
    invoke(mariadb_event(numbered(login_lines("victim", seconds(1, 15), first_conn=600), start=100)))

    assert Counter(e.attributes["rule"] for e in world.emails()) == {"brute-force": 1, "failed-login": 1}
    assert world.table_items("") == []
    warnings = [m for m in logs.messages() if "ALERTS_STATE_TABLE" in m]
    assert warnings == [
        "ALERTS_STATE_TABLE is not set: windows and suppression live only as long as this container"
    ]


def test_state_lands_in_the_documented_table(world: AwsWorld) -> None:
    """GIVEN the state table  WHEN 15 refused logins are handled
    THEN the rule window, suppression windows and delivery records are items of their documented kinds:
    the 15 failures of 14:00:00-14:00:14 are two 10-second bucket items, one attribute of the payload each."""
    invoke(mariadb_event(numbered(login_lines("victim", seconds(0, 15)))))

    buckets = world.table_items("win#login-failures|mariadb-prod|victim|10.0.0.9")
    assert sorted(item["sk"]["S"] for item in buckets) == ["b#001795442400", "b#001795442410"]
    units = [{name: value for name, value in item.items() if name.startswith("u_")} for item in buckets]
    assert sorted(int(value["M"]["n"]["N"]) for unit in units for value in unit.values()) == [5, 10]
    assert sorted(item["pk"]["S"] for item in world.table_items("sup#")) == [
        "sup#brute-force|mariadb-prod|victim|10.0.0.9",
        "sup#failed-login|mariadb-prod|victim|10.0.0.9",
    ]
    assert sorted(item["channel"]["S"] for item in world.table_items("dlv#")) == ["email", "email", "slack"]


def test_the_collector_is_paused_for_detection_only_and_runs_after_the_invocation(
    world: AwsWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GIVEN failed logins that reach the brute-force threshold, and probes in detection and delivery
    WHEN the handler runs
    THEN the cyclic collector is paused while the payload is detected, runs during delivery (network,
    libraries) and after the invocation; the alerts go out as usual."""
    seen: dict[str, bool] = {}
    detect, deliver = log_batches.detect, Delivery.deliver

    def probed_detect(*args: Any, **kwargs: Any) -> Any:
        """Detection, noting whether the collector runs."""
        seen["detect"] = gc.isenabled()
        return detect(*args, **kwargs)

    def probed_deliver(self: Delivery, *args: Any, **kwargs: Any) -> Any:
        """Delivery, noting whether the collector runs."""
        seen["deliver"] = gc.isenabled()
        return deliver(self, *args, **kwargs)

    monkeypatch.setattr(log_batches, "detect", probed_detect)
    monkeypatch.setattr(Delivery, "deliver", probed_deliver)
    invoke(mariadb_event(numbered(login_lines("victim", seconds(5, 6)))))
    assert seen == {"detect": False, "deliver": True}
    assert gc.isenabled()
    assert any(email.subject.startswith("[HIGH] Brute force") for email in world.emails())
