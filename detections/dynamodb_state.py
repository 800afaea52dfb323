"""DynamoDB adapters of the state ports: rule windows, suppression windows and delivered alerts in one table.

Every item carries `expires_at` (epoch seconds) for DynamoDB TTL. It is derived from the *event* time
(event time + window + one day) so that replaying old logs leaves nothing behind for long, floored at
"now + window" so a replay still sees its own windows, which also keeps it from lying more than five
years in the past (DynamoDB TTL ignores such items). Expired items may linger up to days; reads never
rely on TTL, they filter by time themselves.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Final

from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

from detections.state import StateStoreError
from detections.suppression import FOLD_IDS_KEPT, Admission, SuppressionWindow, admit_into

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import (
        AttributeValueTypeDef,
        PutItemInputTypeDef,
        QueryInputTypeDef,
        UniversalAttributeValueTypeDef,
    )

PARTITION_KEY: Final = "pk"
SORT_KEY: Final = "sk"
TTL_ATTRIBUTE: Final = "expires_at"
TIME_ATTRIBUTE: Final = "t"  # occurrence time of a rule-window item, epoch µs
TIME_INDEX: Final = (
    "by_time"  # local secondary index (pk, t): a count reads only the window, not the partition
)

WINDOW_PREFIX: Final = "win#"
SUPPRESSION_PREFIX: Final = "sup#"
SUPPRESSION_SORT_KEY: Final = "window"
DELIVERY_PREFIX: Final = "dlv#"

EXPIRY_MARGIN: Final = timedelta(days=1)
DELIVERY_RETENTION: Final = timedelta(days=7)
MAX_ADMIT_ATTEMPTS: Final = 8

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
_PARTITION_KEY_BYTES: Final = 2048  # DynamoDB limits on key attribute values
_SORT_KEY_BYTES: Final = 1024
_FOLD_ID_BYTES: Final = 256  # fold ids live in a list on one item; keep it far below 400 KB
_EMPTY_KEY_PART: Final = "(empty)"  # key attributes cannot be empty strings
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND: Final = timedelta(microseconds=1)


def utcnow() -> datetime:
    """The current time in UTC (the default clock; used only for TTL floors)."""
    return datetime.now(UTC)


class _ConditionNotMetError(Exception):
    """A conditional write found the item in another state: control flow, never leaves this module."""


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
def _translated_errors(table: str, operation: str) -> Iterator[None]:
    """Run one DynamoDB call: a failed condition becomes control flow, other failures StateStoreError."""
    try:
        yield
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == _CONDITION_FAILED:
            raise _ConditionNotMetError from exc
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


def _number(value: int) -> UniversalAttributeValueTypeDef:
    """A DynamoDB number attribute."""
    return {"N": str(value)}


def _string(value: str) -> UniversalAttributeValueTypeDef:
    """A DynamoDB string attribute."""
    return {"S": value}


class DynamoDbStateStore:
    """StateStore on DynamoDB: each occurrence is its own item, so concurrent containers never lose one."""

    def __init__(
        self,
        table_name: str,
        client: DynamoDBClient,
        *,
        clock: Callable[[], datetime] = utcnow,
        page_size: int | None = None,
    ) -> None:
        """Use `table_name` through `client`; `page_size` bounds each Query page (tests force pagination)."""
        self._table_name = table_name
        self._client = client
        self._clock = clock
        self._page_size = page_size

    def record(self, key: str, member: str, at: datetime, window: timedelta) -> int:
        """Record `member` at `at` under `key` (its latest time is kept); return members in the window."""
        expires_at = expiry_seconds(at + window + EXPIRY_MARGIN, self._clock() + window)
        try:
            with _translated_errors(self._table_name, "UpdateItem"):
                self._client.update_item(
                    TableName=self._table_name,
                    Key={
                        PARTITION_KEY: _string(_window_partition(key)),
                        SORT_KEY: _string(key_part(member, _SORT_KEY_BYTES)),
                    },
                    UpdateExpression="SET #t = :t, #exp = :exp",
                    # a member seen again keeps its latest time, like InMemoryStateStore
                    ConditionExpression="attribute_not_exists(#pk) OR #t < :t",
                    ExpressionAttributeNames={
                        "#pk": PARTITION_KEY,
                        "#t": TIME_ATTRIBUTE,
                        "#exp": TTL_ATTRIBUTE,
                    },
                    ExpressionAttributeValues={":t": _number(to_micros(at)), ":exp": _number(expires_at)},
                )
        except _ConditionNotMetError:
            pass  # already recorded at this time or earlier
        return self.count(key, at, window)

    def count(self, key: str, at: datetime, window: timedelta) -> int:
        """Count members under `key` with time in (at - window, at], strongly consistent, across all pages."""
        lowest = to_micros(at - window) + 1
        highest = to_micros(at)
        if lowest > highest:
            return 0
        request: QueryInputTypeDef = {
            "TableName": self._table_name,
            "IndexName": TIME_INDEX,
            "KeyConditionExpression": "#pk = :pk AND #t BETWEEN :lowest AND :highest",
            "ExpressionAttributeNames": {"#pk": PARTITION_KEY, "#t": TIME_ATTRIBUTE},
            "ExpressionAttributeValues": {
                ":pk": _string(_window_partition(key)),
                ":lowest": _number(lowest),
                ":highest": _number(highest),
            },
            "Select": "COUNT",
            "ConsistentRead": True,
        }
        if self._page_size is not None:
            request["Limit"] = self._page_size
        total = 0
        while True:
            with _translated_errors(self._table_name, "Query"):
                page = self._client.query(**request)
            total += page["Count"]
            last_key = page.get("LastEvaluatedKey")
            if not last_key:
                return total
            request["ExclusiveStartKey"] = last_key


def _window_partition(key: str) -> str:
    """Partition key of a rule window."""
    return key_part(f"{WINDOW_PREFIX}{key}", _PARTITION_KEY_BYTES)


class DynamoDbSuppressionStore:
    """SuppressionStore on DynamoDB: one item per group key, changed only by version-conditioned writes."""

    def __init__(
        self,
        table_name: str,
        client: DynamoDBClient,
        *,
        clock: Callable[[], datetime] = utcnow,
        max_attempts: int = MAX_ADMIT_ATTEMPTS,
    ) -> None:
        """Use `table_name` through `client`; give up (retryably) after `max_attempts` lost races."""
        self._table_name = table_name
        self._client = client
        self._clock = clock
        self._max_attempts = max_attempts

    def admit(  # noqa: PLR0917 -- positional signature fixed by the SuppressionStore port
        self, group_key: str, alert_id: str, at: datetime, window: timedelta, matches: int, fold_id: str
    ) -> Admission:
        """Read the window, decide like the in-memory store, write only if the read is still current."""
        key: dict[str, UniversalAttributeValueTypeDef] = {
            PARTITION_KEY: _string(key_part(f"{SUPPRESSION_PREFIX}{group_key}", _PARTITION_KEY_BYTES)),
            SORT_KEY: _string(SUPPRESSION_SORT_KEY),
        }
        owner = key_part(alert_id, _FOLD_ID_BYTES)
        fold = key_part(fold_id, _FOLD_ID_BYTES)
        for _attempt in range(self._max_attempts):
            current, version = self._read(key)
            changed, admission = admit_into(
                current, alert_id=owner, at=at, window=window, matches=matches, fold_id=fold
            )
            if changed is None:
                return admission
            try:
                self._write(key, changed, version, window)
            except _ConditionNotMetError:
                continue  # another container changed the window first: decide again on its state
            return admission
        raise StateStoreError(
            f"DynamoDB PutItem on table {self._table_name!r} failed: the suppression window kept changing "
            f"for {self._max_attempts} attempts",
            retryable=True,
        )

    def _read(self, key: dict[str, UniversalAttributeValueTypeDef]) -> tuple[SuppressionWindow | None, int]:
        """The stored window and its version (0 when there is none)."""
        with _translated_errors(self._table_name, "GetItem"):
            item = self._client.get_item(TableName=self._table_name, Key=key, ConsistentRead=True).get("Item")
        if item is None:
            return None, 0
        try:
            return _window_from_item(item), int(item["version"]["N"])
        except (KeyError, ValueError) as exc:
            raise StateStoreError(
                f"DynamoDB GetItem on table {self._table_name!r} returned a malformed suppression item",
                retryable=False,
            ) from exc

    def _write(
        self,
        key: dict[str, UniversalAttributeValueTypeDef],
        window_state: SuppressionWindow,
        version: int,
        window: timedelta,
    ) -> None:
        """Store the window as version + 1, only if the item still is at `version` (absent when 0)."""
        item = dict(key)
        item.update(_window_to_item(window_state))
        item["version"] = _number(version + 1)
        item[TTL_ATTRIBUTE] = _number(
            expiry_seconds(window_state.opened_at + window + EXPIRY_MARGIN, self._clock() + window)
        )
        request: PutItemInputTypeDef = {"TableName": self._table_name, "Item": item}
        if version == 0:
            request["ConditionExpression"] = "attribute_not_exists(#pk)"
            request["ExpressionAttributeNames"] = {"#pk": PARTITION_KEY}
        else:
            request["ConditionExpression"] = "#version = :version"
            request["ExpressionAttributeNames"] = {"#version": "version"}
            request["ExpressionAttributeValues"] = {":version": _number(version)}
        with _translated_errors(self._table_name, "PutItem"):
            self._client.put_item(**request)


def _window_to_item(state: SuppressionWindow) -> dict[str, UniversalAttributeValueTypeDef]:
    """The attributes that store a suppression window (times as epoch µs)."""
    item: dict[str, UniversalAttributeValueTypeDef] = {
        "owner": _string(state.owner),
        "opened_at": _number(to_micros(state.opened_at)),
        "folded": _number(state.folded),
        "reported_folded": _number(state.reported_folded),
        "fold_ids": {"L": [_string(fold_id) for fold_id in state.fold_ids[-FOLD_IDS_KEPT:]]},
    }
    if state.folded_since is not None:
        item["folded_since"] = _number(to_micros(state.folded_since))
    if state.reported_since is not None:
        item["reported_since"] = _number(to_micros(state.reported_since))
    return item


def _window_from_item(item: dict[str, AttributeValueTypeDef]) -> SuppressionWindow:
    """The suppression window stored in `item` (KeyError/ValueError when it is malformed)."""

    def optional_time(name: str) -> datetime | None:
        """The time attribute `name`, or None when absent."""
        return from_micros(int(item[name]["N"])) if name in item else None

    return SuppressionWindow(
        owner=item["owner"]["S"],
        opened_at=from_micros(int(item["opened_at"]["N"])),
        folded=int(item["folded"]["N"]),
        folded_since=optional_time("folded_since"),
        reported_folded=int(item["reported_folded"]["N"]),
        reported_since=optional_time("reported_since"),
        fold_ids=tuple(value["S"] for value in item["fold_ids"]["L"]),
    )


class DynamoDbDeliveryLedger:
    """DeliveryLedger on DynamoDB: one item per (alert id, channel), kept for DELIVERY_RETENTION."""

    def __init__(
        self, table_name: str, client: DynamoDBClient, *, clock: Callable[[], datetime] = utcnow
    ) -> None:
        """Use `table_name` through `client`."""
        self._table_name = table_name
        self._client = client
        self._clock = clock

    def delivered_channels(self, alert_id: str) -> frozenset[str]:
        """Return the channels `alert_id` was already delivered on (strongly consistent, all pages)."""
        request: QueryInputTypeDef = {
            "TableName": self._table_name,
            "KeyConditionExpression": "#pk = :pk",
            "ProjectionExpression": "#channel",
            "ExpressionAttributeNames": {"#pk": PARTITION_KEY, "#channel": "channel"},
            "ExpressionAttributeValues": {":pk": _string(_delivery_partition(alert_id))},
            "ConsistentRead": True,
        }
        channels: set[str] = set()
        while True:
            with _translated_errors(self._table_name, "Query"):
                page = self._client.query(**request)
            channels.update(item["channel"]["S"] for item in page["Items"] if "channel" in item)
            last_key = page.get("LastEvaluatedKey")
            if not last_key:
                return frozenset(channels)
            request["ExclusiveStartKey"] = last_key

    def mark_delivered(self, alert_id: str, channel: str, at: datetime) -> None:
        """Remember the delivery; a repeated mark keeps the first time."""
        expires_at = expiry_seconds(at + DELIVERY_RETENTION, self._clock() + DELIVERY_RETENTION)
        try:
            with _translated_errors(self._table_name, "PutItem"):
                self._client.put_item(
                    TableName=self._table_name,
                    Item={
                        PARTITION_KEY: _string(_delivery_partition(alert_id)),
                        SORT_KEY: _string(key_part(channel, _SORT_KEY_BYTES)),
                        "channel": _string(channel),
                        "delivered_at": _number(to_micros(at)),
                        TTL_ATTRIBUTE: _number(expires_at),
                    },
                    ConditionExpression="attribute_not_exists(#pk)",
                    ExpressionAttributeNames={"#pk": PARTITION_KEY},
                )
        except _ConditionNotMetError:
            pass  # already marked: keep the first delivery time


def _delivery_partition(alert_id: str) -> str:
    """Partition key of an alert's delivery records."""
    return key_part(f"{DELIVERY_PREFIX}{alert_id}", _PARTITION_KEY_BYTES)
