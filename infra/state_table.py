"""The state table's schema, defined once: keys, time index, TTL and billing (tests, SAM template, demo)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from detections.dynamodb_state import (
    DELIVERY_PREFIX,
    DELIVERY_RETENTION,
    EXPIRY_MARGIN,
    PARTITION_KEY,
    SORT_KEY,
    SUPPRESSION_PREFIX,
    SUPPRESSION_SORT_KEY,
    TIME_ATTRIBUTE,
    TIME_INDEX,
    TTL_ATTRIBUTE,
    WINDOW_PREFIX,
)
from detections.suppression import FOLD_IDS_KEPT

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import (
        AttributeDefinitionTypeDef,
        CreateTableInputTypeDef,
        KeySchemaElementTypeDef,
        LocalSecondaryIndexTypeDef,
        UpdateTimeToLiveInputTypeDef,
    )

__all__ = [
    "BILLING_MODE",
    "PARTITION_KEY",
    "SORT_KEY",
    "TIME_ATTRIBUTE",
    "TIME_INDEX",
    "TTL_ATTRIBUTE",
    "attribute_definitions",
    "create_table_kwargs",
    "describe_schema",
    "key_schema",
    "local_secondary_indexes",
    "time_to_live_kwargs",
]

BILLING_MODE: Final = "PAY_PER_REQUEST"


def attribute_definitions() -> list[AttributeDefinitionTypeDef]:
    """The typed attributes the table and its index are keyed on."""
    return [
        {"AttributeName": PARTITION_KEY, "AttributeType": "S"},
        {"AttributeName": SORT_KEY, "AttributeType": "S"},
        {"AttributeName": TIME_ATTRIBUTE, "AttributeType": "N"},
    ]


def key_schema() -> list[KeySchemaElementTypeDef]:
    """The table's primary key: `pk` (partition) and `sk` (sort), both strings."""
    return [
        {"AttributeName": PARTITION_KEY, "KeyType": "HASH"},
        {"AttributeName": SORT_KEY, "KeyType": "RANGE"},
    ]


def local_secondary_indexes() -> list[LocalSecondaryIndexTypeDef]:
    """The `by_time` index (pk, t): a rule window is counted by reading only the items inside it."""
    return [
        {
            "IndexName": TIME_INDEX,
            "KeySchema": [
                {"AttributeName": PARTITION_KEY, "KeyType": "HASH"},
                {"AttributeName": TIME_ATTRIBUTE, "KeyType": "RANGE"},
            ],
            "Projection": {"ProjectionType": "KEYS_ONLY"},
        }
    ]


def create_table_kwargs(table_name: str) -> CreateTableInputTypeDef:
    """Arguments of DynamoDB CreateTable for the state table (TTL is a separate call: time_to_live_kwargs)."""
    return {
        "TableName": table_name,
        "AttributeDefinitions": attribute_definitions(),
        "KeySchema": key_schema(),
        "LocalSecondaryIndexes": local_secondary_indexes(),
        "BillingMode": BILLING_MODE,
    }


def time_to_live_kwargs(table_name: str) -> UpdateTimeToLiveInputTypeDef:
    """Arguments of DynamoDB UpdateTimeToLive that turn on expiry by `expires_at`."""
    return {
        "TableName": table_name,
        "TimeToLiveSpecification": {"Enabled": True, "AttributeName": TTL_ATTRIBUTE},
    }


def describe_schema() -> str:
    """The table layout as Markdown, for the docs."""
    margin_hours = int(EXPIRY_MARGIN.total_seconds() // 3600)
    retention_days = DELIVERY_RETENTION.days
    return f"""\
State table: one DynamoDB table, billing `{BILLING_MODE}`, TTL on `{TTL_ATTRIBUTE}` (epoch seconds).

Keys: `{PARTITION_KEY}` (S, partition), `{SORT_KEY}` (S, sort). Local secondary index
`{TIME_INDEX}`: `{PARTITION_KEY}` + `{TIME_ATTRIBUTE}` (N), keys only, so counting a rule window
reads only the occurrences inside it, never the whole partition.

Items, one kind per key prefix:

- Rule-window occurrence: `{PARTITION_KEY}` = `{WINDOW_PREFIX}<state key>`, `{SORT_KEY}` = `<member>`;
  `{TIME_ATTRIBUTE}` (event time, epoch µs), `{TTL_ATTRIBUTE}`.
- Suppression window: `{PARTITION_KEY}` = `{SUPPRESSION_PREFIX}<group key>`,
  `{SORT_KEY}` = `{SUPPRESSION_SORT_KEY}`; `owner`, `opened_at`, `folded`, `folded_since`,
  `reported_folded`, `reported_since`, `fold_ids` (the last {FOLD_IDS_KEPT}, a list), `version`,
  `{TTL_ATTRIBUTE}`.
- Delivery record: `{PARTITION_KEY}` = `{DELIVERY_PREFIX}<alert id>`, `{SORT_KEY}` = `<channel>`;
  `channel`, `delivered_at`, `{TTL_ATTRIBUTE}`.

How they behave:

- Each occurrence is its own item, written with a condition that keeps its latest time, so
  re-delivered events count once, a member seen again (a user failing anew) counts from its latest
  failure, and concurrent containers never overwrite each other.
- A suppression window changes only through a write conditioned on its `version`; of two containers
  racing to open it one wins and the other folds its alert into it.
- Times are epoch microseconds (N). Key parts that are empty become `(empty)`; key parts longer than
  DynamoDB allows keep a readable prefix plus their SHA-256.
- Expiry follows the event time, not the write time, so replayed old logs leave little behind:
  occurrences expire window + {margin_hours} h after the event, suppression windows
  window + {margin_hours} h after they opened, never earlier than one window after the write;
  delivery records {retention_days} days after delivery. TTL deletion lags by up to days, so reads
  filter by time themselves.
"""
