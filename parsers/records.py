"""What parsers read: raw records as delivered by a file or a CloudWatch Logs batch."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple


class RawRecord(NamedTuple):
    """One delivered record: a physical file line, or a CloudWatch log event's message.

    A NamedTuple, not a dataclass: a CloudWatch batch builds one per log event and a tuple costs a
    fraction of a frozen dataclass to make. Copy with a change via `record._replace(location=…)`.
    """

    text: str
    location: str = ""  # "<file>:<line>" for files, "<logGroup>/<logStream>#<id>" for CloudWatch
    event_id: str = ""  # CloudWatch log event id ("" for files)
    timestamp_ms: int | None = None  # CloudWatch ingestion timestamp (epoch ms), None for files


# A MySQL-family record with its text as `text.split(",", 8)` cut it (None: not split yet), handed
# from the pre-filter to the parser so that no line is split twice.
SplitRecord = tuple[RawRecord, list[str] | None]


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a batch of records came from; parsers copy it onto every event."""

    log_group: str = ""
    log_stream: str = ""
    cluster: str = ""  # cluster/instance identifier, e.g. derived from the log group name
