"""Tests for corrupt and arbitrary CloudWatch Logs payloads: one clear PayloadError, never anything else."""

from __future__ import annotations

import gzip
import json
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parsers import cloudwatch_logs
from parsers.cloudwatch_logs import LogBatch, PayloadError, decode_cloudwatch_payload, log_batch_from_json
from tests.unit.parsers.cloudwatch_payloads import b64

SECRET = "hunter2-secret-statement"
VALID_JSON = json.dumps(
    {"messageType": "DATA_MESSAGE", "logEvents": [{"id": "1", "timestamp": 1, "message": SECRET}]}
).encode()
GZIPPED = gzip.compress(VALID_JSON)

CORRUPT_PAYLOADS: list[tuple[str, str | bytes, str]] = [
    ("empty text", "", "payload is empty"),
    ("blank text", "  \n", "payload is empty"),
    ("empty bytes", b"", "payload is empty"),
    ("not base64", f"{SECRET}!", "payload is not valid base64 (characters outside the base64 alphabet)"),
    ("bad padding", "abc", "payload is not valid base64 (incorrect padding)"),
    ("one char over", "abcde", "payload is not valid base64 (truncated)"),
    ("non-ASCII text", "é" + SECRET, "payload is not valid base64 (non-ASCII characters)"),
    ("random bytes", b"\x00\x01" + SECRET.encode(), "payload is neither gzip, zlib, JSON nor base64 text"),
    (
        "base64 of random bytes",
        b64(b"\x00\x01" + SECRET.encode()),
        "decoded payload is neither gzip, zlib nor JSON",
    ),
    ("truncated gzip", b64(GZIPPED[:-12]), "compressed payload is truncated"),
    ("gzip + trailing bytes", b64(GZIPPED + b"junk"), "unexpected bytes after the compressed payload"),
    (
        "gzip bad header",
        b64(b"\x1f\x8b\x09" + GZIPPED[3:]),
        "payload is not a valid gzip/zlib stream"
        " (Error -3 while decompressing data: unknown compression method)",
    ),
    (
        "gzip not JSON",
        b64(gzip.compress(SECRET.encode())),
        "decoded payload is not JSON (Expecting value at line 1 column 1)",
    ),
    (
        "gzip not UTF-8",
        b64(gzip.compress(b'{"m": "\xff' + SECRET.encode())),
        "decoded payload is not UTF-8 (invalid byte at position 7)",
    ),
    ("JSON array", b64(gzip.compress(b"[1, 2]")), "payload JSON is not an object (got array)"),
    (
        "no messageType",
        b64(gzip.compress(json.dumps({"logEvents": [], "x": SECRET}).encode())),
        "payload JSON has no string messageType (not a CloudWatch Logs subscription)",
    ),
    (
        "no logEvents",
        b64(gzip.compress(b'{"messageType": "DATA_MESSAGE"}')),
        "payload JSON has no logEvents list",
    ),
    (
        "event not an object",
        b64(gzip.compress(b'{"messageType": "DATA_MESSAGE", "logEvents": ["x"]}')),
        "logEvents[0] is not an object (got string)",
    ),
    (
        "event without message",
        b64(gzip.compress(b'{"messageType": "DATA_MESSAGE", "logEvents": [{"id": "1"}]}')),
        "logEvents[0] has no string message",
    ),
    (
        "event id is a list",
        b64(gzip.compress(b'{"messageType": "DATA_MESSAGE", "logEvents": [{"id": [], "message": ""}]}')),
        "logEvents[0].id is not a string (got array)",
    ),
    (
        "bad timestamp",
        b64(
            gzip.compress(
                b'{"messageType": "DATA_MESSAGE", "logEvents": [{"timestamp": "soon", "message": ""}]}'
            )
        ),
        "logEvents[0].timestamp is not an integer (epoch milliseconds)",
    ),
    (
        "boolean timestamp",
        b64(
            gzip.compress(
                b'{"messageType": "DATA_MESSAGE", "logEvents": [{"timestamp": true, "message": ""}]}'
            )
        ),
        "logEvents[0].timestamp is a boolean, expected epoch milliseconds",
    ),
    (
        "logGroup not text",
        b64(gzip.compress(b'{"messageType": "DATA_MESSAGE", "logGroup": 5, "logEvents": []}')),
        "logGroup is not a string (got number)",
    ),
    (
        "filters not a list of text",
        b64(gzip.compress(b'{"messageType": "DATA_MESSAGE", "subscriptionFilters": [1], "logEvents": []}')),
        "subscriptionFilters is not a list of strings",
    ),
]


@pytest.mark.parametrize(
    ("payload", "message"),
    [pytest.param(payload, message, id=case) for case, payload, message in CORRUPT_PAYLOADS],
)
def test_corrupt_payload_raises_one_clear_reason(payload: str | bytes, message: str) -> None:
    """GIVEN a corrupt payload WHEN decoded THEN PayloadError with one reason and no payload text."""
    with pytest.raises(PayloadError) as caught:
        decode_cloudwatch_payload(payload)

    assert str(caught.value) == message
    assert SECRET not in str(caught.value)
    assert caught.value.retryable is False


def test_decompression_bomb_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """GIVEN a payload that inflates past the limit WHEN decoded THEN PayloadError."""
    monkeypatch.setattr(cloudwatch_logs, "MAX_DECOMPRESSED_BYTES", 1000)

    with pytest.raises(PayloadError) as caught:
        decode_cloudwatch_payload(gzip.compress(b" " * 5000 + VALID_JSON))

    assert str(caught.value) == "decompressed payload exceeds 1000 bytes"


def test_non_text_non_bytes_input_is_a_payload_error() -> None:
    """GIVEN something that is neither text nor bytes WHEN decoded THEN PayloadError naming the type."""
    with pytest.raises(PayloadError) as caught:
        decode_cloudwatch_payload(42)  # type: ignore[arg-type]

    assert str(caught.value) == "payload must be text or bytes, not int"


def test_log_batch_from_json_refuses_non_object() -> None:
    """GIVEN a decoded value that is not an object WHEN read as a batch THEN PayloadError."""
    with pytest.raises(PayloadError) as caught:
        log_batch_from_json([])  # type: ignore[arg-type]

    assert str(caught.value) == "payload JSON is not an object (got array)"


def decode_outcome(data: str | bytes) -> LogBatch | PayloadError:
    """The batch, or the PayloadError raised instead; any other exception escapes."""
    try:
        return decode_cloudwatch_payload(data)
    except PayloadError as exc:
        return exc


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300) | st.binary(max_size=300).map(gzip.compress) | st.binary().map(zlib.compress))
def test_arbitrary_bytes_raise_only_payload_error(data: bytes) -> None:
    """GIVEN arbitrary (maybe compressed) bytes WHEN decoded THEN a LogBatch or a PayloadError only."""
    assert isinstance(decode_outcome(data), LogBatch | PayloadError)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_arbitrary_text_raises_only_payload_error(data: str) -> None:
    """GIVEN arbitrary text WHEN decoded THEN a LogBatch or a PayloadError only."""
    assert isinstance(decode_outcome(data), LogBatch | PayloadError)


@settings(max_examples=300, deadline=None)
@given(
    JSON_VALUES
    | st.fixed_dictionaries(
        {"messageType": JSON_VALUES, "logEvents": st.lists(JSON_VALUES, max_size=3)},
        optional={"logGroup": JSON_VALUES, "subscriptionFilters": JSON_VALUES, "owner": JSON_VALUES},
    )
)
def test_arbitrary_gzipped_json_raises_only_payload_error(document: object) -> None:
    """GIVEN any gzip'd JSON value (incl. subscription-like ones) WHEN decoded THEN batch or PayloadError."""
    assert isinstance(
        decode_outcome(b64(gzip.compress(json.dumps(document).encode()))), LogBatch | PayloadError
    )
