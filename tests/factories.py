"""Builders of realistic events for tests, with only the interesting fields spelled out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from parsers.event import Action, AuditEvent, Source

T0 = datetime(2024, 5, 1, 10, 0, 0, tzinfo=UTC)


def make_event(seconds: float = 0, **fields: Any) -> AuditEvent:
    """An AuditEvent at T0 + seconds; defaults describe a MariaDB query by `app` on cluster `prod`."""
    defaults: dict[str, Any] = {
        "source": Source.MYSQL_AUDIT,
        "time": T0 + timedelta(seconds=seconds),
        "action": Action.QUERY,
        "cluster": "prod",
        "server_host": "prod-1",
        "user": "app",
        "client_host": "10.0.0.5",
        "session_id": "7",
        "status": "0",
    }
    defaults.update(fields)
    return AuditEvent(**defaults)


def failed_login(seconds: float = 0, **fields: Any) -> AuditEvent:
    """A FAILED_CONNECT (1045) event with a unique location."""
    fields.setdefault("location", f"audit.log:{int(seconds * 10)}")
    return make_event(seconds, action=Action.FAILED_CONNECT, status="1045", **fields)


def login(seconds: float = 0, **fields: Any) -> AuditEvent:
    """A successful CONNECT event."""
    fields.setdefault("location", f"audit.log:ok{int(seconds * 10)}")
    return make_event(seconds, action=Action.CONNECT, **fields)
