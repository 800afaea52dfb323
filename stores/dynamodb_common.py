"""What every DynamoDB adapter of the state table shares: names, key parts, times, error translation.

Every item carries `expires_at` (epoch seconds) for DynamoDB TTL. It is derived from the *event* time
(event time + window + one day) so that replaying old logs leaves nothing behind for long, floored at
"now + window" so a replay still sees its own windows, which also keeps it from lying more than five
years in the past (DynamoDB TTL ignores such items). Expired items may linger up to days; reads never
rely on TTL, they filter by time themselves.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Final

from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

from detections.state import StateStoreError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import UniversalAttributeValueTypeDef

PARTITION_KEY: Final = "pk"
SORT_KEY: Final = "sk"
TTL_ATTRIBUTE: Final = "expires_at"
DUE_PARTITION: Final = "due_shard"  # set (to DUE_SHARD) only while a suppression window awaits its digest
DUE_ATTRIBUTE: Final = "due_at"  # when that window closes, epoch µs
DUE_INDEX: Final = "by_due"  # sparse global secondary index (due_shard, due_at): the digest's work list
DUE_SHARD: Final = "due"

WINDOW_PREFIX: Final = "win#"
SUPPRESSION_PREFIX: Final = "sup#"
SUPPRESSION_SORT_KEY: Final = "window"
DELIVERY_PREFIX: Final = "dlv#"

EXPIRY_MARGIN: Final = timedelta(days=1)
DELIVERY_RETENTION: Final = timedelta(days=7)

RETRYABLE_ERROR_CODES: Final = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "Throttling",
        "RequestLimitExceeded",
        "InternalServerError",
        "InternalFailure",
        "ServiceUnavailable",
        "TransactionConflict",
        "TransactionConflictException",
    }
)
_CONDITION_FAILED: Final = "ConditionalCheckFailedException"
PARTITION_KEY_BYTES: Final = 2048  # DynamoDB limits on key attribute values
SORT_KEY_BYTES: Final = 1024
_EMPTY_KEY_PART: Final = "(empty)"  # key attributes cannot be empty strings
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND: Final = timedelta(microseconds=1)


def utcnow() -> datetime:
    """The current time in UTC (the default clock; used only for TTL floors and the digest)."""
    return datetime.now(UTC)


class ConditionNotMetError(Exception):
    """A conditional write found the item in another state: control flow, never leaves the stores."""


def state_store_error(exc: BotoCoreError | ClientError, *, table: str, operation: str) -> StateStoreError:
    """Translate a botocore failure into a StateStoreError naming table and operation, never item contents."""
    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code", "") or "UnknownError"
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        retryable = code in RETRYABLE_ERROR_CODES or status >= 500
        return StateStoreError(
            f"DynamoDB {operation} on table {table!r} failed: {code} (HTTP {status})", retryable=retryable
        )
    retryable = isinstance(exc, BotoConnectionError | HTTPClientError)  # connection refused, timeouts
    return StateStoreError(
        f"DynamoDB {operation} on table {table!r} failed: {type(exc).__name__}", retryable=retryable
    )


@contextmanager
def translated_errors(table: str, operation: str) -> Iterator[None]:
    """Run one DynamoDB call: a failed condition becomes control flow, other failures StateStoreError."""
    try:
        yield
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == _CONDITION_FAILED:
            raise ConditionNotMetError from exc
        raise state_store_error(exc, table=table, operation=operation) from exc
    except BotoCoreError as exc:
        raise state_store_error(exc, table=table, operation=operation) from exc


def to_micros(at: datetime) -> int:
    """Epoch microseconds of `at` (a naive time is taken as UTC)."""
    aware = at if at.tzinfo is not None else at.replace(tzinfo=UTC)
    return (aware - _EPOCH) // _MICROSECOND


def from_micros(micros: int) -> datetime:
    """The UTC time of epoch microseconds."""
    return _EPOCH + micros * _MICROSECOND


def expiry_seconds(natural: datetime, floor: datetime) -> int:
    """TTL value: the later of the event-based expiry and the floor, in whole epoch seconds (rounded up)."""
    return -(-to_micros(max(natural, floor)) // 1_000_000)


def key_part(text: str, limit_bytes: int) -> str:
    """`text` usable inside a key: never empty, and past `limit_bytes` a readable prefix plus its SHA-256."""
    if not text:
        return _EMPTY_KEY_PART
    encoded = text.encode("utf-8")
    if len(encoded) <= limit_bytes:
        return text
    digest = hashlib.sha256(encoded).hexdigest()
    prefix = encoded[: limit_bytes - len(digest) - 8].decode("utf-8", "ignore")
    return f"{prefix}#sha256:{digest}"


def number(value: int) -> UniversalAttributeValueTypeDef:
    """A DynamoDB number attribute."""
    return {"N": str(value)}


def string(value: str) -> UniversalAttributeValueTypeDef:
    """A DynamoDB string attribute."""
    return {"S": value}
