"""Stores over DynamoDB (moto) and over memory as "containers" sharing a backing store, and fixtures."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws

from detections.state import InMemoryStateStore, StateStore, Tally
from detections.suppression import (
    DeliveryLedger,
    InMemoryDeliveryLedger,
    InMemorySuppressionStore,
    SuppressionWindows,
)
from infra.state_table import create_table_kwargs, time_to_live_kwargs
from stores.dynamodb_state import DynamoDbStateStore
from stores.dynamodb_suppression import DynamoDbDeliveryLedger, DynamoDbSuppressionStore
from tests.factories import T0
from tests.functional.fake_aws import use_fake_aws_credentials

TABLE = "audit-alerts-state"
REGION = "eu-west-1"
WINDOW = timedelta(minutes=5)


def at(seconds: float) -> datetime:
    """T0 + seconds."""
    return T0 + timedelta(seconds=seconds)


def fixed_clock(now: datetime = T0) -> Callable[[], datetime]:
    """A clock that always says `now` (tests never read the real time)."""
    return lambda: now


def new_client() -> Any:
    """A fresh DynamoDB client, as a new Lambda container would build."""
    return boto3.client("dynamodb", region_name=REGION)


@contextmanager
def fake_aws_environment() -> Iterator[None]:
    """Credentials and region that can never reach a real account."""
    with pytest.MonkeyPatch.context() as patch:
        use_fake_aws_credentials(patch, REGION)
        yield


@pytest.fixture(name="fake_credentials")
def fake_credentials_fixture() -> Iterator[None]:
    """Fake credentials for one test."""
    with fake_aws_environment():
        yield


@pytest.fixture(name="state_table")
def state_table_fixture(fake_credentials: None) -> Iterator[str]:
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
    suppression: Callable[[], SuppressionWindows]
    ledger: Callable[[], DeliveryLedger]
    _built: dict[tuple[str, int], Any] = field(default_factory=dict)

    def container(self, kind: str, number: int) -> Any:
        """Store `kind` of container `number`, built once."""
        if (kind, number) not in self._built:
            self._built[kind, number] = getattr(self, kind)()
        return self._built[kind, number]


def in_memory_backend() -> Backend:
    """Containers over shared in-memory dictionaries."""
    buckets: dict[str, dict[datetime, dict[str, Tally]]] = {}
    suppression: dict[str, Any] = {}
    deliveries: dict[str, dict[str, datetime]] = {}
    return Backend(
        "in-memory",
        lambda: InMemoryStateStore(buckets),
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


@pytest.fixture(name="backend", params=["in-memory", "dynamodb"])
def backend_fixture(request: pytest.FixtureRequest) -> Backend:
    """Each scenario runs against the in-memory stores and against DynamoDB under moto."""
    if request.param == "in-memory":
        return in_memory_backend()
    request.getfixturevalue("state_table")
    return dynamodb_backend()
