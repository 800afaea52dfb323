"""`audit-alerts demo` end to end, as a separate process: what a newcomer sees, and what must never show.

The assertions are per rule / channel / source, not exact titles: the scenario is fixed, the wording
of alerts is not.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from handlers.demo_scenario import SCENARIO_PASSWORDS
from tests.functional.demo_process import DemoRun, announced_ports, is_listening, run_demo

JSON_KEYS = {"channel", "rule", "source", "user", "count"}


# A shell set up for some real account and behind a proxy: none of it may reach the local emulator.
HOSTILE_SHELL = {
    "AWS_PROFILE": "no-such-profile",
    "AWS_REGION": "ap-southeast-2",
    "HTTP_PROXY": "http://127.0.0.1:9",
    "HTTPS_PROXY": "http://127.0.0.1:9",
    "AWS_ENDPOINT_URL_SNS": "http://127.0.0.1:9",
    "ALERTS_STATE_TABLE": "someone-elses-table",
    "ALERTS_MIN_SEVERITY": "critical",
}


@pytest.fixture(name="text_run", scope="module")
def text_run_fixture() -> DemoRun:
    """One run of `audit-alerts demo` (the README's main command), from a shell set up for real AWS."""
    return run_demo(extra_env=HOSTILE_SHELL)


@pytest.fixture(name="json_run", scope="module")
def json_run_fixture() -> DemoRun:
    """One run of `audit-alerts demo --json`."""
    return run_demo("--json")


def _records(run: DemoRun) -> list[dict[str, Any]]:
    """The JSON lines of a --json run."""
    return [json.loads(line) for line in run.stdout.splitlines() if line.strip()]


def _blocks(output: str, kind: str) -> list[str]:
    """The EMAIL or SLACK blocks of the text output, each up to the next blank-line-separated block."""
    return [
        chunk
        for chunk in re.split(r"\n(?=EMAIL  |SLACK  |\[\d/\d\] |Alerts delivered)", output)
        if chunk.startswith(kind)
    ]


def _shown_count(email_block: str) -> int:
    """The count an email shows: its `count` attribute when SNS carries one, else its Count line's number."""
    found = re.search(r"Attributes: .*\bcount=(\d+)", email_block) or re.search(
        r"Count:\s+(\d+)", email_block
    )
    assert found, email_block
    return int(found.group(1))


def test_demo_runs_cleanly_and_says_which_hops_are_emulated(text_run: DemoRun) -> None:
    """GIVEN nothing but this tree WHEN the demo runs THEN it exits 0 and names the hops it plays itself."""
    assert text_run.returncode == 0, text_run.stderr
    assert "ThreadedMotoServer" in text_run.stdout
    assert "subscription filter → Lambda" in text_run.stdout
    assert "handlers.cloudwatch_logs.lambda_handler" in text_run.stdout
    assert "event source mapping" in text_run.stdout
    assert "handlers.activity_stream.lambda_handler" in text_run.stdout
    assert "Traceback" not in text_run.output


def test_demo_shows_a_collapsed_failed_login_email_with_its_count(text_run: DemoRun) -> None:
    """GIVEN a burst of failed logins WHEN the demo delivers it THEN one email per burst carries the count."""
    emails = [block for block in _blocks(text_run.stdout, "EMAIL") if "rule=failed-login" in block]
    # THEN one email for the Aurora MySQL burst and one for the Aurora PostgreSQL burst, not one per failure
    assert len(emails) == 2
    assert all("Subject: " in block and "Attributes: " in block for block in emails)
    # THEN each shows its burst's size (8 on Aurora MySQL, 6 on Aurora PostgreSQL)
    assert sorted(_shown_count(block) for block in emails) == [6, 8]


def test_demo_shows_brute_force_login_after_failures_drop_table_and_activity_stream(
    json_run: DemoRun,
) -> None:
    """GIVEN the scenario WHEN it is delivered THEN each headline alert arrives on its channel."""
    assert json_run.returncode == 0, json_run.stderr
    records = _records(json_run)
    seen = {(record["rule"], record["channel"], record["source"]) for record in records}
    for source in ("aurora_mysql", "postgres"):
        assert ("brute-force", "email", source) in seen
        assert ("brute-force", "slack", source) in seen
        assert ("login-after-failures", "email", source) in seen
        assert ("drop-table", "slack", source) in seen
    assert ("drop-table", "slack", "activity_stream") in seen
    assert {record["channel"] for record in records} == {"email", "slack"}


def test_demo_json_lines_have_the_documented_keys(json_run: DemoRun) -> None:
    """GIVEN --json WHEN the demo runs THEN stdout holds only JSON objects with the documented keys."""
    records = _records(json_run)
    assert records
    for record in records:
        assert record.keys() >= JSON_KEYS
        assert record["channel"] in {"email", "slack"}
        assert ("subject" in record) == (record["channel"] == "email")
        assert ("text" in record) == (record["channel"] == "slack")
        assert isinstance(record["count"], int)
        assert record["count"] >= 1
        assert record["rule"]
        assert record["source"]
        assert record["user"]
    failed = [r for r in records if r["rule"] == "failed-login" and r["channel"] == "email"]
    assert sorted(r["count"] for r in failed) == [6, 8]
    # THEN the story went to stderr, so stdout can be piped to jq
    assert "Alerts delivered" in json_run.stderr


def test_demo_shows_slack_messages_as_they_render(text_run: DemoRun) -> None:
    """GIVEN Slack alerts WHEN shown THEN as a readable rendering of their blocks, not as JSON."""
    slack = _blocks(text_run.stdout, "SLACK")
    drop = [block for block in slack if "Rule: drop-table" in block]
    sources = {match.group(1) for block in drop if (match := re.search(r"Source: (\S+)", block))}
    assert sources == {"aurora_mysql", "postgres", "activity_stream"}
    assert all('"blocks"' not in block for block in slack)


def test_demo_summary_counts_alerts_kms_calls_and_state_items(text_run: DemoRun) -> None:
    """GIVEN the run WHEN it ends THEN the summary has alerts per rule and channel, KMS calls, state items."""
    summary = text_run.stdout[text_run.stdout.index("Alerts delivered") :]
    assert re.search(r"drop-table\s+\d+\s+[1-9]\d*\n", summary)
    assert re.search(r"failed-login\s+[1-9]\d*\s+\d+\n", summary)
    assert re.search(r"database \(RDS\) GenerateDataKey\s+1", summary)
    assert re.search(r"handler Decrypt\s+1", summary)
    assert "State table items" in summary
    assert re.search(r"Handler invocations\n\s+activity_stream\.lambda_handler\s+1", summary)


@pytest.mark.parametrize("password", SCENARIO_PASSWORDS)
def test_no_scenario_password_appears_in_any_output(
    text_run: DemoRun, json_run: DemoRun, password: str
) -> None:
    """GIVEN statements carrying passwords WHEN the demo runs, with or without --json THEN none is printed."""
    assert password not in text_run.output
    assert password not in json_run.output


def test_demo_frees_its_ports(text_run: DemoRun) -> None:
    """GIVEN a finished run WHEN its emulator and Slack ports are probed THEN nothing listens there."""
    ports = announced_ports(text_run.stdout)
    assert len(ports) == 2
    assert not any(is_listening(port) for port in ports)
