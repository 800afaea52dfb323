"""The state table's schema for the deploy tooling: re-exported from stores.schema, where it lives."""

from __future__ import annotations

from stores.schema import (
    BILLING_MODE,
    DUE_ATTRIBUTE,
    DUE_INDEX,
    DUE_PARTITION,
    PARTITION_KEY,
    SORT_KEY,
    TTL_ATTRIBUTE,
    attribute_definitions,
    create_table_kwargs,
    describe_schema,
    global_secondary_indexes,
    key_schema,
    time_to_live_kwargs,
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
