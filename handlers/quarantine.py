"""The quarantine queue: where a record we can never process is kept, raw, with the reason."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

# SQS takes 256 KiB per message; a Kinesis record holds up to 1 MiB, so its data is split in parts.
PART_DATA_CHARS = 192 * 1024


class QuarantineError(Exception):
    """The record could not be set aside; it must fail so that Kinesis keeps it."""


@dataclass(frozen=True, slots=True)
class QuarantinedRecord:
    """A poison Kinesis record and why it was set aside."""

    reason: str
    data: bytes
    stream_arn: str
    sequence_number: str
    sub_sequence_number: int | None = None
    partition_key: str = ""


class SqsQuarantine:
    """Writes quarantined records to an SQS queue, split into parts when large."""

    def __init__(self, queue_url: str, client: SQSClient) -> None:
        """Use the queue at `queue_url` through `client`."""
        self.queue_url = queue_url
        self._client = client

    def put(self, record: QuarantinedRecord) -> int:
        """Send the record (its data base64) as one or more messages; return how many were sent."""
        data = base64.b64encode(record.data).decode("ascii")
        chunks = [data[i : i + PART_DATA_CHARS] for i in range(0, len(data), PART_DATA_CHARS)] or [""]
        for number, chunk in enumerate(chunks, start=1):
            body: dict[str, Any] = {
                "reason": record.reason,
                "stream_arn": record.stream_arn,
                "sequence_number": record.sequence_number,
                "sub_sequence_number": record.sub_sequence_number,
                "partition_key": record.partition_key,
                "part": number,
                "parts": len(chunks),
                "data": chunk,
            }
            try:
                self._client.send_message(QueueUrl=self.queue_url, MessageBody=json.dumps(body))
            except (ClientError, BotoCoreError) as exc:
                raise QuarantineError(f"quarantine queue write failed: {type(exc).__name__}") from exc
        return len(chunks)
