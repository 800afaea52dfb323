"""DynamoDB adapters of the noise-control ports: suppression windows (with their digests) and the ledger."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final, TypeVar

from detections.state import StateStoreError
from detections.suppression import (
    FOLD_IDS_KEPT,
    Admission,
    AdmitRequest,
    Digest,
    SuppressionWindow,
    admit_each,
    admit_into,
    finished,
    hand_out,
)
from stores.dynamodb_common import (
    DELIVERY_PREFIX,
    DELIVERY_RETENTION,
    DUE_ATTRIBUTE,
    DUE_INDEX,
    DUE_PARTITION,
    DUE_SHARD,
    EXPIRY_MARGIN,
    PARTITION_KEY,
    PARTITION_KEY_BYTES,
    SORT_KEY,
    SORT_KEY_BYTES,
    SUPPRESSION_PREFIX,
    SUPPRESSION_SORT_KEY,
    TTL_ATTRIBUTE,
    ConditionNotMetError,
    expiry_seconds,
    from_micros,
    key_part,
    number,
    string,
    to_micros,
    translated_errors,
    utcnow,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import (
        AttributeValueTypeDef,
        PutItemInputTypeDef,
        QueryInputTypeDef,
        UniversalAttributeValueTypeDef,
    )

MAX_ADMIT_ATTEMPTS: Final = 8
BATCH_GET_ITEMS: Final = 100  # BatchGetItem: at most 100 keys a call
UNPROCESSED_BACKOFF_SECONDS: Final = 0.05

T = TypeVar("T")
_FOLD_ID_BYTES: Final = 256  # fold ids live in a list on one item; keep it far below 400 KB


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
        self,
        group_key: str,
        alert_id: str,
        at: datetime,
        window: timedelta,
        matches: int,
        fold_id: str,
        *,
        last: datetime | None = None,
        about: str = "",
    ) -> Admission:
        """Read the window, decide like the in-memory store, write only if the read is still current."""
        owner = key_part(alert_id, _FOLD_ID_BYTES)
        fold = key_part(fold_id, _FOLD_ID_BYTES)

        def decide(current: SuppressionWindow | None) -> tuple[SuppressionWindow | None, Admission]:
            """The in-memory decision on the stored window."""
            return admit_into(
                current,
                alert_id=owner,
                at=at,
                window=window,
                matches=matches,
                fold_id=fold,
                last=last,
                about=about,
            )

        return self._change(group_key, decide)

    def admit_many(self, requests: Sequence[AdmitRequest]) -> list[Admission]:
        """Admit windows of distinct keys, reading them together: one BatchGetItem per 100 windows.

        Then one conditional write per window that changes (a new object, a fold); a write that loses a
        race (another container wrote that window first) is decided again on what it wrote, like `admit`.

        Writes stay one per window, conditioned on the version read: TransactWriteItems would batch them
        too, but all-or-nothing, and moto (the tests' DynamoDB) copies the table per transacted item.
        """
        if len(requests) <= 1 or len({r.group_key for r in requests}) < len(requests):
            return admit_each(self, requests)
        keys = [_window_key(r.group_key) for r in requests]
        stored = self._read_many(keys)
        admissions: list[Admission] = []
        for request, key in zip(requests, keys, strict=True):
            current, version = stored.get(_partition_of(request.group_key), (None, 0))
            owner = key_part(request.alert_id, _FOLD_ID_BYTES)
            changed, admission = admit_into(
                current,
                alert_id=owner,
                at=request.at,
                window=request.window,
                matches=request.matches,
                fold_id=key_part(request.fold_id, _FOLD_ID_BYTES),
                last=request.last,
                about=request.about,
            )
            if changed is not None:
                try:
                    self._write(key, request.group_key, changed, version)
                except ConditionNotMetError:
                    (admission,) = admit_each(self, [request])  # decide again on the other container's write
            admissions.append(admission)
        return admissions

    def _read_many(
        self, keys: Sequence[dict[str, UniversalAttributeValueTypeDef]]
    ) -> dict[str, tuple[SuppressionWindow | None, int]]:
        """The stored windows of `keys` by partition key, strongly consistent, 100 keys a call."""
        found: dict[str, tuple[SuppressionWindow | None, int]] = {}
        for start in range(0, len(keys), BATCH_GET_ITEMS):
            pending: list[Any] = list(keys[start : start + BATCH_GET_ITEMS])
            for attempt in range(self._max_attempts):
                with translated_errors(self._table_name, "BatchGetItem"):
                    reply = self._client.batch_get_item(
                        RequestItems={self._table_name: {"Keys": pending, "ConsistentRead": True}}
                    )
                for item in reply.get("Responses", {}).get(self._table_name, []):
                    found[item[PARTITION_KEY]["S"]] = self._stored(item, "BatchGetItem")
                unprocessed: dict[str, Any] = dict(reply.get("UnprocessedKeys", {}))
                pending = list(unprocessed.get(self._table_name, {}).get("Keys", []))
                if not pending:
                    break
                time.sleep(min(UNPROCESSED_BACKOFF_SECONDS * 2**attempt, 1.0))  # throttled: back off
            if pending:
                raise StateStoreError(
                    f"DynamoDB BatchGetItem on table {self._table_name!r} left keys unprocessed for "
                    f"{self._max_attempts} attempts",
                    retryable=True,
                )
        return found

    def due_digests(self, now: datetime) -> list[Digest]:
        """Windows the sparse `by_due` index lists as due by `now`, each handed a digest (no table scan)."""
        digests = []
        for group_key in self._due_keys(now):

            def decide(
                current: SuppressionWindow | None, group_key: str = group_key
            ) -> tuple[SuppressionWindow | None, Digest | None]:
                """The digest the stored window owes now."""
                return (None, None) if current is None else hand_out(group_key, current, now)

            digest = self._change(group_key, decide)
            if digest is not None:
                digests.append(digest)
        return digests

    def finish_digest(self, digest: Digest) -> None:
        """Clear the digest from its window, if it is still the one in flight."""

        def decide(current: SuppressionWindow | None) -> tuple[SuppressionWindow | None, None]:
            """The window without the digest in flight."""
            return (None, None) if current is None else (finished(current, digest), None)

        self._change(digest.group_key, decide)

    def _due_keys(self, now: datetime) -> list[str]:
        """The group keys of windows due by `now`, from the index (all pages)."""
        request: QueryInputTypeDef = {
            "TableName": self._table_name,
            "IndexName": DUE_INDEX,
            "KeyConditionExpression": "#shard = :shard AND #due <= :now",
            "ExpressionAttributeNames": {"#shard": DUE_PARTITION, "#due": DUE_ATTRIBUTE, "#key": "group_key"},
            "ExpressionAttributeValues": {":shard": string(DUE_SHARD), ":now": number(to_micros(now))},
            "ProjectionExpression": "#key",
        }
        keys: list[str] = []
        while True:
            with translated_errors(self._table_name, "Query"):
                page = self._client.query(**request)
            keys.extend(item["group_key"]["S"] for item in page["Items"] if "group_key" in item)
            last_key = page.get("LastEvaluatedKey")
            if not last_key:
                return list(dict.fromkeys(keys))
            request["ExclusiveStartKey"] = last_key

    def _change(
        self, group_key: str, decide: Callable[[SuppressionWindow | None], tuple[SuppressionWindow | None, T]]
    ) -> T:
        """Read the window, decide, and write the change only if the item is still the version read."""
        key = _window_key(group_key)
        for _attempt in range(self._max_attempts):
            current, version = self._read(key)
            changed, outcome = decide(current)
            if changed is None:
                return outcome
            try:
                self._write(key, group_key, changed, version)
            except ConditionNotMetError:
                continue  # another container changed the window first: decide again on its state
            return outcome
        raise StateStoreError(
            f"DynamoDB PutItem on table {self._table_name!r} failed: the suppression window kept changing "
            f"for {self._max_attempts} attempts",
            retryable=True,
        )

    def _read(self, key: dict[str, UniversalAttributeValueTypeDef]) -> tuple[SuppressionWindow | None, int]:
        """The stored window and its version (0 when there is none)."""
        with translated_errors(self._table_name, "GetItem"):
            item = self._client.get_item(TableName=self._table_name, Key=key, ConsistentRead=True).get("Item")
        return self._stored(item, "GetItem")

    def _stored(self, item: dict[str, Any] | None, operation: str) -> tuple[SuppressionWindow | None, int]:
        """The window an item read by `operation` holds, and its version (None, 0 when there is none)."""
        if item is None:
            return None, 0
        try:
            return _window_from_item(item), int(item["version"]["N"])
        except (KeyError, ValueError, TypeError) as exc:
            raise StateStoreError(
                f"DynamoDB {operation} on table {self._table_name!r} returned a malformed suppression item",
                retryable=False,
            ) from exc

    def _write(
        self,
        key: dict[str, UniversalAttributeValueTypeDef],
        group_key: str,
        window_state: SuppressionWindow,
        version: int,
    ) -> None:
        """Store the window as version + 1, only if the item still is at `version` (absent when 0)."""
        with translated_errors(self._table_name, "PutItem"):
            self._client.put_item(**self._put_request(key, group_key, window_state, version))

    def _put_request(
        self,
        key: dict[str, UniversalAttributeValueTypeDef],
        group_key: str,
        window_state: SuppressionWindow,
        version: int,
    ) -> PutItemInputTypeDef:
        """The conditional Put that stores the window as version + 1 (for PutItem or a transaction)."""
        item = dict(key)
        item.update(_window_to_item(window_state))
        item["group_key"] = string(group_key)
        item["version"] = number(version + 1)
        closes = window_state.closes_at or window_state.opened_at
        window = closes - window_state.opened_at
        item[TTL_ATTRIBUTE] = number(expiry_seconds(closes + EXPIRY_MARGIN, self._clock() + window))
        if (due := window_state.due_at) is not None:  # sparse: only windows awaiting their digest
            item[DUE_PARTITION] = string(DUE_SHARD)
            item[DUE_ATTRIBUTE] = number(to_micros(due))
        request: PutItemInputTypeDef = {"TableName": self._table_name, "Item": item}
        if version == 0:
            request["ConditionExpression"] = "attribute_not_exists(#pk)"
            request["ExpressionAttributeNames"] = {"#pk": PARTITION_KEY}
        else:
            request["ConditionExpression"] = "#version = :version"
            request["ExpressionAttributeNames"] = {"#version": "version"}
            request["ExpressionAttributeValues"] = {":version": number(version)}
        return request


def _partition_of(group_key: str) -> str:
    """The partition key value of one group key's suppression window."""
    return key_part(f"{SUPPRESSION_PREFIX}{group_key}", PARTITION_KEY_BYTES)


def _window_key(group_key: str) -> dict[str, UniversalAttributeValueTypeDef]:
    """The table key of one group key's suppression window."""
    return {PARTITION_KEY: string(_partition_of(group_key)), SORT_KEY: string(SUPPRESSION_SORT_KEY)}


def _optional_time(item: dict[str, UniversalAttributeValueTypeDef], name: str, at: datetime | None) -> None:
    """Store time `at` as epoch µs under `name`, when there is one."""
    if at is not None:
        item[name] = number(to_micros(at))


def _window_to_item(state: SuppressionWindow) -> dict[str, UniversalAttributeValueTypeDef]:
    """The attributes that store a suppression window (times as epoch µs)."""
    item: dict[str, UniversalAttributeValueTypeDef] = {
        "owner": string(state.owner),
        "opened_at": number(to_micros(state.opened_at)),
        "folded": number(state.folded),
        "reported_folded": number(state.reported_folded),
        "digested": number(state.digested),
        "fold_ids": {"L": [string(fold_id) for fold_id in state.fold_ids[-FOLD_IDS_KEPT:]]},
        "about": string(state.about),
    }
    _optional_time(item, "folded_since", state.folded_since)
    _optional_time(item, "folded_until", state.folded_until)
    _optional_time(item, "reported_since", state.reported_since)
    _optional_time(item, "closes_at", state.closes_at)
    if state.pending is not None:
        pending = state.pending
        item["pending"] = string(
            json.dumps(
                {
                    "id": pending.digest_id,
                    "count": pending.count,
                    "since": to_micros(pending.since),
                    "until": to_micros(pending.until),
                    "about": pending.about,
                }
            )
        )
    return item


def _window_from_item(item: dict[str, AttributeValueTypeDef]) -> SuppressionWindow:
    """The suppression window stored in `item` (KeyError/ValueError/TypeError when it is malformed)."""

    def optional_time(name: str) -> datetime | None:
        """The time attribute `name`, or None when absent."""
        return from_micros(int(item[name]["N"])) if name in item else None

    pending = None
    if "pending" in item:
        fields = json.loads(item["pending"]["S"])
        pending = Digest(
            group_key=item["group_key"]["S"],
            digest_id=str(fields["id"]),
            count=int(fields["count"]),
            since=from_micros(int(fields["since"])),
            until=from_micros(int(fields["until"])),
            about=str(fields["about"]),
        )
    return SuppressionWindow(
        owner=item["owner"]["S"],
        opened_at=from_micros(int(item["opened_at"]["N"])),
        folded=int(item["folded"]["N"]),
        folded_since=optional_time("folded_since"),
        reported_folded=int(item["reported_folded"]["N"]),
        reported_since=optional_time("reported_since"),
        fold_ids=tuple(value["S"] for value in item["fold_ids"]["L"]),
        closes_at=optional_time("closes_at"),
        folded_until=optional_time("folded_until"),
        digested=int(item["digested"]["N"]) if "digested" in item else 0,
        pending=pending,
        about=item["about"]["S"] if "about" in item else "",
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
            "ExpressionAttributeValues": {":pk": string(_delivery_partition(alert_id))},
            "ConsistentRead": True,
        }
        channels: set[str] = set()
        while True:
            with translated_errors(self._table_name, "Query"):
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
            with translated_errors(self._table_name, "PutItem"):
                self._client.put_item(
                    TableName=self._table_name,
                    Item={
                        PARTITION_KEY: string(_delivery_partition(alert_id)),
                        SORT_KEY: string(key_part(channel, SORT_KEY_BYTES)),
                        "channel": string(channel),
                        "delivered_at": number(to_micros(at)),
                        TTL_ATTRIBUTE: number(expires_at),
                    },
                    ConditionExpression="attribute_not_exists(#pk)",
                    ExpressionAttributeNames={"#pk": PARTITION_KEY},
                )
        except ConditionNotMetError:
            pass  # already marked: keep the first delivery time


def _delivery_partition(alert_id: str) -> str:
    """Partition key of an alert's delivery records."""
    return key_part(f"{DELIVERY_PREFIX}{alert_id}", PARTITION_KEY_BYTES)
