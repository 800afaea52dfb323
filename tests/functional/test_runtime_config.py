"""How the deploy contract's settings shape what the CloudWatch Logs Lambda handler sends.

Rules from a bundled file or an SSM parameter, an unusable Slack secret, the minimum severity, and
the suppression window from ALERTS_SUPPRESSION_MINUTES or the rules file.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from detections.user_rules import RulesFileError
from handlers import cloudwatch_logs
from handlers import runtime as runtime_module
from handlers.cloudwatch_logs import lambda_handler
from handlers.runtime import Runtime
from handlers.settings import Settings, SettingsError
from tests.functional.lambda_env import (  # noqa: F401 - fixtures are used by name
    AwsWorld,
    CapturedLogs,
    logs_fixture,
    slack_fixture,
    slack_server_fixture,
    world_fixture,
)
from tests.functional.lambda_events import REGION, FakeLambdaContext, mariadb_event, numbered

RULES_PARAMETER = "/audit-alerts/rules"
TUNED_RULES = """\
version: 1
builtin:
  failed-login:
    enabled: false
  brute-force:
    threshold: 3
"""
MISSING_SECRET_ARN = f"arn:aws:secretsmanager:{REGION}:123456789012:secret:audit-alerts/absent-AbCdEf"


@pytest.fixture(scope="module", name="boto_session")
def boto_session_fixture() -> boto3.Session:
    """One boto3 session for the module's runtimes (clients come from it inside each test's moto)."""
    return boto3.Session()


@pytest.fixture(autouse=True)
def runtime_on_shared_session(monkeypatch: pytest.MonkeyPatch, boto_session: boto3.Session) -> None:
    """The handler builds its runtime as get_runtime does, on the module's session.

    Botocore loads service models once per session: sharing it saves ~0.2 s a test.
    """

    def get_runtime() -> Runtime:
        """The container's runtime, built from the environment on first use."""
        runtime = runtime_module._RUNTIME
        if runtime is None:
            runtime = Runtime(Settings.from_env(os.environ), boto_session)
            monkeypatch.setattr(runtime_module, "_RUNTIME", runtime)  # what reset_runtime() forgets
        return runtime

    monkeypatch.setattr(cloudwatch_logs, "get_runtime", get_runtime)


# ------------------------------------------------------------------------------------------ inputs
def failed_logins(times: Sequence[str], *, user: str = "victim", first_conn: int = 500) -> list[str]:
    """MariaDB server_audit FAILED_CONNECT lines (as the real server writes them) at `times` (HH:MM:SS)."""
    return [
        f"20261123 {at},vm,{user},10.0.0.9,{first_conn + n},0,FAILED_CONNECT,,,1045"
        for n, at in enumerate(times)
    ]


def admin_query(at: str, query_id: int, statement: str) -> str:
    """A MariaDB server_audit QUERY line of admin_user (quotes escaped as the plugin does)."""
    quoted = statement.replace("'", "\\'")
    return f"20261123 {at},vm,admin_user,10.0.0.9,42,{query_id},QUERY,appdb,'{quoted}',0"


def invoke(lines: Sequence[str], start: int = 0) -> dict[str, Any]:
    """Send `lines` as one subscription event from stream position `start`, the way Lambda does."""
    result: dict[str, Any] = lambda_handler(mariadb_event(numbered(lines, start)), FakeLambdaContext())
    return result


def subjects(world: AwsWorld) -> list[str]:
    """The subjects of every e-mail published so far, sorted."""
    return sorted(email.subject for email in world.emails())


def slack_headers(world: AwsWorld) -> list[str]:
    """The header of every message Slack accepted, sorted."""
    return sorted(message["blocks"][0]["text"]["text"] for message in world.slack_messages())


FOUR_FAILURES = failed_logins(["14:00:00", "14:00:01", "14:00:02", "14:00:03"])
BRUTE_FORCE_4 = "Brute force: 4 failed logins for victim from 10.0.0.9 on mariadb-prod in 3 s"
BRUTE_FORCE_5 = "Brute force: 5 failed logins for victim from 10.0.0.9 on mariadb-prod in 4 s"
FAILED_LOGIN = "Failed login for victim from 10.0.0.9 on mariadb-prod (1045)"


# -------------------------------------------------------------------------------- ALERTS_RULES
def write_rules(directory: Path, text: str = TUNED_RULES) -> Path:
    """Write a rules file under `directory`/config and return its path."""
    path = directory / "config" / "rules.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def put_rules_parameter(text: str) -> None:
    """Store `text` as the String SSM parameter RULES_PARAMETER (in the moto account)."""
    boto3.client("ssm", region_name=REGION).put_parameter(
        Name=RULES_PARAMETER, Type="String", Value=text, Overwrite=True
    )


def bundled_absolute(world: AwsWorld, tmp_path: Path) -> str:
    """ALERTS_RULES naming the bundled file by its absolute path."""
    return str(write_rules(tmp_path))


def bundled_relative(world: AwsWorld, tmp_path: Path) -> str:
    """ALERTS_RULES naming the file relative to LAMBDA_TASK_ROOT (the working directory is elsewhere)."""
    write_rules(tmp_path / "task")
    (tmp_path / "cwd").mkdir()
    world.monkeypatch.chdir(tmp_path / "cwd")
    world.set_env("LAMBDA_TASK_ROOT", str(tmp_path / "task"))
    return "config/rules.yaml"


def ssm_parameter(world: AwsWorld, tmp_path: Path) -> str:
    """ALERTS_RULES naming a String SSM parameter holding the same rules."""
    put_rules_parameter(TUNED_RULES)
    return RULES_PARAMETER


RULE_SOURCES: list[tuple[str, Callable[[AwsWorld, Path], str]]] = [
    ("bundled-absolute", bundled_absolute),
    ("bundled-relative-to-task-root", bundled_relative),
    ("ssm-string-parameter", ssm_parameter),
]


def test_without_rules_four_refused_logins_are_one_failed_login_alert_and_no_brute_force(
    world: AwsWorld,
) -> None:
    """GIVEN no ALERTS_RULES  WHEN four refused logins are handled
    THEN the built-in defaults apply: one failed-login e-mail ×4, no brute force (threshold 5)."""
    result = invoke(FOUR_FAILURES)

    assert result == {"status": "ok", "alerts_sent": 1}
    assert subjects(world) == [f"[MEDIUM] {FAILED_LOGIN} ×4"]
    assert world.slack_messages() == []


@pytest.mark.parametrize("install", [s[1] for s in RULE_SOURCES], ids=[s[0] for s in RULE_SOURCES])
def test_rules_disable_failed_login_and_lower_the_brute_force_threshold(
    world: AwsWorld, tmp_path: Path, install: Callable[[AwsWorld, Path], str]
) -> None:
    """GIVEN ALERTS_RULES (a bundled file, by absolute path or relative to LAMBDA_TASK_ROOT, or an SSM
    String parameter) disabling failed-login and setting brute-force's threshold to 3
    WHEN four refused logins are handled
    THEN the only alert is one brute force (from the third on; its title says how far it went: 4),
    by e-mail and Slack."""
    world.set_env("ALERTS_RULES", install(world, tmp_path))

    result = invoke(FOUR_FAILURES)

    assert result == {"status": "ok", "alerts_sent": 2}
    assert subjects(world) == [f"[HIGH] {BRUTE_FORCE_4}"]
    assert slack_headers(world) == [BRUTE_FORCE_4]


@dataclass(frozen=True, slots=True)
class BadRules:
    """An ALERTS_RULES value that cannot be used, and the one-line error it must give."""

    name: str
    rules: str
    parameter_text: str | None  # stored as RULES_PARAMETER first, when not None
    error: type[ValueError]
    message: str


BAD_RULES = [
    BadRules(
        "neither-file-nor-parameter",
        "/audit-alerts/absent",
        None,
        SettingsError,
        "ALERTS_RULES='/audit-alerts/absent' is neither a bundled file nor a readable SSM parameter",
    ),
    BadRules(
        "relative-path-that-does-not-exist",
        "config/absent.yaml",
        None,
        SettingsError,
        "ALERTS_RULES='config/absent.yaml' is neither a bundled file nor a readable SSM parameter",
    ),
    BadRules(
        "parameter-not-yaml",
        RULES_PARAMETER,
        "version: 1\nbuiltin:\n  brute-force:\n    threshold: 3\n  bad: indent: here\n",
        SettingsError,
        "ALERTS_RULES='/audit-alerts/rules': the SSM parameter is not valid YAML: "
        "mapping values are not allowed here (line 5, column 14)",
    ),
    BadRules(
        "parameter-with-an-unknown-key",
        RULES_PARAMETER,
        "version: 1\nbuiltin:\n  brute-force:\n    thresold: 3\n",
        RulesFileError,
        "ssm:/audit-alerts/rules: builtin.brute-force: unknown key 'thresold'",
    ),
]


@pytest.mark.parametrize("bad", BAD_RULES, ids=[b.name for b in BAD_RULES])
def test_unusable_rules_fail_the_invocation_with_one_line_naming_the_source(
    world: AwsWorld, logs: CapturedLogs, bad: BadRules
) -> None:
    """GIVEN ALERTS_RULES naming nothing that exists, or an SSM parameter that is not valid YAML or
    holds an unknown key  WHEN invoked
    THEN the invocation raises one line naming ALERTS_RULES or the parameter (and the key), and
    nothing is sent."""
    if bad.parameter_text is not None:
        put_rules_parameter(bad.parameter_text)
    world.set_env("ALERTS_RULES", bad.rules)

    with pytest.raises(bad.error) as raised:
        invoke(FOUR_FAILURES)

    assert type(raised.value) is bad.error
    assert str(raised.value) == bad.message
    assert world.emails() == []
    assert world.slack_bodies() == []


# --------------------------------------------------------------------------- unusable Slack secret
SESSION = [
    *failed_logins(["14:00:00", "14:00:01", "14:00:02", "14:00:03", "14:00:04"]),
    admin_query("14:00:10", 7, "DROP TABLE orders"),
]


@dataclass(frozen=True, slots=True)
class BrokenSecret:
    """A Slack secret the runtime cannot use, and the reason it must give."""

    name: str
    secret_string: str | None  # written to the deployed secret; None: ALERTS_SLACK_SECRET_ARN names no secret
    reason: str
    leak_probe: str  # text that must appear in no log output


BROKEN_SECRETS = [
    BrokenSecret(
        "not-json",
        "https://hooks.slack.com/services/T0BROKEN/B0BROKEN/n0tJs0nS3cretValue",
        "the Slack secret is not JSON",
        "n0tJs0nS3cretValue",
    ),
    BrokenSecret(
        "json-without-webhook-url-or-token",
        json.dumps({"url": "https://hooks.slack.com/services/T0BROKEN/B0BROKEN/wr0ngKeyS3cretValue"}),
        "the Slack secret is missing 'webhook_url' (or 'token' and 'channel')",
        "wr0ngKeyS3cretValue",
    ),
    BrokenSecret(
        "arn-of-no-secret",
        None,
        "the Slack secret could not be read (ResourceNotFoundException)",
        "lambdaWebh00kT0ken",
    ),
]


@pytest.mark.parametrize("broken", BROKEN_SECRETS, ids=[b.name for b in BROKEN_SECRETS])
def test_an_unusable_slack_secret_fails_slack_alerts_permanently_and_emails_still_go_out(
    world: AwsWorld, logs: CapturedLogs, broken: BrokenSecret
) -> None:
    """GIVEN a Slack secret that is not JSON, lacks webhook_url/token, or does not exist
    WHEN two invocations each produce Slack alerts
    THEN neither raises, e-mails are delivered, every Slack alert is a permanent delivery failure in
    the invocation summary, the unusable secret is logged once at ERROR, and its value nowhere."""
    if broken.secret_string is None:
        world.set_env("ALERTS_SLACK_SECRET_ARN", MISSING_SECRET_ARN)
    else:
        boto3.client("secretsmanager", region_name=REGION).put_secret_value(
            SecretId=world.secret_arn, SecretString=broken.secret_string
        )
    secret_arn = MISSING_SECRET_ARN if broken.secret_string is None else world.secret_arn

    first = invoke(SESSION)
    second = invoke([admin_query("14:20:00", 8, "DROP TABLE invoices")], start=100)

    assert (first, second) == ({"status": "ok", "alerts_sent": 2}, {"status": "ok", "alerts_sent": 0})
    assert subjects(world) == [f"[HIGH] {BRUTE_FORCE_5}", f"[MEDIUM] {FAILED_LOGIN} ×5"]
    assert world.slack_bodies() == []
    counts = [
        (s["alerts_sent"], s["delivery_failures_permanent"], s["delivery_failures_retryable"])
        for s in logs.summaries()
    ]
    assert counts == [({"email": 2}, 2, 0), ({}, 1, 0)]
    errors = logs.messages(logging.ERROR)
    unusable = [m for m in errors if m.startswith("Slack is configured")]
    assert unusable == [f"Slack is configured but unusable: {broken.reason} ({secret_arn})"]
    per_alert = re.compile(rf"alert [0-9a-f]{{32}} not delivered on slack: {re.escape(broken.reason)}")
    assert [bool(per_alert.fullmatch(m)) for m in errors if m not in unusable] == [True, True, True]
    assert broken.leak_probe not in logs.text()


# ------------------------------------------------------------------------------ ALERTS_MIN_SEVERITY
SEVERITY_SESSION = [*SESSION, admin_query("14:00:11", 8, "CREATE USER 'eve'@'%' IDENTIFIED BY *****")]
ALL_EMAILS = [f"[HIGH] {BRUTE_FORCE_5}", f"[MEDIUM] {FAILED_LOGIN} ×5"]
DROP_TABLE = "DROP TABLE orders by admin_user on mariadb-prod"
USER_CREATED = "User created: eve@% by admin_user on mariadb-prod"


@pytest.mark.parametrize(
    ("min_severity", "emails", "slack_alerts"),
    [
        (None, ALL_EMAILS, [BRUTE_FORCE_5, DROP_TABLE, USER_CREATED]),
        ("high", [f"[HIGH] {BRUTE_FORCE_5}"], [BRUTE_FORCE_5, DROP_TABLE]),
    ],
)
def test_min_severity_drops_findings_below_it(
    world: AwsWorld, min_severity: str | None, emails: list[str], slack_alerts: list[str]
) -> None:
    """GIVEN ALERTS_MIN_SEVERITY  WHEN five refused logins, a DROP TABLE and a CREATE USER are handled
    THEN at `high` the medium findings (failed-login, user-created) give no alert and the high ones
    (brute-force, drop-table) still do; unset, all of them alert."""
    if min_severity is not None:
        world.set_env("ALERTS_MIN_SEVERITY", min_severity)

    result = invoke(SEVERITY_SESSION)

    assert result == {"status": "ok", "alerts_sent": len(emails) + len(slack_alerts)}
    assert subjects(world) == emails
    assert slack_headers(world) == slack_alerts


# ----------------------------------------------------------------------- the suppression window
@dataclass(frozen=True, slots=True)
class WindowCase:
    """Where the suppression window is set, and the alerts two logins ten minutes apart must give."""

    name: str
    file_minutes: int | None  # settings.suppression_minutes of ALERTS_RULES' file (None: no rules file)
    env_minutes: str | None  # ALERTS_SUPPRESSION_MINUTES (None: unset)
    alerts: int  # 2: the second login opened a new alert; 1: it was folded into the first's window


WINDOW_CASES = [
    WindowCase("default-5-minutes", None, None, 2),
    WindowCase("rules-file-30", 30, None, 1),
    WindowCase("variable-5-overrides-rules-file-30", 30, "5", 2),
    WindowCase("variable-30-overrides-rules-file-5", 5, "30", 1),
]


@pytest.mark.parametrize("case", WINDOW_CASES, ids=[c.name for c in WINDOW_CASES])
def test_suppression_window_comes_from_the_variable_else_the_rules_file_else_five_minutes(
    world: AwsWorld, logs: CapturedLogs, tmp_path: Path, case: WindowCase
) -> None:
    """GIVEN settings.suppression_minutes in the rules file and/or ALERTS_SUPPRESSION_MINUTES
    WHEN a refused login at 14:00 and another at 14:10 arrive in two invocations
    THEN the second opens a new alert when the window is 5 minutes and is folded when it is 30."""
    if case.file_minutes is not None:
        text = f"version: 1\nsettings:\n  suppression_minutes: {case.file_minutes}\n"
        world.set_env("ALERTS_RULES", str(write_rules(tmp_path, text)))
    if case.env_minutes is not None:
        world.set_env("ALERTS_SUPPRESSION_MINUTES", case.env_minutes)

    invoke(failed_logins(["14:00:00"]))
    invoke(failed_logins(["14:10:00"], first_conn=600), start=100)

    assert subjects(world) == [f"[MEDIUM] {FAILED_LOGIN}"] * case.alerts
    assert [s["suppressed"] for s in logs.summaries()] == [0, 2 - case.alerts]
