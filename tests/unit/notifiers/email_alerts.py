"""Alerts and character checks the e-mail rendering tests share."""

from __future__ import annotations

import unicodedata
from datetime import timedelta
from typing import Any

from detections.finding import Alert, Finding
from detections.severity import Severity
from parsers.event import Action
from tests.factories import failed_login, make_event

LOG_GROUP = "/aws/rds/cluster/prod/audit"


def make_alert(
    *,
    rule_id: str = "failed-login",
    title: str = "Failed login for app from 10.0.0.5 on prod (1045)",
    severity: Severity = Severity.MEDIUM,
    count: int = 1,
    span: timedelta = timedelta(0),
    context: tuple[tuple[str, str], ...] = (),
    measured: bool = False,
    **event_fields: Any,
) -> Alert:
    """An alert of `count` matches over `span` from T0, its first event a failed login unless told."""
    event = failed_login(0, **event_fields) if "action" not in event_fields else make_event(0, **event_fields)
    finding = Finding(
        rule_id, title, severity, ("email",), "prod|app|10.0.0.5", event, context, measured=measured
    )
    return Alert(finding, count, event.time, event.time + span)


def drop_table_alert(statement: str, **fields: Any) -> Alert:
    """A failed DROP TABLE by `app` on prod with the given (already redacted) statement."""
    return make_alert(
        rule_id="drop-table",
        title="Attempted drop table orders (failed: 1051) by app on prod",
        severity=Severity.HIGH,
        context=(("objects", "orders"),),
        action=Action.QUERY_DDL,
        statement=statement,
        database="shop",
        object="orders",
        status="1051",
        error_message="Unknown table 'shop.orders'",
        location="server_audit.log:42",
        **fields,
    )


def has_forbidden_body_char(text: str) -> bool:
    """Whether text holds a control/separator/surrogate character other than \\n and \\t."""
    return any(
        (unicodedata.category(ch) in ("Cc", "Cs", "Zl", "Zp") and ch not in "\n\t") or ch in "\u202e\ufeff"
        for ch in text
    )


def has_forbidden_subject_char(text: str) -> bool:
    """Whether text holds any control, line break, separator or surrogate character (tab included)."""
    return any(unicodedata.category(ch) in ("Cc", "Cs", "Zl", "Zp") or ch in "\u202e\ufeff" for ch in text)
