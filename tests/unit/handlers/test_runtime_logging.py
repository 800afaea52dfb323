"""The runtime never lets botocore log response bodies (KMS Decrypt returns the plaintext data key)."""

from __future__ import annotations

import logging

import boto3

from handlers.runtime import Runtime
from handlers.settings import Settings


def test_botocore_response_bodies_are_never_logged_at_debug() -> None:
    # GIVEN botocore's parser logger left at DEBUG (e.g. by a root DEBUG level)
    body_logger = logging.getLogger("botocore.parsers")
    previous = body_logger.level
    body_logger.setLevel(logging.DEBUG)
    try:
        # WHEN the runtime creates its session
        Runtime(Settings(), session=boto3.Session(region_name="us-east-1")).session  # noqa: B018
        # THEN response bodies are no longer logged
        assert body_logger.getEffectiveLevel() == logging.INFO
    finally:
        body_logger.setLevel(previous)
