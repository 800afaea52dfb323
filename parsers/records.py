"""What parsers read: raw records as delivered by a file or a CloudWatch Logs batch."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import compress
from typing import NamedTuple, overload


class RawRecord(NamedTuple):
    """One delivered record: a physical file line, or a CloudWatch log event's message.

    A NamedTuple, not a dataclass: a CloudWatch batch builds one per log event and a tuple costs a
    fraction of a frozen dataclass to make. Copy with a change via `record._replace(location=…)`.
    """

    text: str
    location: str = ""  # "<file>:<line>" for files, "<logGroup>/<logStream>#<id>" for CloudWatch
    event_id: str = ""  # CloudWatch log event id ("" for files)
    timestamp_ms: int | None = None  # CloudWatch ingestion timestamp (epoch ms), None for files


class RecordColumns(Sequence[RawRecord]):
    """A CloudWatch payload's records as columns (texts, ids, timestamps), each RawRecord made when read.

    The pre-filter reads only the texts and drops about half of a MySQL-family payload: `picked`
    builds records for the kept lines alone, and a payload's identity reads the event ids alone.
    Every record's location is `location_prefix` + its event id.
    """

    __slots__ = ("event_ids", "location_prefix", "texts", "timestamps")

    def __init__(
        self, texts: list[str], event_ids: list[str], timestamps: list[int | None], location_prefix: str
    ) -> None:
        """Hold one column per field, the same length each (index i of each is record i)."""
        self.texts = texts
        self.event_ids = event_ids
        self.timestamps = timestamps
        self.location_prefix = location_prefix

    def __len__(self) -> int:
        """How many records."""
        return len(self.texts)

    @overload
    def __getitem__(self, index: int) -> RawRecord: ...

    @overload
    def __getitem__(self, index: slice) -> tuple[RawRecord, ...]: ...

    def __getitem__(self, index: int | slice) -> RawRecord | tuple[RawRecord, ...]:
        """Record `index` (or a tuple of the records a slice names)."""
        if isinstance(index, slice):
            return tuple(self)[index]
        event_id = self.event_ids[index]
        return RawRecord(self.texts[index], self.location_prefix + event_id, event_id, self.timestamps[index])

    def __iter__(self) -> Iterator[RawRecord]:
        """Every record, in order."""
        return iter(self.picked([True] * len(self.texts)))

    def __eq__(self, other: object) -> bool:
        """Equal to columns or a tuple holding the same records (what a LogBatch compares)."""
        if isinstance(other, RecordColumns | tuple):
            return tuple(self) == tuple(other)
        return NotImplemented

    def __hash__(self) -> int:
        """The hash of the tuple of the same records (equal to it), so a LogBatch stays hashable.

        The columns are lists but never changed after decoding: a batch is a value, as before.
        """
        return hash(tuple(self))

    def __repr__(self) -> str:
        """The records, as a tuple of them shows."""
        return f"RecordColumns{tuple(self)!r}"

    def picked(self, kept: list[bool]) -> list[RawRecord]:
        """The records whose flag in `kept` (one per record) is true, in order."""
        prefix = self.location_prefix
        make = tuple.__new__  # RawRecord's own __new__ adds a Python call per record for the defaults
        return [
            make(RawRecord, (text, prefix + event_id, event_id, timestamp))
            for text, event_id, timestamp in zip(
                compress(self.texts, kept),
                compress(self.event_ids, kept),
                compress(self.timestamps, kept),
                strict=True,
            )
        ]


# A MySQL-family record with its text as `text.split(",", 8)` cut it (None: not split yet), handed
# from the pre-filter to the parser so that no line is split twice.
SplitRecord = tuple[RawRecord, list[str] | None]


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a batch of records came from; parsers copy it onto every event."""

    log_group: str = ""
    log_stream: str = ""
    cluster: str = ""  # cluster/instance identifier, e.g. derived from the log group name
