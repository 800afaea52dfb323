"""Renders replay results: JSON lines (the contract later tooling relies on), a table, a summary."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime

from detections.finding import Alert, Finding
from handlers.pipeline import RunReport

STATEMENT_LIMIT = 500  # characters of (redacted) statement shown per alert


def _iso(moment: datetime) -> str:
    """ISO 8601 in UTC with a Z suffix."""
    text = moment.isoformat()
    return text.removesuffix("+00:00") + "Z"


def _shorten(text: str | None, limit: int = STATEMENT_LIMIT) -> str | None:
    """Cut long statements, saying so."""
    if text is None or len(text) <= limit:
        return text
    return text[: limit - 1] + "…"


def finding_record(finding: Finding, count: int = 1) -> dict[str, object]:
    """The JSON object of one finding (`--findings`)."""
    event = finding.event
    return {
        "rule": finding.rule_id,
        "severity": finding.severity.value,
        "title": finding.title,
        "source": event.source.value,
        "cluster": event.resource,
        "user": event.user,
        "client_host": event.client_host,
        "database": event.database,
        "action": event.action.value,
        "objects": list(finding.objects),
        "statement": _shorten(event.statement),
        "attempt_failed": finding.attempt_failed,
        "status": event.status,
        "time": _iso(event.time),
        "count": count,
        "location": event.location,
    }


def alert_record(alert: Alert) -> dict[str, object]:
    """The JSON object of one alert (default `--json`)."""
    record = finding_record(alert.first, alert.count)
    record["title"] = alert.title
    record["objects"] = list(alert.objects)
    record["first_seen"] = _iso(alert.first_seen)
    record["last_seen"] = _iso(alert.last_seen)
    record["channels"] = list(alert.first.channels)
    return record


def json_lines(records: Iterable[dict[str, object]]) -> Iterable[str]:
    """One compact JSON object per line."""
    for record in records:
        yield json.dumps(record, ensure_ascii=False, sort_keys=False)


def _clean(text: str) -> str:
    """One line of text for the terminal table: control characters become visible escapes."""
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)


def alert_table(alerts: list[Alert]) -> list[str]:
    """A readable table of alerts, one per line with the statement below it."""
    if not alerts:
        return ["No alerts."]
    lines = [f"{'TIME (UTC)':20} {'SEVERITY':8} {'RULE':20} {'COUNT':>5}  TITLE"]
    for alert in alerts:
        when = alert.first_seen.strftime("%Y-%m-%d %H:%M:%S")
        lines.append(
            f"{when:20} {alert.first.severity.value:8} {alert.rule_id:20} {alert.count:>5}  "
            f"{_clean(alert.title)}"
        )
        statement = _shorten(alert.first.event.statement, 160)
        if statement:
            lines.append(f"{'':57}sql: {_clean(statement)}")
        lines.append(f"{'':57}at:  {alert.first.event.location}")
    return lines


def summary(report: RunReport, alerts: int | None) -> list[str]:
    """The run summary: events per dialect, parse failures, findings per rule, alerts."""
    events = ", ".join(f"{name} {count}" for name, count in sorted(report.events.items())) or "none"
    lines = [f"events read: {sum(report.events.values())} ({events})"]
    failures = sum(report.parse_failures.values())
    detail = ", ".join(f"{name} {count}" for name, count in sorted(report.parse_failures.items()))
    lines.append(f"parse failures: {failures}" + (f" ({detail})" if detail else ""))
    lines.extend(f"  {f.location}: {f.reason}" for f in report.failure_samples[:5])
    found = ", ".join(f"{rule} {count}" for rule, count in sorted(report.findings.items())) or "none"
    lines.append(f"findings: {sum(report.findings.values())} ({found})")
    if report.rule_errors:
        errors = ", ".join(f"{rule} {count}" for rule, count in sorted(report.rule_errors.items()))
        lines.append(f"rule errors: {errors}")
    if alerts is not None:
        lines.append(f"alerts: {alerts}")
    return lines
