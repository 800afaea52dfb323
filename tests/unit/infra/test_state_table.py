"""The state table's schema: one definition, valid for DynamoDB, matching what the adapters read and write."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore.validate import validate_parameters

from infra.state_table import (
    BILLING_MODE,
    DUE_ATTRIBUTE,
    DUE_INDEX,
    DUE_PARTITION,
    PARTITION_KEY,
    SORT_KEY,
    TTL_ATTRIBUTE,
    create_table_kwargs,
    describe_schema,
    time_to_live_kwargs,
)
from stores import dynamodb_common


def test_create_table_kwargs_spell_out_the_whole_table() -> None:
    # GIVEN a table name
    # WHEN building the CreateTable arguments
    kwargs = create_table_kwargs("audit-alerts-state")
    # THEN keys, the sparse digest index and on-demand billing are exactly these
    assert kwargs == {
        "TableName": "audit-alerts-state",
        "AttributeDefinitions": [
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
            {"AttributeName": "due_shard", "AttributeType": "S"},
            {"AttributeName": "due_at", "AttributeType": "N"},
        ],
        "KeySchema": [
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        "GlobalSecondaryIndexes": [
            {
                "IndexName": "by_due",
                "KeySchema": [
                    {"AttributeName": "due_shard", "KeyType": "HASH"},
                    {"AttributeName": "due_at", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["group_key"]},
            }
        ],
        "BillingMode": "PAY_PER_REQUEST",
    }


def test_time_to_live_kwargs_enable_expiry_on_expires_at() -> None:
    # GIVEN a table name
    # WHEN building the UpdateTimeToLive arguments
    # THEN TTL is enabled on expires_at
    assert time_to_live_kwargs("audit-alerts-state") == {
        "TableName": "audit-alerts-state",
        "TimeToLiveSpecification": {"Enabled": True, "AttributeName": "expires_at"},
    }


def test_each_call_returns_fresh_lists() -> None:
    # GIVEN arguments built once and then changed by a caller
    first = create_table_kwargs("a")
    first["AttributeDefinitions"].append({"AttributeName": "x", "AttributeType": "S"})  # type: ignore[attr-defined]
    # WHEN building them again
    # THEN the change did not leak into the definition
    assert len(create_table_kwargs("a")["AttributeDefinitions"]) == 4


@pytest.mark.parametrize(
    ("operation", "kwargs"),
    [
        pytest.param("CreateTable", create_table_kwargs("audit-alerts-state"), id="CreateTable"),
        pytest.param("UpdateTimeToLive", time_to_live_kwargs("audit-alerts-state"), id="UpdateTimeToLive"),
    ],
)
def test_the_arguments_are_valid_for_the_dynamodb_api(operation: str, kwargs: dict[str, Any]) -> None:
    # GIVEN botocore's own model of the DynamoDB API (offline)
    model = botocore.session.get_session().get_service_model("dynamodb").operation_model(operation)
    # WHEN validating the arguments against it
    # THEN nothing is missing, misspelt or mistyped (validate_parameters raises otherwise)
    assert validate_parameters(kwargs, model.input_shape) is None


def test_the_schema_and_the_adapters_share_one_set_of_names() -> None:
    # GIVEN the names the DynamoDB adapters read and write
    # WHEN comparing them with the schema's
    # THEN they are the very same definitions
    assert (PARTITION_KEY, SORT_KEY, DUE_PARTITION, DUE_ATTRIBUTE, DUE_INDEX, TTL_ATTRIBUTE) == (
        dynamodb_common.PARTITION_KEY,
        dynamodb_common.SORT_KEY,
        dynamodb_common.DUE_PARTITION,
        dynamodb_common.DUE_ATTRIBUTE,
        dynamodb_common.DUE_INDEX,
        dynamodb_common.TTL_ATTRIBUTE,
    )
    assert BILLING_MODE == "PAY_PER_REQUEST"


@pytest.mark.parametrize(
    "fragment",
    [
        "billing `PAY_PER_REQUEST`",
        "TTL on `expires_at` (epoch seconds)",
        "`pk` (S, partition), `sk` (S, sort)",
        "`by_due`: `due_shard` (S, always `due`) + `due_at` (N, epoch µs)",
        "`pk` = `win#<state key>`,\n  `sk` = `b#<bucket start, epoch seconds, 12 digits>`",
        "(10-second\n  buckets)",
        "`pk` = `sup#<group key>`,\n  `sk` = `window`",
        "`fold_ids` (the last\n  100, a list)",
        "`pk` = `dlv#<alert id>`, `sk` = `<channel>`",
        "buckets expire the longest window + 24 h after the bucket",
        "delivery records 7 days after delivery",
    ],
)
def test_the_described_schema_names_every_item_kind(fragment: str) -> None:
    # GIVEN the schema description used by the docs
    # WHEN reading it
    # THEN it states each fact
    assert fragment in describe_schema()


def test_the_readme_shows_the_schema_as_the_code_describes_it() -> None:
    # GIVEN the README WHEN reading its state-table section THEN it holds describe_schema() verbatim
    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text(encoding="utf-8")
    assert describe_schema() in readme
