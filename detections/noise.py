"""Noise control for replay: repeats of a (rule, dedup key) within the window fold into one alert."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

from detections.finding import Alert, Finding

DEFAULT_SUPPRESSION = timedelta(minutes=5)


def collapse(findings: Iterable[Finding], window: timedelta = DEFAULT_SUPPRESSION) -> list[Alert]:
    """Group findings in time order: a key's first opens an alert, later ones in the window count into it."""
    ordered = sorted(findings, key=lambda f: f.event.time)
    open_alerts: dict[str, Alert] = {}
    closed: list[Alert] = []
    for finding in ordered:
        key = finding.group_key
        current = open_alerts.get(key)
        at = finding.event.time
        if current is not None and at < current.first_seen + window:
            open_alerts[key] = current.folding(finding)
            continue
        if current is not None:
            closed.append(current)
        open_alerts[key] = Alert.opened_by(finding)
    closed.extend(open_alerts.values())
    return sorted(closed, key=lambda a: (a.first_seen, a.rule_id))
