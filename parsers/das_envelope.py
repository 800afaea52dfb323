"""Read the encrypted Database Activity Stream envelope and the resource id its data key is bound to."""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass

from parsers.activity_stream import DECRYPTED_RECORD_TYPE, ENVELOPE_TYPE
from parsers.cloudwatch_logs import json_type_name

# Documented envelope versions (FORMATS 4.1): 1.0/1.1 Aurora PostgreSQL, 1.2 Aurora MySQL,
# 1.3 RDS for Oracle, 1.4 RDS for SQL Server. Later ones are accepted: AWS says to expect change.
KNOWN_VERSIONS = frozenset({"1.0", "1.1", "1.2", "1.3", "1.4"})
STREAM_NAME_PREFIX = "aws-rds-das-"
CLUSTER_PREFIX = "cluster-"
INSTANCE_PREFIX = "db-"
CLUSTER_CONTEXT_KEY = "aws:rds:dbc-id"  # Aurora cluster streams
INSTANCE_CONTEXT_KEY = "aws:rds:db-id"  # RDS for Oracle / SQL Server instance streams

_VERSION = re.compile(r"\d{1,6}(?:\.\d{1,6}){1,3}")
_RESOURCE_ID = re.compile(r"(?:cluster|db)-[A-Za-z0-9_.-]+")
_KPL_MAGIC = b"\xf3\x89\x9a\xc2"
_SHOWN_VALUE_LIMIT = 64  # short field values are echoed in reasons; longer ones only described
_NAME_LIMIT = 256  # ARNs and stream names are not payload: quote them whole


class EnvelopeError(ValueError):
    """An activity-stream envelope or stream name that cannot be used; the reason never echoes the payload."""

    retryable = False


@dataclass(frozen=True, slots=True)
class DasEnvelope:
    """One Kinesis record's activity-stream envelope with its base64 fields decoded."""

    version: str
    encrypted_events: bytes = b""  # an AWS Encryption SDK message (gzip'd DatabaseActivityMonitoringRecord)
    encrypted_key: bytes = b""  # the KMS ciphertext of the AES-256 data key

    @property
    def is_known_version(self) -> bool:
        """Whether the version is one the AWS docs describe (unknown later versions are still accepted)."""
        return self.version in KNOWN_VERSIONS


def parse_envelope(data: bytes) -> DasEnvelope:
    """Parse `{"type":"DatabaseActivityMonitoringRecords","version",…}` bytes or raise EnvelopeError."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise EnvelopeError(f"envelope must be bytes, not {type(data).__name__}")
    data = bytes(data)
    if not data.strip():
        raise EnvelopeError("envelope is empty")
    if data.startswith(_KPL_MAGIC):
        raise EnvelopeError("envelope is a KPL-aggregated Kinesis record (de-aggregate it first)")
    document = _json_document(data)
    if not isinstance(document, dict):
        raise EnvelopeError(f"envelope is a JSON {json_type_name(document)}, not an object")
    kind = document.get("type")
    if kind == DECRYPTED_RECORD_TYPE:
        raise EnvelopeError(f"record is an already decrypted {DECRYPTED_RECORD_TYPE}, not an envelope")
    if kind != ENVELOPE_TYPE:
        raise EnvelopeError(f"envelope type is {_describe(kind)}, expected {ENVELOPE_TYPE!r}")
    return DasEnvelope(
        version=_version(document.get("version")),
        encrypted_events=_base64_field(document, "databaseActivityEvents"),
        encrypted_key=_base64_field(document, "key"),
    )


def resource_id_from_stream_arn(arn: str) -> str:
    """`arn:aws:kinesis:<region>:<account>:stream/aws-rds-das-cluster-ABC` → `cluster-ABC` (db-… too)."""
    if not isinstance(arn, str):
        raise EnvelopeError(f"stream ARN must be text, not {type(arn).__name__}")
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or parts[2] != "kinesis" or not parts[5].startswith("stream/"):
        raise EnvelopeError(f"{_describe(arn, _NAME_LIMIT)} is not a Kinesis stream ARN")
    # An enhanced fan-out consumer ARN continues with /consumer/<name>:<epoch>; the stream name is first.
    stream_name = parts[5].removeprefix("stream/").split("/", 1)[0]
    return resource_id_from_stream_name(stream_name)


def resource_id_from_stream_name(stream_name: str) -> str:
    """`aws-rds-das-cluster-ABC` → `cluster-ABC`; anything but an activity stream name → EnvelopeError."""
    if not isinstance(stream_name, str):
        raise EnvelopeError(f"stream name must be text, not {type(stream_name).__name__}")
    resource_id = stream_name.removeprefix(STREAM_NAME_PREFIX)
    if resource_id == stream_name or not _RESOURCE_ID.fullmatch(resource_id):
        raise EnvelopeError(
            f"stream {_describe(stream_name, _NAME_LIMIT)} is not a database activity stream "
            f"({STREAM_NAME_PREFIX}cluster-… or {STREAM_NAME_PREFIX}db-…)"
        )
    return resource_id


def encryption_context(resource_id: str) -> dict[str, str]:
    """The KMS encryption context RDS binds the data key to: dbc-id for clusters, db-id for instances."""
    if isinstance(resource_id, str) and _RESOURCE_ID.fullmatch(resource_id):
        if resource_id.startswith(CLUSTER_PREFIX):
            return {CLUSTER_CONTEXT_KEY: resource_id}
        return {INSTANCE_CONTEXT_KEY: resource_id}
    raise EnvelopeError(f"resource id {_describe(resource_id)} is neither cluster-… nor db-…")


def _json_document(data: bytes) -> object:
    """Decode UTF-8 JSON, naming the failure without quoting the bytes."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise EnvelopeError(f"envelope is not UTF-8 (bad byte at offset {exc.start})") from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise EnvelopeError(f"envelope is not JSON ({exc.msg} at char {exc.pos})") from exc
    except RecursionError as exc:
        raise EnvelopeError("envelope JSON is nested too deeply") from exc


def _version(value: object) -> str:
    """The envelope version: dotted digits, 1.0 or later (unknown later versions accepted)."""
    if value is None:
        raise EnvelopeError("envelope has no version")
    if not isinstance(value, str):
        raise EnvelopeError(f"envelope version is a JSON {json_type_name(value)}, expected a string")
    version = value.strip()
    if not _VERSION.fullmatch(version):
        raise EnvelopeError(f"envelope version {_describe(value)} is not a dotted number such as '1.1'")
    if tuple(int(part) for part in version.split(".")) < (1, 0):
        raise EnvelopeError(f"envelope version {version!r} predates the documented 1.0")
    return version


def _base64_field(document: dict[str, object], name: str) -> bytes:
    """A required, non-empty, strictly base64 string field, decoded (line breaks ignored)."""
    value = document.get(name)
    if value is None:
        raise EnvelopeError(f"envelope has no {name}")
    if isinstance(value, dict):
        # The AWS docs print Aurora PostgreSQL samples this way; on the wire the field is base64 text.
        raise EnvelopeError(
            f"envelope {name} is a JSON object (the decrypted layout of the AWS doc samples), not base64 text"
        )
    if not isinstance(value, str):
        raise EnvelopeError(f"envelope {name} is a JSON {json_type_name(value)}, expected base64 text")
    compact = "".join(value.split())
    if not compact:
        raise EnvelopeError(f"envelope {name} is empty")
    try:
        return base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise EnvelopeError(f"envelope {name} is not valid base64 ({_base64_reason(compact)})") from exc


def _base64_reason(compact: str) -> str:
    """Why strict base64 decoding failed, without quoting the text."""
    alphabet = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=")
    if any(character not in alphabet for character in compact):
        return "characters outside the base64 alphabet"
    if len(compact) % 4:
        return f"length {len(compact)} is not a multiple of 4: truncated?"
    return "misplaced padding"


def _describe(value: object, limit: int = _SHOWN_VALUE_LIMIT) -> str:
    """A short text value quoted as-is; anything longer or non-text only described (no payload echo)."""
    if isinstance(value, str) and len(value) <= limit and value.isprintable():
        return repr(value)
    if isinstance(value, str):
        return f"a {len(value)}-character string"
    return f"a JSON {json_type_name(value)}" if value is not None else "missing"
