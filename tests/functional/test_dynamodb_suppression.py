"""DynamoDB suppression windows under moto: in-memory scenarios, container races, equivalence."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from moto import mock_aws

from detections.state import StateStoreError
from detections.suppression import FOLDED, Admission, InMemorySuppressionStore
from stores.dynamodb_suppression import DynamoDbSuppressionStore
from tests.functional.dynamodb_backends import (  # noqa: F401 - fixtures are used by name
    TABLE,
    WINDOW,
    Backend,
    at,
    backend_fixture,
    create_state_table,
    fake_aws_environment,
    fake_credentials_fixture,
    fixed_clock,
    new_client,
    state_table_fixture,
)


def send(folded_before: int = 0, since_seconds: float | None = None) -> Admission:
    """The admission of an alert that goes out, reporting what was folded before it."""
    since = None if since_seconds is None else at(since_seconds)
    return Admission(send=True, folded_before=folded_before, folded_since=since)


# --- suppression windows ------------------------------------------------------------------------


@dataclass(frozen=True)
class Admit:
    """Container `container` admits `alert_id` at T0 + seconds and must get `expected`."""

    container: int
    alert_id: str
    seconds: float
    expected: Admission
    matches: int = 1
    fold_id: str = ""  # defaults to the alert id


BURST = [Admit(1 + i % 2, f"a{i}", i * 10, FOLDED) for i in range(1, 25)]
ADMIT_SCENARIOS: dict[str, list[Admit]] = {
    "first sends, 24 fold, the next window reports them": [
        Admit(1, "a0", 0, send()),
        *BURST,
        Admit(2, "b0", 300, send(24, 10)),
    ],
    "a retry of the owner sends again with the same report": [
        Admit(1, "a0", 0, send()),
        Admit(2, "a1", 60, FOLDED),
        Admit(2, "a0", 0, send()),
        Admit(1, "b0", 400, send(1, 60)),
        Admit(1, "b1", 410, FOLDED),
        Admit(2, "b0", 400, send(1, 60)),
    ],
    "a repeated fold id counts once": [
        Admit(1, "a0", 0, send()),
        Admit(1, "a1", 60, FOLDED, matches=3, fold_id="batch-7"),
        Admit(2, "a1", 60, FOLDED, matches=3, fold_id="batch-7"),
        Admit(2, "b0", 300, send(3, 60)),
    ],
    "folded_since is the earliest folded time, even out of order": [
        Admit(1, "a0", 100, send()),
        Admit(1, "a1", 80, FOLDED),
        Admit(2, "a2", 50, FOLDED),
        Admit(2, "a3", 90, FOLDED),
        Admit(1, "b0", 400, send(3, 50)),
    ],
    "retries arriving after a newer window opened do not fold again": [
        Admit(1, "a0", 0, send()),
        Admit(1, "a1", 60, FOLDED),
        Admit(2, "b0", 300, send(1, 60)),
        Admit(2, "a1", 60, FOLDED),
        Admit(1, "a0", 0, FOLDED),
        Admit(1, "c0", 600, send()),
    ],
    "group keys are independent": [
        Admit(1, "a0", 0, send()),
        Admit(2, "a0", 0, send()),
    ],
}


@pytest.mark.parametrize("steps", ADMIT_SCENARIOS.values(), ids=ADMIT_SCENARIOS.keys())
def test_suppression_behaves_alike(backend: Backend, steps: list[Admit]) -> None:
    # GIVEN containers over one store; the last scenario uses a key per container
    independent = steps is ADMIT_SCENARIOS["group keys are independent"]
    for step in steps:
        store = backend.container("suppression", step.container)
        group_key = f"brute-force|prod|app|{step.container}" if independent else "brute-force|prod|app"
        # WHEN each step admits an alert
        admission = store.admit(
            group_key, step.alert_id, at(step.seconds), WINDOW, step.matches, step.fold_id or step.alert_id
        )
        # THEN it is sent or folded exactly as expected
        assert (step, admission) == (step, step.expected)


def test_digests_behave_alike(backend: Backend) -> None:
    # GIVEN a window opened by container 1, with 3 + 2 matches folded by containers 2 and 1
    first, second = backend.container("suppression", 1), backend.container("suppression", 2)
    first.admit("failed-login|prod|bob", "a0", at(0), WINDOW, 20, "a0", about='{"rule": "failed-login"}')
    second.admit("failed-login|prod|bob", "a1", at(20), WINDOW, 3, "a1", last=at(25))
    first.admit("failed-login|prod|bob", "a2", at(31), WINDOW, 2, "a2")
    # WHEN the digest asks before the window closed, after it, again, and after finishing
    early = first.due_digests(at(299))
    (digest,) = second.due_digests(at(300))
    again = first.due_digests(at(301))
    second.finish_digest(digest)
    done = first.due_digests(at(302))
    # THEN one digest of the 5 folds (20-31 s, with the opener's description) is handed out until finished
    assert early == []
    assert (digest.count, digest.since, digest.until, digest.about) == (
        5,
        at(20),
        at(31),
        '{"rule": "failed-login"}',
    )
    assert again == [digest]
    assert done == []
    # AND the next alert reports no earlier folds (the digest took them)
    assert first.admit("failed-login|prod|bob", "b0", at(400), WINDOW, 1, "b0") == Admission(True, 0, None)


def interleave_after_first_read(client: Any, action: Callable[[], object]) -> list[object]:
    """Run `action` (another container's work) right after `client`'s next GetItem returns."""
    outcomes: list[object] = []

    def after_get_item(**_: object) -> None:
        """Let the other container act between this container's read and its write, once."""
        if not outcomes:
            outcomes.append(action())

    client.meta.events.register("after-call.dynamodb.GetItem", after_get_item)
    return outcomes


def test_two_containers_racing_to_open_send_exactly_once(state_table: str) -> None:
    # GIVEN container A whose read of the empty window is followed by container B opening it
    client_a = new_client()
    container_a = DynamoDbSuppressionStore(state_table, client_a, clock=fixed_clock())
    container_b = DynamoDbSuppressionStore(state_table, new_client(), clock=fixed_clock())
    b_outcomes = interleave_after_first_read(
        client_a, lambda: container_b.admit("k", "alert-b", at(1), WINDOW, 1, "alert-b")
    )
    # WHEN A tries to open the window with its own alert
    a_outcome = container_a.admit("k", "alert-a", at(0), WINDOW, 2, "alert-a")
    # THEN B opened it and sends; A's conditional write lost, so A folded its 2 matches
    assert (b_outcomes, a_outcome) == ([send()], FOLDED)
    assert container_b.admit("k", "next", at(301), WINDOW, 1, "next") == send(2, 0)


def test_concurrent_folds_are_both_counted(state_table: str) -> None:
    # GIVEN an open window, and container A whose read is followed by container B folding
    opener = DynamoDbSuppressionStore(state_table, new_client(), clock=fixed_clock())
    opener.admit("k", "alert-0", at(0), WINDOW, 1, "alert-0")
    client_a = new_client()
    container_a = DynamoDbSuppressionStore(state_table, client_a, clock=fixed_clock())
    container_b = DynamoDbSuppressionStore(state_table, new_client(), clock=fixed_clock())
    interleave_after_first_read(client_a, lambda: container_b.admit("k", "alert-b", at(20), WINDOW, 3, "b"))
    # WHEN A folds its own matches
    container_a.admit("k", "alert-a", at(10), WINDOW, 2, "a")
    # THEN neither fold was lost
    assert opener.admit("k", "alert-1", at(300), WINDOW, 1, "alert-1") == send(5, 10)


def test_a_window_that_never_settles_gives_up_retryably(state_table: str) -> None:
    # GIVEN a container whose every read is followed by another container folding into the window
    opener = DynamoDbSuppressionStore(state_table, new_client(), clock=fixed_clock())
    opener.admit("k", "alert-0", at(0), WINDOW, 1, "alert-0")
    client_a = new_client()
    container_a = DynamoDbSuppressionStore(state_table, client_a, clock=fixed_clock(), max_attempts=3)
    folds = iter(range(100))
    client_a.meta.events.register(
        "after-call.dynamodb.GetItem",
        lambda **_: opener.admit("k", "other", at(1), WINDOW, 1, f"fold-{next(folds)}"),
    )
    # WHEN it admits
    with pytest.raises(StateStoreError) as raised:
        container_a.admit("k", "alert-a", at(10), WINDOW, 1, "a")
    # THEN it says so, retryably, naming the table
    assert (raised.value.retryable, TABLE in str(raised.value)) == (True, True)


def test_a_malformed_suppression_item_is_a_final_error(state_table: str) -> None:
    # GIVEN a suppression item someone else wrote without the expected attributes
    client = new_client()
    client.put_item(
        TableName=state_table, Item={"pk": {"S": "sup#k"}, "sk": {"S": "window"}, "version": {"N": "1"}}
    )
    # WHEN admitting an alert of that key
    with pytest.raises(StateStoreError) as raised:
        DynamoDbSuppressionStore(state_table, client, clock=fixed_clock()).admit(
            "k", "a0", at(0), WINDOW, 1, "a0"
        )
    # THEN retrying would not help, and the message names the table and operation
    assert (raised.value.retryable, str(raised.value)) == (
        False,
        f"DynamoDB GetItem on table '{TABLE}' returned a malformed suppression item",
    )


# --- equivalence --------------------------------------------------------------------------------

admissions = st.lists(
    st.tuples(
        st.sampled_from(["a", "b", "c", "d"]),  # alert id
        st.integers(min_value=0, max_value=900),  # seconds
        st.integers(min_value=1, max_value=3),  # matches
        st.sampled_from(["f1", "f2", "f3", "f4", "f5"]),  # fold id
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=20, deadline=None)
@given(steps=admissions)
def test_dynamodb_and_in_memory_admit_alike(steps: list[tuple[str, int, int, str]]) -> None:
    # GIVEN any sequence of admissions of one key
    with fake_aws_environment(), mock_aws():
        create_state_table()
        dynamodb = DynamoDbSuppressionStore(TABLE, new_client(), clock=fixed_clock())
        memory = InMemorySuppressionStore()
        # WHEN both stores admit them
        for alert_id, seconds, matches, fold_id in steps:
            expected = memory.admit("k", alert_id, at(seconds), WINDOW, matches, fold_id)
            actual = dynamodb.admit("k", alert_id, at(seconds), WINDOW, matches, fold_id)
            # THEN every decision is the same
            assert actual == expected
