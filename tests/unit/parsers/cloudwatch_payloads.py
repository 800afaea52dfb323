"""Stored CloudWatch Logs subscription samples and the base64 wrapping the decoder tests apply to them."""

from __future__ import annotations

import base64
from pathlib import Path

SAMPLES = Path(__file__).resolve().parents[2] / "data" / "samples"


def sample_bytes(name: str) -> bytes:
    """The bytes of a stored sample."""
    return (SAMPLES / name).read_bytes()


def b64(data: bytes) -> str:
    """Base64 text as CloudWatch puts it in awslogs.data / Kinesis data."""
    return base64.b64encode(data).decode("ascii")
