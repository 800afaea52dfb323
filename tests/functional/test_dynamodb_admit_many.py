"""Admitting many object windows at once on DynamoDB (moto): batched reads, same decisions, races."""

from __future__ import annotations

from typing import Any

from detections.suppression import AdmitRequest, InMemorySuppressionStore
from stores.dynamodb_suppression import DynamoDbSuppressionStore
from tests.functional.dynamodb_backends import (  # noqa: F401 - fixtures are used by name
    TABLE,
    WINDOW,
    at,
    fake_credentials_fixture,
    fixed_clock,
    new_client,
    state_table_fixture,
)


def requests_for(names: range, seconds: float, alert: str) -> list[AdmitRequest]:
    """One request per object window, all from alert `alert` at T0 + seconds."""
    return [
        AdmitRequest(
            f"drop-table|prod|ops|h|object|t{n}", f"{alert}-{n}", at(seconds), WINDOW, 1, f"{alert}-{n}"
        )
        for n in names
    ]


def count_calls(client: Any) -> dict[str, int]:
    """A live tally of the client's DynamoDB operations by name."""
    calls: dict[str, int] = {}

    def note(model: Any, **_: Any) -> None:
        """Count one call."""
        calls[model.name] = calls.get(model.name, 0) + 1

    client.meta.events.register("before-call.dynamodb", note)
    return calls


def test_many_windows_are_read_together_and_decided_like_one_by_one(state_table: str) -> None:
    # GIVEN 250 object windows, 100 of them already opened by an earlier alert
    client = new_client()
    store = DynamoDbSuppressionStore(TABLE, client, clock=fixed_clock())
    twin = InMemorySuppressionStore()
    earlier = requests_for(range(100), 0, "a1")
    store.admit_many(earlier)
    twin.admit_many(earlier)
    calls = count_calls(client)

    # WHEN a later alert admits all 250 in one call
    later = requests_for(range(250), 60, "a2")
    admissions = store.admit_many(later)

    # THEN the decisions are those of the in-memory store (100 fold, 150 send) ...
    assert admissions == twin.admit_many(later)
    assert sum(a.send for a in admissions) == 150
    # ... read with 3 BatchGetItem calls and written once per changed window, never read one by one
    assert calls == {"BatchGetItem": 3, "PutItem": 250}


def test_a_window_another_container_wrote_meanwhile_is_decided_again(state_table: str) -> None:
    # GIVEN a container whose batch read is followed by another container opening one of the windows
    client = new_client()
    store = DynamoDbSuppressionStore(TABLE, client, clock=fixed_clock())
    rival = DynamoDbSuppressionStore(TABLE, new_client(), clock=fixed_clock())
    raced = requests_for(range(1), 0, "rival")

    def rival_writes_first(**_: Any) -> None:
        """Open window t0 for the rival right after our batch read."""
        client.meta.events.unregister("after-call.dynamodb.BatchGetItem", rival_writes_first)
        rival.admit_many(raced)

    client.meta.events.register("after-call.dynamodb.BatchGetItem", rival_writes_first)

    # WHEN our alert admits t0 and t1 in one call
    admissions = store.admit_many(requests_for(range(2), 5, "ours"))

    # THEN t0 folds into the rival's window (decided again on its write) and t1 is ours to send
    assert [a.send for a in admissions] == [False, True]


def test_unprocessed_keys_are_read_again(state_table: str) -> None:
    # GIVEN DynamoDB leaving half of the keys of the first batch read unprocessed
    client = new_client()
    store = DynamoDbSuppressionStore(TABLE, client, clock=fixed_clock())
    store.admit_many(requests_for(range(4), 0, "a1"))
    replies: list[int] = []

    def drop_half(parsed: dict[str, Any], **_: Any) -> None:
        """Move half of the first reply's items to UnprocessedKeys, as a throttled table does."""
        if replies:
            return
        items = parsed["Responses"][TABLE]
        kept, left = items[:2], items[2:]
        parsed["Responses"][TABLE] = kept
        parsed["UnprocessedKeys"] = {TABLE: {"Keys": [{"pk": i["pk"], "sk": i["sk"]} for i in left]}}
        replies.append(len(left))

    client.meta.events.register("after-call.dynamodb.BatchGetItem", drop_half)

    # WHEN a later alert in the same window admits the four
    admissions = store.admit_many(requests_for(range(4), 30, "a2"))

    # THEN all four windows were read (after a retry of the unprocessed half) and fold
    assert replies == [2]
    assert [a.send for a in admissions] == [False] * 4
