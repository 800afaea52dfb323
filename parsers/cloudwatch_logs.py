"""Decode CloudWatch Logs subscription payloads (Lambda `awslogs.data`, Kinesis record data) into batches."""

from __future__ import annotations

import base64
import binascii
import json
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from operator import itemgetter
from typing import Any, cast

from parsers.records import RawRecord, RecordColumns

CONTROL_MESSAGE = "CONTROL_MESSAGE"
DATA_MESSAGE = "DATA_MESSAGE"

# Far above any real delivery (a Lambda/Kinesis payload is at most a few MB compressed); guards
# against decompression bombs in replayed files.
MAX_DECOMPRESSED_BYTES = 64 * 1024 * 1024

_GZIP_MAGIC = b"\x1f\x8b"
_AUTO_GZIP_OR_ZLIB = zlib.MAX_WBITS | 32  # zlib picks gzip or zlib from the header
_JSON_STARTS = (b"{", b"[")
_MESSAGE, _ID, _TIMESTAMP = itemgetter("message"), itemgetter("id"), itemgetter("timestamp")


class PayloadError(ValueError):
    """A subscription payload that cannot be decoded; the message names one reason, never the payload."""

    retryable: bool = False


@dataclass(frozen=True, slots=True)
class LogBatch:
    """One decoded subscription payload: the log group/stream it came from and its log events."""

    owner: str
    log_group: str
    log_stream: str
    subscription_filters: tuple[str, ...]
    message_type: str
    policy_level: str
    records: RecordColumns

    @property
    def is_control_message(self) -> bool:
        """Whether CloudWatch sent this only to check the destination is reachable (skip it)."""
        return self.message_type == CONTROL_MESSAGE


def decode_cloudwatch_payload(data: str | bytes) -> LogBatch:
    """Decode base64 text or raw bytes holding gzip, zlib or plain JSON into a LogBatch."""
    if isinstance(data, str):
        text = data.strip()
        if text.startswith(("{", "[")):
            return _batch_from_json_bytes(text.encode("utf-8"))
        return _batch_from_bytes(decode_base64(text), allow_base64=False)
    if not isinstance(data, bytes | bytearray | memoryview):
        raise PayloadError(f"payload must be text or bytes, not {type(data).__name__}")
    return _batch_from_bytes(bytes(data), allow_base64=True)


def decode_base64(text: str | bytes) -> bytes:
    """Strictly decode base64 (whitespace such as line wraps ignored) or raise PayloadError."""
    if text:
        try:  # the common case, no line wraps: no copy without whitespace first
            return base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            pass  # whitespace to drop, or a real error: reported by the careful path below
    compact = b"".join(text.split()) if isinstance(text, bytes) else "".join(text.split())
    if not compact:
        raise PayloadError("payload is empty")
    try:
        return base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise PayloadError(f"payload is not valid base64 ({_base64_reason(exc)})") from exc


def log_batch_from_json(document: Mapping[str, object]) -> LogBatch:
    """Build a LogBatch from the decoded subscription JSON (`messageType`, `logEvents`, …)."""
    if not isinstance(document, Mapping):
        raise PayloadError(f"payload JSON is not an object (got {json_type_name(document)})")
    message_type = document.get("messageType")
    if not isinstance(message_type, str):
        raise PayloadError("payload JSON has no string messageType (not a CloudWatch Logs subscription)")
    log_group = _optional_str(document, "logGroup")
    log_stream = _optional_str(document, "logStream")
    events = document.get("logEvents")
    if not isinstance(events, list):
        raise PayloadError("payload JSON has no logEvents list")
    return LogBatch(
        owner=_optional_str(document, "owner"),
        log_group=log_group,
        log_stream=log_stream,
        subscription_filters=_subscription_filters(document.get("subscriptionFilters")),
        message_type=message_type,
        policy_level=_optional_str(document, "policyLevel"),
        records=_record_columns(events, f"{log_group}/{log_stream}"),
    )


def _batch_from_bytes(data: bytes, *, allow_base64: bool) -> LogBatch:
    """Pick gzip/zlib/plain JSON from the leading bytes; fall back to base64 text once."""
    if not data:
        raise PayloadError("payload is empty")
    if data.startswith(_GZIP_MAGIC) or _looks_like_zlib(data):
        return _batch_from_json_bytes(_decompress(data))
    if data.lstrip().startswith(_JSON_STARTS):
        return _batch_from_json_bytes(data)
    if allow_base64:
        try:
            decoded = decode_base64(data)
        except PayloadError as exc:
            raise PayloadError("payload is neither gzip, zlib, JSON nor base64 text") from exc
        return _batch_from_bytes(decoded, allow_base64=False)
    raise PayloadError("decoded payload is neither gzip, zlib nor JSON")


def _looks_like_zlib(data: bytes) -> bool:
    """Whether the first two bytes form a valid zlib header (deflate method, header checksum)."""
    if len(data) < 2:
        return False
    cmf, flg = data[0], data[1]
    return cmf & 0x0F == 8 and cmf >> 4 <= 7 and ((cmf << 8) | flg) % 31 == 0


def _decompress(data: bytes) -> bytes:
    """Inflate one gzip or zlib stream, refusing truncated streams, trailing bytes and bombs."""
    inflater = zlib.decompressobj(wbits=_AUTO_GZIP_OR_ZLIB)
    try:
        inflated = inflater.decompress(data, MAX_DECOMPRESSED_BYTES + 1)
    except zlib.error as exc:
        raise PayloadError(f"payload is not a valid gzip/zlib stream ({exc})") from exc
    if len(inflated) > MAX_DECOMPRESSED_BYTES:
        raise PayloadError(f"decompressed payload exceeds {MAX_DECOMPRESSED_BYTES} bytes")
    if not inflater.eof:
        raise PayloadError("compressed payload is truncated")
    if inflater.unused_data:
        raise PayloadError("unexpected bytes after the compressed payload")
    return inflated


def _batch_from_json_bytes(data: bytes) -> LogBatch:
    """Parse UTF-8 JSON bytes and validate them as a subscription document."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PayloadError(f"decoded payload is not UTF-8 (invalid byte at position {exc.start})") from exc
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PayloadError(
            f"decoded payload is not JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
        ) from exc
    except (ValueError, RecursionError) as exc:  # e.g. integer too long, nesting too deep
        raise PayloadError(f"decoded payload is not usable JSON ({type(exc).__name__})") from exc
    if not isinstance(document, dict):
        raise PayloadError(f"payload JSON is not an object (got {json_type_name(document)})")
    return log_batch_from_json(document)


def _record_columns(events: list[object], stream_path: str) -> RecordColumns:
    """`logEvents` → RecordColumns: exact-type checks for what CloudWatch sends, else careful `_raw_record`.

    What CloudWatch sends (objects holding a string message, a string id and an integer timestamp) is
    checked a column at a time in C (itemgetter, type); anything else, or a missing key, takes
    `_raw_record` per event of the payload, which reports the first bad one as before.
    """
    location_prefix = f"{stream_path}#"
    try:
        if _exact_types(events, dict):
            documents = cast("list[dict[str, Any]]", events)
            texts, event_ids = list(map(_MESSAGE, documents)), list(map(_ID, documents))
            timestamps: list[int | None] = list(map(_TIMESTAMP, documents))
            if _exact_types(texts, str) and _exact_types(event_ids, str) and _exact_types(timestamps, int):
                return RecordColumns(texts, event_ids, timestamps, location_prefix)
    except KeyError:
        pass  # an event without one of the keys: the careful path decides what that means
    records = [_raw_record(event, index, stream_path) for index, event in enumerate(events)]
    return RecordColumns(
        [record.text for record in records],
        [record.event_id for record in records],
        [record.timestamp_ms for record in records],
        location_prefix,
    )


def _exact_types(values: list[Any], kind: type) -> bool:
    """Whether every value's type is exactly `kind` (not a subclass: a bool is no timestamp)."""
    return set(map(type, values)) <= {kind}


def _raw_record(event: object, index: int, stream_path: str) -> RawRecord:
    """Turn one `logEvents` item into a RawRecord, validating the fields CloudWatch always sends."""
    if not isinstance(event, Mapping):
        raise PayloadError(f"logEvents[{index}] is not an object (got {json_type_name(event)})")
    message = event.get("message")
    if not isinstance(message, str):
        raise PayloadError(f"logEvents[{index}] has no string message")
    event_id = event.get("id", "")
    if isinstance(event_id, int) and not isinstance(event_id, bool):
        event_id = str(event_id)
    if not isinstance(event_id, str):
        raise PayloadError(f"logEvents[{index}].id is not a string (got {json_type_name(event_id)})")
    return RawRecord(
        text=message,
        location=f"{stream_path}#{event_id}",
        event_id=event_id,
        timestamp_ms=epoch_ms(event.get("timestamp"), f"logEvents[{index}].timestamp"),
    )


def epoch_ms(value: object, field_name: str) -> int | None:
    """Normalise an epoch-milliseconds field (int, integral float or digit string; None if absent)."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise PayloadError(f"{field_name} is a boolean, expected epoch milliseconds")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 20:
        return int(value)
    raise PayloadError(f"{field_name} is not an integer (epoch milliseconds)")


def _subscription_filters(value: object) -> tuple[str, ...]:
    """Validate `subscriptionFilters` (absent or null → empty)."""
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(name, str) for name in value):
        raise PayloadError("subscriptionFilters is not a list of strings")
    return tuple(value)


def _optional_str(document: Mapping[str, object], key: str) -> str:
    """A string field that may be absent or null (→ "")."""
    value = document.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise PayloadError(f"{key} is not a string (got {json_type_name(value)})")
    return value


def json_type_name(value: object) -> str:
    """The JSON name of a decoded value's type, for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "array"
    if isinstance(value, Mapping):
        return "object"
    return type(value).__name__


def _base64_reason(exc: Exception) -> str:
    """A short reason for a base64 failure that never echoes the input."""
    message = str(exc)
    if "ASCII" in message:
        return "non-ASCII characters"
    if "padding" in message.lower():
        return "incorrect padding"
    if "number of data characters" in message:
        return "truncated"
    return "characters outside the base64 alphabet"
