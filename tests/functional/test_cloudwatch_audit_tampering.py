"""Audit tampering through the CloudWatch Logs handler: critical by e-mail and Slack, decoys silent."""

from __future__ import annotations

from handlers.cloudwatch_logs import lambda_handler
from tests.functional.lambda_env import (  # noqa: F401 - fixtures are used by name
    AwsWorld,
    slack_fixture,
    slack_server_fixture,
    world_fixture,
)
from tests.functional.lambda_events import FakeLambdaContext, mariadb_event, numbered, postgres_event

# As MariaDB server_audit writes them (see tests/integration/tampering_scenario.py).
MARIADB_LINES = [
    "20261123 15:10:01,vm,dba,10.0.7.7,40,101,QUERY,appdb,'SELECT @@server_audit_logging',0",
    "20261123 15:10:02,vm,dba,10.0.7.7,40,102,QUERY,appdb,"
    "'SELECT \\'SET GLOBAL server_audit_logging=OFF\\'',0",
    "20261123 15:10:03,vm,dba,10.0.7.7,40,103,QUERY,appdb,'SET GLOBAL server_audit_logging=OFF',0",
    "20261123 15:10:09,vm,dba,10.0.7.7,40,107,QUERY,appdb,'SET GLOBAL server_audit_logging=ON',0",
    "20261123 15:10:10,vm,intruder,10.0.7.8,41,110,QUERY,appdb,'UNINSTALL PLUGIN server_audit',1142",
]
# As PostgreSQL + pgaudit writes them (RDS log_line_prefix).
_PG_PREFIX = "UTC:10.0.4.9(50000):postgres@appdb:[7001]:LOG:  AUDIT: SESSION"
POSTGRES_LINES = [
    f"2026-11-23 15:11:01 {_PG_PREFIX},1,1,DDL,ALTER SYSTEM,,,"
    "ALTER SYSTEM SET pgaudit.log = 'none',<not logged>",
    f"2026-11-23 15:11:02 {_PG_PREFIX},2,1,DDL,ALTER SYSTEM,,,"
    "\"ALTER SYSTEM SET pgaudit.log = 'ddl,role,write'\",<not logged>",
]


def test_audit_tampering_reaches_email_and_slack_as_critical(world: AwsWorld) -> None:
    """GIVEN MariaDB lines turning server_audit_logging OFF (and ON again), a refused UNINSTALL PLUGIN and
    two decoys that only read or quote the setting
    WHEN the CloudWatch Logs handler runs
    THEN the OFF and the attempt each arrive by e-mail and in Slack as critical; ON and decoys are silent."""
    lambda_handler(mariadb_event(numbered(MARIADB_LINES)), FakeLambdaContext())

    assert sorted(email.subject for email in world.emails()) == [
        "[CRITICAL] Attempted UNINSTALL PLUGIN server_audit (failed: 1142) by intruder on mariadb-prod",
        "[CRITICAL] server_audit_logging set OFF by dba on mariadb-prod",
    ]
    headers = sorted(message["blocks"][0]["text"]["text"] for message in world.slack_messages())
    assert headers == [
        "Attempted UNINSTALL PLUGIN server_audit (failed: 1142) by intruder on mariadb-prod",
        "server_audit_logging set OFF by dba on mariadb-prod",
    ]


def test_pgaudit_switched_off_by_alter_system_reaches_both_channels(world: AwsWorld) -> None:
    """GIVEN pgaudit lines of ALTER SYSTEM SET pgaudit.log = 'none', then a restore to ddl,role,write
    WHEN the CloudWatch Logs handler runs
    THEN the switch-off arrives by e-mail and in Slack; the restore is silent."""
    lambda_handler(postgres_event(numbered(POSTGRES_LINES)), FakeLambdaContext())

    title = "pgaudit.log set to 'none' server-wide (ALTER SYSTEM) by postgres on pg-prod"
    assert [email.subject for email in world.emails()] == [f"[CRITICAL] {title}"]
    assert [message["blocks"][0]["text"]["text"] for message in world.slack_messages()] == [title]
