"""DynamoDB rule windows and delivery ledger under moto, held to the in-memory scenarios; item expiry."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest

from detections.state import StateView
from stores.dynamodb_common import to_micros
from stores.dynamodb_state import DynamoDbStateStore, bucket_sort_key, unit_attribute
from stores.dynamodb_suppression import DynamoDbDeliveryLedger, DynamoDbSuppressionStore
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
class Add:
    """Count `occurrence` (or note a distinct `member` when `distinct`) under `key` at T0 + seconds."""

    key: str
    occurrence: str
    seconds: float
    expected: int
    distinct: bool = False


@dataclass(frozen=True)
class Batch:
    """Container `container` evaluates one batch of unit `unit`, then commits it."""

    container: int
    unit: str
    adds: tuple[Add, ...]


LONG_KEY = "login-failures|prod|" + "u" * 3000
STATE_SCENARIOS: dict[str, list[Batch]] = {
    "a window spans batches and containers": [
        Batch(1, "p1", (Add("k", "e1", 0, 1), Add("k", "e2", 30, 2))),
        Batch(2, "p2", (Add("k", "e3", 60, 3),)),
        # windows start on a bucket boundary: at 301 s the bucket of 0 s is still inside
        Batch(1, "p3", (Add("k", "e4", 301, 4), Add("k", "e5", 360, 3))),
    ],
    "a re-delivered unit adds nothing and counts as the first time": [
        Batch(1, "p1", (Add("k", "e1", 0, 1), Add("k", "e2", 1, 2))),
        Batch(2, "p1", (Add("k", "e1", 0, 1), Add("k", "e2", 1, 2))),
        Batch(1, "p2", (Add("k", "e3", 2, 3),)),
    ],
    "out-of-order batches count by event time": [
        Batch(1, "p1", (Add("k", "late", 240, 1),)),
        Batch(2, "p2", (Add("k", "early", 0, 1), Add("k", "mid", 239, 2), Add("k", "after", 245, 4))),
    ],
    "distinct members count once per window, across batches": [
        Batch(1, "p1", (Add("spray", "alice", 0, 1, True), Add("spray", "bob", 1, 2, True))),
        Batch(2, "p2", (Add("spray", "alice", 2, 2, True), Add("spray", "carol", 3, 3, True))),
        Batch(1, "p3", (Add("spray", "dave", 400, 1, True),)),
    ],
    "keys do not share counts": [
        Batch(1, "p1", (Add("k1", "m", 0, 1),)),
        Batch(2, "p2", (Add("k2", "m", 0, 1),)),
    ],
    "an empty member and an oversized key still work": [
        Batch(1, "p1", (Add(LONG_KEY, "", 0, 1, True),)),
        Batch(2, "p2", (Add(LONG_KEY, "", 0, 1, True), Add(LONG_KEY, "bob", 1, 2, True))),
    ],
}


def run_batch(backend: Backend, batch: Batch) -> list[int]:
    """Evaluate one batch on its container's store and commit it; the counts it saw."""
    view = StateView(
        backend.container("state", batch.container), horizon=WINDOW, units=frozenset({batch.unit})
    )
    seen = []
    for add in batch.adds:
        count = view.add_distinct if add.distinct else view.add
        seen.append(count(add.key, add.occurrence, at(add.seconds), WINDOW))
    view.commit()
    return seen


@pytest.mark.parametrize("batches", STATE_SCENARIOS.values(), ids=STATE_SCENARIOS.keys())
def test_rule_windows_behave_alike(backend: Backend, batches: list[Batch]) -> None:
    # GIVEN containers over one store
    for batch in batches:
        # WHEN each batch is evaluated and committed
        seen = run_batch(backend, batch)
        # THEN it saw exactly the expected counts
        assert (batch, seen) == (batch, [add.expected for add in batch.adds])


def test_concurrent_batches_on_one_key_lose_no_count(backend: Backend) -> None:
    # GIVEN two containers that both read a key before either writes it
    views = [
        StateView(backend.container("state", n), horizon=WINDOW, units=frozenset({f"p{n}"})) for n in (1, 2)
    ]
    for n, view in enumerate(views):
        for i in range(3):
            view.add("k", f"c{n}-e{i}", at(i), WINDOW)
    # WHEN both commit
    for view in views:
        view.commit()
    # THEN a third container counts all six
    reader = StateView(backend.container("state", 3), horizon=WINDOW, units=frozenset({"p3"}))
    assert reader.count("k", at(3), WINDOW) == 6


def test_reading_a_window_reads_every_page(state_table: str) -> None:
    # GIVEN 7 buckets in the window and a store that reads 2 items per page
    client = new_client()
    pages: list[str] = []
    client.meta.events.register("before-call.dynamodb.Query", lambda **_: pages.append("page"))
    store = DynamoDbStateStore(state_table, client, clock=fixed_clock(), page_size=2)
    writer = StateView(store, horizon=WINDOW, units=frozenset({"p1"}))
    for i in range(7):
        writer.add("k", f"e{i}", at(i * 10), WINDOW)
    writer.commit()
    pages.clear()
    # WHEN another batch counts
    seen = StateView(store, horizon=WINDOW, units=frozenset({"p2"})).count("k", at(70), WINDOW)
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
    ("now", "expected_expiry", "bucket_expiry"),
    [
        pytest.param(
            at(5),
            at(0) + WINDOW + timedelta(days=1),
            at(0) + timedelta(seconds=10) + WINDOW + timedelta(days=1),
            id="live: event time + window + 1 day",
        ),
        pytest.param(
            at(0) + timedelta(days=30),
            at(0) + timedelta(days=30) + WINDOW,
            at(0) + timedelta(days=30) + WINDOW,
            id="replay: now + window",
        ),
    ],
)
def test_expiry_follows_event_time_with_a_floor(
    state_table: str, now: datetime, expected_expiry: datetime, bucket_expiry: datetime
) -> None:
    # GIVEN stores whose clock says `now`
    client = new_client()
    writer = StateView(
        DynamoDbStateStore(state_table, client, clock=fixed_clock(now)),
        horizon=WINDOW,
        units=frozenset({"p1"}),
    )
    writer.add("k", "e1", at(0), WINDOW)
    writer.commit()
    DynamoDbSuppressionStore(state_table, client, clock=fixed_clock(now)).admit(
        "g", "a0", at(0), WINDOW, 1, "a0"
    )
    DynamoDbDeliveryLedger(state_table, client, clock=fixed_clock(now)).mark_delivered("a0", "email", at(0))
    # WHEN reading the items back
    window_item = item({"pk": {"S": "win#k"}, "sk": {"S": bucket_sort_key(at(0))}})
    suppression_item = item({"pk": {"S": "sup#g"}, "sk": {"S": "window"}})
    delivery_item = item({"pk": {"S": "dlv#a0"}, "sk": {"S": "email"}})
    # THEN event-based expiry applies unless it is already past, and deliveries live 7 days
    assert window_item == {
        "pk": {"S": "win#k"},
        "sk": {"S": bucket_sort_key(at(0))},
        unit_attribute("p1"): {"M": {"n": {"N": "1"}, "f": {"N": str(to_micros(at(0)))}}},
        "expires_at": {"N": str(epoch_seconds(bucket_expiry))},
    }
    assert suppression_item["expires_at"] == {"N": str(epoch_seconds(expected_expiry))}
    assert delivery_item["expires_at"] == {"N": str(epoch_seconds(max(at(0), now) + timedelta(days=7)))}
    assert delivery_item["delivered_at"] == {"N": str(to_micros(at(0)))}
