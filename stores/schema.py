"""The state table's schema, defined once: keys, time index, TTL and billing (tests, SAM template, demo)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from detections.state import BUCKET
from detections.suppression import FOLD_IDS_KEPT
from stores.dynamodb_common import (
    DELIVERY_PREFIX,
    DELIVERY_RETENTION,
    DUE_ATTRIBUTE,
    DUE_INDEX,
    DUE_PARTITION,
    DUE_SHARD,
    EXPIRY_MARGIN,
    PARTITION_KEY,
    SORT_KEY,
    SUPPRESSION_PREFIX,
    SUPPRESSION_SORT_KEY,
    TTL_ATTRIBUTE,
    WINDOW_PREFIX,
)
from stores.dynamodb_state import BUCKET_PREFIX, UNIT_PREFIX

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import (
        AttributeDefinitionTypeDef,
        CreateTableInputTypeDef,
        GlobalSecondaryIndexTypeDef,
        KeySchemaElementTypeDef,
        UpdateTimeToLiveInputTypeDef,
    )

__all__ = [
    "BILLING_MODE",
    "DUE_ATTRIBUTE",
    "DUE_INDEX",
    "DUE_PARTITION",
    "PARTITION_KEY",
    "SORT_KEY",
    "TTL_ATTRIBUTE",
    "attribute_definitions",
    "create_table_kwargs",
    "describe_schema",
    "global_secondary_indexes",
    "key_schema",
    "time_to_live_kwargs",
]

BILLING_MODE: Final = "PAY_PER_REQUEST"


def attribute_definitions() -> list[AttributeDefinitionTypeDef]:
    """The typed attributes the table and its index are keyed on."""
    return [
        {"AttributeName": PARTITION_KEY, "AttributeType": "S"},
        {"AttributeName": SORT_KEY, "AttributeType": "S"},
        {"AttributeName": DUE_PARTITION, "AttributeType": "S"},
        {"AttributeName": DUE_ATTRIBUTE, "AttributeType": "N"},
    ]


def key_schema() -> list[KeySchemaElementTypeDef]:
    """The table's primary key: `pk` (partition) and `sk` (sort), both strings."""
    return [
        {"AttributeName": PARTITION_KEY, "KeyType": "HASH"},
        {"AttributeName": SORT_KEY, "KeyType": "RANGE"},
    ]


def global_secondary_indexes() -> list[GlobalSecondaryIndexTypeDef]:
    """The sparse `by_due` index: only windows awaiting their digest carry its keys (no table scan)."""
    return [
        {
            "IndexName": DUE_INDEX,
            "KeySchema": [
                {"AttributeName": DUE_PARTITION, "KeyType": "HASH"},
                {"AttributeName": DUE_ATTRIBUTE, "KeyType": "RANGE"},
            ],
            "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["group_key"]},
        }
    ]


def create_table_kwargs(table_name: str) -> CreateTableInputTypeDef:
    """Arguments of DynamoDB CreateTable for the state table (TTL is a separate call: time_to_live_kwargs)."""
    return {
        "TableName": table_name,
        "AttributeDefinitions": attribute_definitions(),
        "KeySchema": key_schema(),
        "GlobalSecondaryIndexes": global_secondary_indexes(),
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
    bucket_seconds = int(BUCKET.total_seconds())
    return f"""\
State table: one DynamoDB table, billing `{BILLING_MODE}`, TTL on `{TTL_ATTRIBUTE}` (epoch seconds).

Keys: `{PARTITION_KEY}` (S, partition), `{SORT_KEY}` (S, sort). Sparse global secondary index
`{DUE_INDEX}`: `{DUE_PARTITION}` (S, always `{DUE_SHARD}`) + `{DUE_ATTRIBUTE}` (N, epoch µs), including
`group_key`; only suppression windows awaiting their digest carry these attributes, so the digest
queries its work list and never scans the table.

Items, one kind per key prefix:

- Rule-window bucket: `{PARTITION_KEY}` = `{WINDOW_PREFIX}<state key>`,
  `{SORT_KEY}` = `{BUCKET_PREFIX}<bucket start, epoch seconds, 12 digits>` ({bucket_seconds}-second
  buckets); one attribute per contributing unit (a CloudWatch payload, a Kinesis record),
  `{UNIT_PREFIX}<16 hex digits of the unit's SHA-256>` = map `n` (occurrences), `m` (distinct members,
  each prefixed `=`, string set, for password-spray), `f` (earliest time, epoch µs); `{TTL_ATTRIBUTE}`.
- Suppression window: `{PARTITION_KEY}` = `{SUPPRESSION_PREFIX}<group key>`,
  `{SORT_KEY}` = `{SUPPRESSION_SORT_KEY}`; `group_key`, `owner`, `opened_at`, `closes_at`, `folded`,
  `folded_since`, `folded_until`, `reported_folded`, `reported_since`, `digested`, `pending` (the
  digest in flight, JSON), `about` (what the alerts are about, JSON), `fold_ids` (the last
  {FOLD_IDS_KEPT}, a list), `version`, `{TTL_ATTRIBUTE}`, and while folds await their digest
  `{DUE_PARTITION}` and `{DUE_ATTRIBUTE}`.
- Delivery record: `{PARTITION_KEY}` = `{DELIVERY_PREFIX}<alert id>`, `{SORT_KEY}` = `<channel>`;
  `channel`, `delivered_at`, `{TTL_ATTRIBUTE}`.

How they behave:

- A batch reads each key it touches once (one Query over the buckets of the longest window) and
  writes each touched bucket once (one UpdateItem that sets the batch's unit attributes only if they
  are absent). Counting never reads occurrences, so the cost of a burst does not grow with its size.
- A re-delivered unit adds nothing (its attribute exists); a retried batch reads the buckets without
  its own units and so counts exactly as its first attempt; concurrent containers write different
  attributes of the same item and never lose a count.
- A suppression window changes only through a write conditioned on its `version`; of two containers
  racing to open it one wins and the other folds its alert into it.
- Times are epoch microseconds (N) unless said otherwise. Key parts that are empty become
  `(empty)`; key parts longer than DynamoDB allows keep a readable prefix plus their SHA-256.
- Expiry follows the event time, not the write time, so replayed old logs leave little behind:
  buckets expire the longest window + {margin_hours} h after the bucket, suppression windows
  {margin_hours} h after they close, never earlier than one window after the write;
  delivery records {retention_days} days after delivery. TTL deletion lags by up to days, so reads
  filter by time themselves.
"""
