"""DynamoDB rule windows and delivery ledger under moto, held to the in-memory scenarios; item expiry."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest

from detections.dynamodb_state import (
    DynamoDbDeliveryLedger,
    DynamoDbStateStore,
    DynamoDbSuppressionStore,
    to_micros,
)
from tests.functional.dynamodb_backends import (  # noqa: F401 - fixtures are used by name
    TABLE,
    WINDOW,
    Backend,
    at,
    backend_fixture,
    fake_credentials_fixture,
    fixed_clock,
    new_client,
    state_table_fixture,
)

# --- rule windows -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Record:
    """Container `container` records `member` under `key` at T0 + seconds and must see `expected`."""

    container: int
    key: str
    member: str
    seconds: float
    expected: int


@dataclass(frozen=True)
class Count:
    """Container `container` counts `key` at T0 + seconds and must see `expected`."""

    container: int
    key: str
    seconds: float
    expected: int


LONG_KEY = "login-failures|prod|" + "u" * 3000
STATE_SCENARIOS: dict[str, list[Record | Count]] = {
    "a window spans invocations": [
        Record(1, "k", "e1", 0, 1),
        Record(1, "k", "e2", 30, 2),
        Record(2, "k", "e3", 60, 3),
        Count(1, "k", 60, 3),
        Count(2, "k", 301, 2),
        Record(2, "k", "e4", 360, 1),
    ],
    "a member counts once and keeps its latest time": [
        Record(1, "k", "e1", 0, 1),
        Record(2, "k", "e1", 0, 1),
        Record(2, "k", "e1", 200, 1),
        Count(1, "k", 450, 1),
        Count(1, "k", 500, 0),
    ],
    "an earlier re-delivery does not move the time back": [
        Record(1, "k", "e1", 100, 1),
        Record(2, "k", "e1", 10, 0),  # counted at 10 s, its kept time (100 s) lies ahead of the window
        Count(1, "k", 350, 1),
        Count(1, "k", 400, 0),
    ],
    "out-of-order events count by their own time": [
        Record(1, "k", "late", 240, 1),
        Record(2, "k", "early", 0, 1),
        Count(1, "k", 240, 2),
        Count(1, "k", 301, 1),
        Record(1, "k", "before-window", -100, 1),
    ],
    "the window is (at - window, at]": [
        Record(1, "k", "e1", 0, 1),
        Count(1, "k", 300 - 1e-6, 1),
        Count(1, "k", 300, 0),
        Count(1, "k", -1e-6, 0),
    ],
    "keys do not share members": [
        Record(1, "k1", "m", 0, 1),
        Record(2, "k2", "m", 0, 1),
        Count(1, "k3", 0, 0),
    ],
    "an empty member and an oversized key still work": [
        Record(1, LONG_KEY, "", 0, 1),
        Record(2, LONG_KEY, "", 0, 1),
        Record(2, LONG_KEY, "bob", 1, 2),
    ],
}


@pytest.mark.parametrize("steps", STATE_SCENARIOS.values(), ids=STATE_SCENARIOS.keys())
def test_rule_windows_behave_alike(backend: Backend, steps: list[Record | Count]) -> None:
    # GIVEN containers over one store
    for step in steps:
        store = backend.container("state", step.container)
        # WHEN each step records or counts
        if isinstance(step, Record):
            seen = store.record(step.key, step.member, at(step.seconds), WINDOW)
        else:
            seen = store.count(step.key, at(step.seconds), WINDOW)
        # THEN it sees exactly the expected number of distinct members
        assert (step, seen) == (step, step.expected)


def test_counting_reads_every_page(state_table: str) -> None:
    # GIVEN 7 occurrences in the window and a store that reads 2 items per page
    client = new_client()
    pages: list[str] = []
    client.meta.events.register("before-call.dynamodb.Query", lambda **_: pages.append("page"))
    store = DynamoDbStateStore(state_table, client, clock=fixed_clock(), page_size=2)
    for i in range(6):
        store.record("k", f"e{i}", at(i), WINDOW)
    pages.clear()
    # WHEN the seventh is recorded
    seen = store.record("k", "e6", at(6), WINDOW)
    # THEN all pages were read and summed
    assert (seen, len(pages)) == (7, 4)


# --- delivery ledger ----------------------------------------------------------------------------


def test_the_ledger_round_trips_across_containers(backend: Backend) -> None:
    # GIVEN an alert delivered by email from one container, and by Slack (twice) from another
    first = backend.container("ledger", 1)
    second = backend.container("ledger", 2)
    before = first.delivered_channels("alert-1")
    first.mark_delivered("alert-1", "email", at(0))
    second.mark_delivered("alert-1", "slack", at(1))
    second.mark_delivered("alert-1", "slack", at(2))
    # WHEN either container asks
    # THEN both channels show for that alert only
    assert before == frozenset()
    assert first.delivered_channels("alert-1") == frozenset({"email", "slack"})
    assert second.delivered_channels("alert-1") == frozenset({"email", "slack"})
    assert second.delivered_channels("alert-2") == frozenset()


# --- expiry (TTL) -------------------------------------------------------------------------------


def item(key: dict[str, Any]) -> dict[str, Any]:
    """The stored item at `key`, read strongly consistently."""
    return dict(new_client().get_item(TableName=TABLE, Key=key, ConsistentRead=True)["Item"])


def epoch_seconds(moment: datetime) -> int:
    """Whole epoch seconds of `moment`."""
    return to_micros(moment) // 1_000_000


@pytest.mark.parametrize(
    ("now", "expected_expiry"),
    [
        pytest.param(at(5), at(0) + WINDOW + timedelta(days=1), id="live: event time + window + 1 day"),
        pytest.param(
            at(0) + timedelta(days=30), at(0) + timedelta(days=30) + WINDOW, id="replay: now + window"
        ),
    ],
)
def test_expiry_follows_event_time_with_a_floor(
    state_table: str, now: datetime, expected_expiry: datetime
) -> None:
    # GIVEN stores whose clock says `now`
    client = new_client()
    DynamoDbStateStore(state_table, client, clock=fixed_clock(now)).record("k", "e1", at(0), WINDOW)
    DynamoDbSuppressionStore(state_table, client, clock=fixed_clock(now)).admit(
        "g", "a0", at(0), WINDOW, 1, "a0"
    )
    DynamoDbDeliveryLedger(state_table, client, clock=fixed_clock(now)).mark_delivered("a0", "email", at(0))
    # WHEN reading the items back
    window_item = item({"pk": {"S": "win#k"}, "sk": {"S": "e1"}})
    suppression_item = item({"pk": {"S": "sup#g"}, "sk": {"S": "window"}})
    delivery_item = item({"pk": {"S": "dlv#a0"}, "sk": {"S": "email"}})
    # THEN event-based expiry applies unless it is already past, and deliveries live 7 days
    assert window_item == {
        "pk": {"S": "win#k"},
        "sk": {"S": "e1"},
        "t": {"N": str(to_micros(at(0)))},
        "expires_at": {"N": str(epoch_seconds(expected_expiry))},
    }
    assert suppression_item["expires_at"] == {"N": str(epoch_seconds(expected_expiry))}
    assert delivery_item["expires_at"] == {"N": str(epoch_seconds(max(at(0), now) + timedelta(days=7)))}
    assert delivery_item["delivered_at"] == {"N": str(to_micros(at(0)))}
