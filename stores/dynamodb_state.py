"""DynamoDB adapter of the rule-window port: one item per (key, 10-second bucket), one attribute per unit.

A key is read with one Query over its buckets (never its occurrences) and written with one
UpdateItem per bucket the batch touched. Each unit (payload, Kinesis record) that contributed to a
bucket has its own attribute, set only if absent: a re-delivered unit adds nothing, concurrent
containers never overwrite each other, and a retried batch can leave its own units out of what it
reads.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Final

from detections.state import BUCKET, Contributions, Tally
from stores.dynamodb_common import (
    EXPIRY_MARGIN,
    PARTITION_KEY,
    PARTITION_KEY_BYTES,
    SORT_KEY,
    TTL_ATTRIBUTE,
    WINDOW_PREFIX,
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
        QueryInputTypeDef,
        UniversalAttributeValueTypeDef,
    )

BUCKET_PREFIX: Final = "b#"  # sort key of a bucket: b#<bucket start, epoch seconds, 12 digits>
UNIT_PREFIX: Final = "u_"  # a unit's attribute: u_<first 16 hex digits of the unit's SHA-256>
COUNT_FIELD: Final = "n"  # in a unit's map: occurrences it added
MEMBERS_FIELD: Final = "m"  # in a unit's map: distinct members it added (string set)
FIRST_FIELD: Final = "f"  # in a unit's map: the earliest time it added, epoch µs
MEMBER_MARK: Final = "="  # prefix of every stored member
UNITS_PER_UPDATE: Final = 40  # keeps one UpdateItem's expressions under DynamoDB's 4 KB limit


def unit_attribute(unit: str) -> str:
    """The attribute name holding `unit`'s contribution (short, fixed length, valid in any item)."""
    return UNIT_PREFIX + hashlib.sha256(unit.encode("utf-8")).hexdigest()[:16]


def bucket_sort_key(start: datetime) -> str:
    """The sort key of the bucket starting at `start` (zero-padded, so keys sort by time)."""
    return f"{BUCKET_PREFIX}{to_micros(start) // 1_000_000:012d}"


def _tally_value(tally: Tally) -> UniversalAttributeValueTypeDef:
    """A unit's tally as a map attribute."""
    value: dict[str, UniversalAttributeValueTypeDef] = {COUNT_FIELD: number(tally.count)}
    if tally.members:
        # prefixed: a member may be "" (a failed login without a user name), which a set cannot hold
        value[MEMBERS_FIELD] = {"SS": sorted(MEMBER_MARK + member for member in tally.members)}
    if tally.first is not None:
        value[FIRST_FIELD] = number(to_micros(tally.first))
    return {"M": value}


def _tally_of(value: AttributeValueTypeDef) -> Tally:
    """The tally stored in a unit's map attribute."""
    fields = value["M"]
    first = from_micros(int(fields[FIRST_FIELD]["N"])) if FIRST_FIELD in fields else None
    stored = fields[MEMBERS_FIELD]["SS"] if MEMBERS_FIELD in fields else []
    members = frozenset(member.removeprefix(MEMBER_MARK) for member in stored)
    return Tally(int(fields[COUNT_FIELD]["N"]), members, first)


class DynamoDbStateStore:
    """StateStore on DynamoDB: bucket items with per-unit attributes, read per key, written per bucket."""

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

    def load(self, key: str, since: datetime, exclude: frozenset[str]) -> dict[datetime, Tally]:
        """One strongly consistent Query (all pages) of the key's buckets from `since` on."""
        skipped = {unit_attribute(unit) for unit in exclude}
        request: QueryInputTypeDef = {
            "TableName": self._table_name,
            "KeyConditionExpression": "#pk = :pk AND #sk >= :since",
            "ExpressionAttributeNames": {"#pk": PARTITION_KEY, "#sk": SORT_KEY},
            "ExpressionAttributeValues": {
                ":pk": string(_window_partition(key)),
                ":since": string(bucket_sort_key(since)),
            },
            "ConsistentRead": True,
        }
        if self._page_size is not None:
            request["Limit"] = self._page_size
        tallies: dict[datetime, Tally] = {}
        while True:
            with translated_errors(self._table_name, "Query"):
                page = self._client.query(**request)
            for item in page["Items"]:
                start = from_micros(int(item[SORT_KEY]["S"][len(BUCKET_PREFIX) :]) * 1_000_000)
                for name, value in item.items():
                    if name.startswith(UNIT_PREFIX) and name not in skipped:
                        tallies[start] = tallies.get(start, Tally()).plus(_tally_of(value))
            last_key = page.get("LastEvaluatedKey")
            if not last_key:
                return tallies
            request["ExclusiveStartKey"] = last_key

    def save(self, key: str, contributions: Contributions, keep: timedelta) -> None:
        """One UpdateItem per bucket setting every unit's attribute only where it is still absent."""
        by_bucket: dict[datetime, dict[str, Tally]] = defaultdict(dict)
        for (start, unit), tally in contributions.items():
            by_bucket[start][unit] = tally
        for start, units in sorted(by_bucket.items()):
            ordered = sorted(units.items())
            for offset in range(0, len(ordered), UNITS_PER_UPDATE):
                chunk = dict(ordered[offset : offset + UNITS_PER_UPDATE])
                try:
                    self._put_units(key, start, chunk, keep)
                except ConditionNotMetError:
                    # some unit was stored already (a retry): store the others one by one
                    for unit, tally in chunk.items():
                        try:
                            self._put_units(key, start, {unit: tally}, keep)
                        except ConditionNotMetError:
                            continue

    def _put_units(self, key: str, start: datetime, units: dict[str, Tally], keep: timedelta) -> None:
        """Set the units' attributes on the bucket item, on condition that none of them exists yet."""
        names: dict[str, str] = {"#exp": TTL_ATTRIBUTE}
        values: dict[str, UniversalAttributeValueTypeDef] = {
            ":exp": number(expiry_seconds(start + BUCKET + keep + EXPIRY_MARGIN, self._clock() + keep)),
        }
        assignments = ["#exp = :exp"]
        conditions = []
        for index, (unit, tally) in enumerate(sorted(units.items())):
            names[f"#u{index}"] = unit_attribute(unit)
            values[f":u{index}"] = _tally_value(tally)
            assignments.append(f"#u{index} = :u{index}")
            conditions.append(f"attribute_not_exists(#u{index})")
        with translated_errors(self._table_name, "UpdateItem"):
            self._client.update_item(
                TableName=self._table_name,
                Key={
                    PARTITION_KEY: string(_window_partition(key)),
                    SORT_KEY: string(bucket_sort_key(start)),
                },
                UpdateExpression="SET " + ", ".join(assignments),
                ConditionExpression=" AND ".join(conditions),
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )


def _window_partition(key: str) -> str:
    """Partition key of a rule window."""
    return key_part(f"{WINDOW_PREFIX}{key}", PARTITION_KEY_BYTES)
