"""Statement alerts through the CloudWatch Logs handler: every destroyed object reaches a person by name.

Three databases and five tables dropped by one user within a minute, spread over payloads of 100
events (state table on moto, e-mail and Slack configured): each object is named in a delivered
message in the invocation where it arrives; a failing repeat arrives as an attempt; only a repeat on
the same object folds.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

import pytest

from handlers.cloudwatch_logs import lambda_handler
from tests.functional.lambda_env import (  # noqa: F401 - fixtures are used by name
    AwsWorld,
    Email,
    slack_fixture,
    slack_server_fixture,
    world_fixture,
)
from tests.functional.lambda_events import FakeLambdaContext, LogLine, mariadb_event, postgres_event

PAYLOAD_EVENTS = 100
USER = "ops"
HOST = "10.0.0.9"


def statement(
    at: str, conn: int, query: int, sql: str, *, status: int = 0, tables: Sequence[str] = ()
) -> list[str]:
    """MariaDB server_audit lines of one statement: its TABLE lines (DROP) first, then the QUERY line."""
    lines = [f"20261123 {at},vm,{USER},{HOST},{conn},{query},DROP,shop,{table}," for table in tables]
    return [*lines, f"20261123 {at},vm,{USER},{HOST},{conn},{query},QUERY,shop,'{sql}',{status}"]


def filler(at: str, count: int, first_query: int) -> list[str]:
    """Harmless statements of another user, so that each payload holds 100 events."""
    return [
        f"20261123 {at},vm,app,10.0.0.5,7,{first_query + n},QUERY,shop,'SELECT {n} FROM dual',0"
        for n in range(count)
    ]


def payload(lines: list[str], start: int) -> tuple[dict[str, Any], int]:
    """One subscription event of `lines` padded to PAYLOAD_EVENTS with filler; the next stream position."""
    padded = lines + filler("14:00:59", PAYLOAD_EVENTS - len(lines), 1000 + start)
    events = [LogLine(message, start + n) for n, message in enumerate(padded)]
    return mariadb_event(events), start + len(padded)


def invoke(event: dict[str, Any]) -> None:
    """Call the handler the way Lambda does."""
    lambda_handler(event, FakeLambdaContext())


def objects_of_email(email: Email) -> list[str]:
    """The names in an e-mail's 'Objects:' line."""
    match = re.search(r"^Objects:\s+(.*)$", email.body, re.MULTILINE)
    return match.group(1).split(", ") if match else []


def objects_of_slack(message: dict[str, Any]) -> list[str]:
    """The names in a Slack message's 'Objects: …' field."""
    for block in message["blocks"]:
        for field in block.get("fields", []):
            if field["text"].startswith("Objects: "):
                return str(field["text"]).removeprefix("Objects: ").split(", ")
    return []


def header(message: dict[str, Any]) -> str:
    """A Slack message's header text."""
    return str(message["blocks"][0]["text"]["text"])


SCENARIO = [
    # payload 1: a database and two tables
    [
        *statement("14:00:01", 42, 1, "drop database if exists scratchdb"),
        *statement("14:00:05", 42, 2, "DROP TABLE orders", tables=["orders"]),
        *statement("14:00:09", 42, 3, "DROP TABLE items", tables=["items"]),
    ],
    # payload 2: the schema synonym, two more tables, and shop itself (succeeds)
    [
        *statement("14:00:14", 42, 4, "DROP SCHEMA scratch2"),
        *statement("14:00:18", 42, 5, "DROP TABLE carts, users", tables=["carts", "users"]),
        *statement("14:00:25", 42, 6, "DROP DATABASE shop"),
    ],
    # payload 3: shop again (fails: it no longer exists), the fifth table, a repeat of orders
    [
        *statement("14:00:31", 42, 7, "DROP DATABASE shop", status=1008),
        *statement("14:00:40", 43, 1, "DROP TABLE payments", tables=["payments"]),
        *statement("14:00:45", 43, 2, "DROP TABLE IF EXISTS orders", tables=["orders"]),
    ],
]


def play(world: AwsWorld) -> list[tuple[list[Email], list[dict[str, Any]]]]:
    """Send the scenario's payloads one invocation each; what each invocation delivered, per channel."""
    delivered = []
    position = 0
    for lines in SCENARIO:
        emails_before, slack_before = len(world.emails()), len(world.slack_messages())
        event, position = payload(lines, position)
        invoke(event)
        delivered.append((world.emails()[emails_before:], world.slack_messages()[slack_before:]))
    return delivered


def test_every_dropped_database_and_table_is_named_in_the_invocation_where_it_arrives(
    world: AwsWorld,
) -> None:
    # GIVEN three databases and five tables dropped by one user within a minute, over three payloads
    # WHEN each payload reaches the handler
    delivered = play(world)

    # THEN each invocation names its own new objects: databases by e-mail, tables in Slack
    email_objects = [
        {name for email in emails for name in objects_of_email(email)} for emails, _ in delivered
    ]
    slack_tables = [
        {
            name
            for message in messages
            if "DROP TABLE" in header(message)
            for name in objects_of_slack(message)
        }
        for _, messages in delivered
    ]
    assert email_objects[0] == {"scratchdb"}
    assert email_objects[1] == {"scratch2", "shop"}
    assert email_objects[2] == {"shop"}  # the failing repeat, reported as an attempt
    assert slack_tables[0] == {"shop.orders", "shop.items"}
    assert slack_tables[1] == {"shop.carts", "shop.users"}
    assert slack_tables[2] == {"shop.payments"}  # the repeated drop of orders folded


def test_a_successful_drop_is_never_called_an_attempt_and_a_failed_repeat_is_its_own_alert(
    world: AwsWorld,
) -> None:
    # GIVEN DROP DATABASE shop that succeeds, then the same text that fails a few seconds later
    # WHEN the scenario is delivered
    play(world)
    shop = [email for email in world.emails() if "shop" in objects_of_email(email)]

    # THEN one e-mail reports the drop as done, another the failed attempt; neither mixes them up
    done = [email for email in shop if "Attempted" not in email.subject]
    attempts = [email for email in shop if "Attempted" in email.subject]
    assert len(done) == 1
    assert "DROP DATABASE shop" in done[0].body  # quoted among the statements it reports
    assert "(+1 more)" in done[0].subject  # the title names scratch2 and says there is more
    assert re.search(r"^Attempt:\s+succeeded$", done[0].body, re.MULTILINE)
    assert len(attempts) == 1
    assert "(failed: 1008)" in attempts[0].subject


def test_a_retried_payload_sends_nothing_twice(world: AwsWorld) -> None:
    # GIVEN the first payload was delivered
    event, _ = payload(SCENARIO[0], 0)
    invoke(event)
    emails, messages = len(world.emails()), len(world.slack_messages())

    # WHEN Lambda delivers the same payload again
    invoke(event)

    # THEN no message goes out again
    assert len(world.emails()) == emails
    assert len(world.slack_messages()) == messages


def test_a_thousand_tables_dropped_in_one_payload_are_one_message_listing_them(world: AwsWorld) -> None:
    # GIVEN one payload in which one user drops 1,000 tables, one statement each
    lines = [
        line
        for n in range(1000)
        for line in statement("14:00:01", 42, n + 1, f"DROP TABLE t{n:04d}", tables=[f"t{n:04d}"])
    ]
    event = mariadb_event([LogLine(message, n) for n, message in enumerate(lines)])

    # WHEN the handler runs
    invoke(event)

    # THEN one Slack message says it: 50 names, then how many more, within Slack's field limit
    drops = [m for m in world.slack_messages() if "DROP TABLE" in header(m)]
    assert len(drops) == 1
    field_text = next(
        f["text"]
        for b in drops[0]["blocks"]
        for f in b.get("fields", [])
        if f["text"].startswith("Objects: ")
    )
    names = objects_of_slack(drops[0])
    assert names[0] == "shop.t0000"
    assert names[49].endswith("+950 more")
    assert len(field_text) <= 2000
    assert json.dumps(drops[0]).count("shop.t0999") == 0  # the rest are counted, not listed


PG = "2026-11-23 13:07:{s:02d} UTC:127.0.0.1(40222):ops@postgres:[18982]:{what}"


@pytest.mark.parametrize("log_statement", [False, True], ids=["pgaudit-alone", "with-log-statement"])
def test_a_failed_drop_split_across_payloads_still_arrives_as_an_attempt(
    world: AwsWorld, log_statement: bool
) -> None:
    # GIVEN DROP DATABASE shop that succeeds, then fails, the payload boundary between the failure's
    # ERROR line and its STATEMENT line (PostgreSQL + pgaudit, with or without log_statement)
    first = [
        *([PG.format(s=1, what="LOG:  statement: DROP DATABASE shop")] if log_statement else []),
        PG.format(s=1, what="LOG:  AUDIT: SESSION,1,1,DDL,DROP DATABASE,,,DROP DATABASE shop,<not logged>"),
        *([PG.format(s=5, what="LOG:  statement: DROP DATABASE shop")] if log_statement else []),
        PG.format(s=5, what='ERROR:  database "shop" does not exist'),
    ]
    second = [PG.format(s=5, what="STATEMENT:  DROP DATABASE shop")]

    # WHEN the two payloads reach the handler one after the other
    invoke(postgres_event([LogLine(m, n) for n, m in enumerate(first)]))
    invoke(postgres_event([LogLine(m, 100 + n) for n, m in enumerate(second)]))

    # THEN one e-mail reports the drop as done and another the failed attempt
    subjects = sorted(email.subject for email in world.emails() if "shop" in objects_of_email(email))
    assert len(subjects) == 2
    assert subjects[0].startswith("[CRITICAL] Attempted DROP DATABASE shop (failed: ERROR)")
    assert subjects[1] == "[CRITICAL] DROP DATABASE shop by ops on pg-prod"
