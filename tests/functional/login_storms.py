"""Failed-login storms as CloudWatch Logs payloads, scheduled events, and a DynamoDB call counter."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.functional.lambda_env import Email
from tests.functional.lambda_events import ACCOUNT, REGION, mariadb_event, numbered

STORM_START = datetime(2026, 11, 23, 14, 0, 0, tzinfo=UTC)


def failed_logins(
    count: int,
    *,
    user: str = "bob",
    host: str = "127.0.0.66",
    per_second: int = 100,
    start: datetime = STORM_START,
    first_conn: int = 1000,
) -> list[str]:
    """`count` MariaDB FAILED_CONNECT lines (one-second timestamps), `per_second` in each second."""
    return [
        f"{(start + timedelta(seconds=n // per_second)):%Y%m%d %H:%M:%S},vm,{user},{host},"
        f"{first_conn + n},0,FAILED_CONNECT,,,1045"
        for n in range(count)
    ]


def storm_event(lines: list[str], position: int = 0) -> dict[str, Any]:
    """A subscription payload of `lines` whose CloudWatch event ids start at `position`."""
    return mariadb_event(numbered(lines, start=position))


def scheduled_event(at: datetime) -> dict[str, Any]:
    """The EventBridge 'Scheduled Event' a rate(5 minutes) schedule sends at `at`."""
    return {
        "version": "0",
        "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT,
        "time": f"{at:%Y-%m-%dT%H:%M:%SZ}",
        "region": REGION,
        "resources": [f"arn:aws:events:{REGION}:{ACCOUNT}:rule/audit-alerts-digest"],
        "detail": {},
    }


def counts_of(emails: list[Email], rule: str) -> list[tuple[str, int]]:
    """(kind, count) of every e-mail of `rule`, in the order they were published."""
    return [
        (e.attributes["kind"], int(e.attributes["count"])) for e in emails if e.attributes["rule"] == rule
    ]


@dataclass
class CallCounter:
    """Counts the DynamoDB API calls one client makes (a botocore event hook, nothing is mocked)."""

    calls: Counter[str] = field(default_factory=Counter)

    def attach(self, client: Any) -> CallCounter:
        """Count every call `client` makes from now on."""
        client.meta.events.register("before-call.dynamodb.*", self._count, unique_id=f"count-{id(self)}")
        return self

    def _count(self, model: Any, **_: Any) -> None:
        """Note one call of operation `model.name`."""
        self.calls[model.name] += 1

    @property
    def total(self) -> int:
        """All calls so far."""
        return sum(self.calls.values())
