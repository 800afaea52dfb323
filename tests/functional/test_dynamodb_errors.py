"""DynamoDB state adapters under moto and stubs: which failures are retryable, and what errors say."""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.stub import Stubber

from detections.state import StateStoreError, Tally
from stores.dynamodb_state import DynamoDbStateStore
from stores.dynamodb_suppression import DynamoDbDeliveryLedger, DynamoDbSuppressionStore
from tests.factories import T0
from tests.functional.dynamodb_backends import (  # noqa: F401 - fixtures are used by name
    REGION,
    TABLE,
    WINDOW,
    fake_credentials_fixture,
    new_client,
    state_table_fixture,
)

STORE_CALLS: dict[str, Callable[[Any], object]] = {
    "save": lambda client: DynamoDbStateStore("missing-table", client).save(
        "secret-key", {(T0, "secret-unit"): Tally(members=frozenset({"secret-member"}))}, WINDOW
    ),
    "load": lambda client: DynamoDbStateStore("missing-table", client).load(
        "secret-key", T0, frozenset({"secret-unit"})
    ),
    "due_digests": lambda client: DynamoDbSuppressionStore("missing-table", client).due_digests(T0),
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
    "save": "UpdateItem",
    "load": "Query",
    "due_digests": "Query",
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
    # WHEN a store saves through it
    with stubber, pytest.raises(StateStoreError) as raised:
        DynamoDbStateStore(TABLE, client).save("secret-key", {(T0, "unit"): Tally(count=1)}, WINDOW)
    # THEN the error's retryability follows the code and status, and names the table and operation
    assert (raised.value.retryable, str(raised.value)) == (
        retryable,
        f"DynamoDB UpdateItem on table '{TABLE}' failed: {code} (HTTP {status})",
    )


def test_a_failed_condition_is_control_flow_not_an_error(fake_credentials: None) -> None:
    # GIVEN a real client whose UpdateItem finds the unit already stored (twice: together, then alone)
    client = new_client()
    stubber = Stubber(client)
    stubber.add_client_error("update_item", service_error_code="ConditionalCheckFailedException")
    stubber.add_client_error("update_item", service_error_code="ConditionalCheckFailedException")
    # WHEN saving it again
    with stubber:
        DynamoDbStateStore(TABLE, client).save("k", {(T0, "unit"): Tally(count=1)}, WINDOW)
    # THEN nothing is raised and both calls were made
    stubber.assert_no_pending_responses()


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
    # WHEN a store reads through it
    with pytest.raises(StateStoreError) as raised:
        DynamoDbStateStore(TABLE, client).load("k", T0, frozenset())
    # THEN the error is retryable and names the table and operation
    assert (raised.value.retryable, str(raised.value)) == (
        True,
        f"DynamoDB Query on table '{TABLE}' failed: EndpointConnectionError",
    )
