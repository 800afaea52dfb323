"""Fake AWS credentials and region for tests, so nothing can reach or sign for a real account."""

from __future__ import annotations

import pytest

FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_SECURITY_TOKEN": "testing",
}


def use_fake_aws_credentials(monkeypatch: pytest.MonkeyPatch, region: str) -> None:
    """Set fake credentials and the default region, and drop any named profile."""
    for name, value in {"AWS_DEFAULT_REGION": region, **FAKE_CREDENTIALS}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
