"""A moto KMS key for the activity stream, fake credentials, and the key-material check for decrypt tests."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tests import das_fixtures as das
from tests.functional.fake_aws import use_fake_aws_credentials

REGION = das.REGION
PG = das.POSTGRES_CLUSTER_ID


@pytest.fixture(name="fake_aws_credentials", autouse=True)
def fake_aws_credentials_fixture(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials and region, so no test can reach or sign for a real account."""
    use_fake_aws_credentials(monkeypatch, REGION)


@pytest.fixture(name="kms")
def kms_fixture() -> Iterator[Any]:
    """A moto KMS client (the mock is active for the whole test)."""
    with mock_aws():
        yield boto3.client("kms", region_name=REGION)


@pytest.fixture(name="key_id")
def key_id_fixture(kms: Any) -> str:
    """The activity stream's customer-managed KMS key."""
    return das.create_das_kms_key(kms)


def assert_no_key_material(key: bytes, *texts: str) -> None:
    """No text holds the key as repr, hex (either case) or base64."""
    forms = [repr(key), key.hex(), key.hex().upper(), base64.b64encode(key).decode("ascii"), str(key)]
    for text in texts:
        for form in forms:
            assert form not in text
