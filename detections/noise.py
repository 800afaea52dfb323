"""Noise control for replay: repeats of a (rule, dedup key) within the window fold into one alert."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

from detections.finding import Alert, Finding

DEFAULT_SUPPRESSION = timedelta(minutes=5)


def collapse(findings: Iterable[Finding], window: timedelta = DEFAULT_SUPPRESSION) -> list[Alert]:
    """Group findings in time order: a key's first opens an alert, later ones in the window count into it."""
    ordered = sorted(findings, key=lambda f: f.event.time)
    open_groups: dict[str, list[Finding]] = {}
    closed: list[Alert] = []
    for finding in ordered:
        key = finding.group_key
        current = open_groups.get(key)
        if current is not None and finding.event.time < current[0].event.time + window:
            current.append(finding)  # linear: the alert is built once, when its group closes
            continue
        if current is not None:
            closed.append(Alert.of(current))
        open_groups[key] = [finding]
    closed.extend(Alert.of(group) for group in open_groups.values())
    return sorted(closed, key=lambda a: (a.first_seen, a.rule_id))
