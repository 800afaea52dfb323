"""DynamoDB state adapters under moto, held to the same scenarios as the in-memory stores."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.stub import Stubber
from hypothesis import given, settings
from hypothesis import strategies as st
from moto import mock_aws

from detections.dynamodb_state import (
    DynamoDbDeliveryLedger,
    DynamoDbStateStore,
    DynamoDbSuppressionStore,
    to_micros,
)
from detections.state import InMemoryStateStore, StateStore, StateStoreError
from detections.suppression import (
    FOLDED,
    Admission,
    DeliveryLedger,
    InMemoryDeliveryLedger,
    InMemorySuppressionStore,
    SuppressionStore,
)
from infra.state_table import create_table_kwargs, time_to_live_kwargs
from tests.factories import T0

TABLE = "audit-alerts-state"
REGION = "eu-west-1"
WINDOW = timedelta(minutes=5)


def at(seconds: float) -> datetime:
    """T0 + seconds."""
    return T0 + timedelta(seconds=seconds)


def fixed_clock(now: datetime = T0) -> Callable[[], datetime]:
    """A clock that always says `now` (tests never read the real time)."""
    return lambda: now


def send(folded_before: int = 0, since_seconds: float | None = None) -> Admission:
    """The admission of an alert that goes out, reporting what was folded before it."""
    since = None if since_seconds is None else at(since_seconds)
    return Admission(send=True, folded_before=folded_before, folded_since=since)


def new_client() -> Any:
    """A fresh DynamoDB client, as a new Lambda container would build."""
    return boto3.client("dynamodb", region_name=REGION)


@contextmanager
def fake_aws_environment() -> Iterator[None]:
    """Credentials and region that can never reach a real account."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": REGION,
        }.items():
            patch.setenv(name, value)
        patch.delenv("AWS_PROFILE", raising=False)
        yield


@pytest.fixture
def fake_credentials() -> Iterator[None]:
    """Fake credentials for one test."""
    with fake_aws_environment():
        yield


@pytest.fixture
def state_table(fake_credentials: None) -> Iterator[str]:
    """The state table, created from the schema in infra/, inside moto."""
    with mock_aws():
        create_state_table()
        yield TABLE


def create_state_table() -> None:
    """Create the state table and turn on its TTL, exactly as the schema says."""
    client = new_client()
    client.create_table(**create_table_kwargs(TABLE))
    client.update_time_to_live(**time_to_live_kwargs(TABLE))


@dataclass
class Backend:
    """Builds "containers" (store instances) that share one backing store."""

    name: str
    state: Callable[[], StateStore]
    suppression: Callable[[], SuppressionStore]
    ledger: Callable[[], DeliveryLedger]
    _built: dict[tuple[str, int], Any] = field(default_factory=dict)

    def container(self, kind: str, number: int) -> Any:
        """Store `kind` of container `number`, built once."""
        if (kind, number) not in self._built:
            self._built[kind, number] = getattr(self, kind)()
        return self._built[kind, number]


def in_memory_backend() -> Backend:
    """Containers over shared in-memory dictionaries."""
    windows: dict[str, dict[str, datetime]] = {}
    suppression: dict[str, Any] = {}
    deliveries: dict[str, dict[str, datetime]] = {}
    return Backend(
        "in-memory",
        lambda: InMemoryStateStore(_windows=windows),
        lambda: InMemorySuppressionStore(suppression),
        lambda: InMemoryDeliveryLedger(deliveries),
    )


def dynamodb_backend() -> Backend:
    """Containers with their own clients on one table (call inside mock_aws)."""
    return Backend(
        "dynamodb",
        lambda: DynamoDbStateStore(TABLE, new_client(), clock=fixed_clock()),
        lambda: DynamoDbSuppressionStore(TABLE, new_client(), clock=fixed_clock()),
        lambda: DynamoDbDeliveryLedger(TABLE, new_client(), clock=fixed_clock()),
    )


@pytest.fixture(params=["in-memory", "dynamodb"])
def backend(request: pytest.FixtureRequest) -> Backend:
    """Each scenario runs against the in-memory stores and against DynamoDB under moto."""
    if request.param == "in-memory":
        return in_memory_backend()
    request.getfixturevalue("state_table")
    return dynamodb_backend()


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


# --- errors -------------------------------------------------------------------------------------

STORE_CALLS: dict[str, Callable[[Any], object]] = {
    "record": lambda client: DynamoDbStateStore("missing-table", client).record(
        "secret-key", "secret-member", T0, WINDOW
    ),
    "count": lambda client: DynamoDbStateStore("missing-table", client).count("secret-key", T0, WINDOW),
    "admit": lambda client: DynamoDbSuppressionStore("missing-table", client).admit(
        "secret-key", "secret-alert", T0, WINDOW, 1, "secret-fold"
    ),
    "delivered_channels": lambda client: DynamoDbDeliveryLedger("missing-table", client).delivered_channels(
        "secret-alert"
    ),
    "mark_delivered": lambda client: DynamoDbDeliveryLedger("missing-table", client).mark_delivered(
        "secret-alert", "email", T0
    ),
}
OPERATIONS = {
    "record": "UpdateItem",
    "count": "Query",
    "admit": "GetItem",
    "delivered_channels": "Query",
    "mark_delivered": "PutItem",
}


@pytest.mark.parametrize("call", STORE_CALLS, ids=STORE_CALLS.keys())
def test_a_missing_table_is_not_retryable_and_names_table_and_operation(state_table: str, call: str) -> None:
    # GIVEN a real client and a table that does not exist
    # WHEN a store uses it
    with pytest.raises(StateStoreError) as raised:
        STORE_CALLS[call](new_client())
    # THEN the error is final, names table and operation, and carries no item contents
    message = str(raised.value)
    assert raised.value.retryable is False
    operation = OPERATIONS[call]
    assert (
        message
        == f"DynamoDB {operation} on table 'missing-table' failed: ResourceNotFoundException (HTTP 400)"
    )
    assert "secret" not in message


@pytest.mark.parametrize(
    ("code", "status", "retryable"),
    [
        ("ProvisionedThroughputExceededException", 400, True),
        ("ThrottlingException", 400, True),
        ("RequestLimitExceeded", 400, True),
        ("TransactionConflictException", 400, True),
        ("InternalServerError", 500, True),
        ("ServiceUnavailable", 503, True),
        ("SomethingNew", 502, True),
        ("AccessDeniedException", 400, False),
        ("ValidationException", 400, False),
        ("ResourceNotFoundException", 400, False),
    ],
)
def test_service_errors_map_to_retryable_or_not(
    fake_credentials: None, code: str, status: int, retryable: bool
) -> None:
    # GIVEN a real client whose next UpdateItem answers with `code`
    client = new_client()
    stubber = Stubber(client)
    stubber.add_client_error("update_item", service_error_code=code, http_status_code=status)
    # WHEN a store records through it
    with stubber, pytest.raises(StateStoreError) as raised:
        DynamoDbStateStore(TABLE, client).record("secret-key", "secret-member", T0, WINDOW)
    # THEN the error's retryability follows the code and status, and names the table and operation
    assert (raised.value.retryable, str(raised.value)) == (
        retryable,
        f"DynamoDB UpdateItem on table '{TABLE}' failed: {code} (HTTP {status})",
    )


def test_a_failed_condition_is_control_flow_not_an_error(fake_credentials: None) -> None:
    # GIVEN a real client whose UpdateItem finds the occurrence already recorded earlier
    client = new_client()
    stubber = Stubber(client)
    stubber.add_client_error("update_item", service_error_code="ConditionalCheckFailedException")
    stubber.add_response("query", {"Count": 4, "ScannedCount": 4, "Items": []})
    # WHEN recording it again
    with stubber:
        seen = DynamoDbStateStore(TABLE, client).record("k", "e1", T0, WINDOW)
    # THEN the count is returned as usual
    assert seen == 4


def closed_port() -> int:
    """A local TCP port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_an_unreachable_endpoint_is_retryable(fake_credentials: None) -> None:
    # GIVEN a real client pointed at a local port nothing listens on, without SDK retries
    client = boto3.client(
        "dynamodb",
        region_name=REGION,
        endpoint_url=f"http://127.0.0.1:{closed_port()}",
        config=Config(retries={"max_attempts": 0, "mode": "standard"}, connect_timeout=1, read_timeout=1),
    )
    # WHEN a store counts through it
    with pytest.raises(StateStoreError) as raised:
        DynamoDbStateStore(TABLE, client).count("k", T0, WINDOW)
    # THEN the error is retryable and names the table and operation
    assert (raised.value.retryable, str(raised.value)) == (
        True,
        f"DynamoDB Query on table '{TABLE}' failed: EndpointConnectionError",
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
