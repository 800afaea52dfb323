"""Noise control for replay: repeats of a (rule, dedup key) within the window fold into one alert."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from operator import attrgetter

from detections.finding import Alert, Finding

DEFAULT_SUPPRESSION = timedelta(minutes=5)

_time_of = attrgetter("event.time")


def collapse(findings: Iterable[Finding], window: timedelta = DEFAULT_SUPPRESSION) -> list[Alert]:
    """Group findings in time order: a key's first opens an alert, later ones in the window count into it."""
    return [Alert.of(group) for group in windows(findings, window)]


def windows(findings: Iterable[Finding], window: timedelta = DEFAULT_SUPPRESSION) -> list[list[Finding]]:
    """The findings of each alert `collapse` makes, in its order (first seen, then rule).

    For a caller that may not need the alert itself (one no channel takes is only counted).
    """
    ordered = sorted(findings, key=_time_of)
    open_groups: dict[str, tuple[list[Finding], datetime]] = {}  # key → its findings, window end
    closed: list[list[Finding]] = []
    for finding in ordered:
        key = finding.group_key
        current = open_groups.get(key)
        if current is not None:
            if finding.event.time < current[1]:
                current[0].append(finding)  # linear: the alert is built once, when its group closes
                continue
            closed.append(current[0])
        open_groups[key] = ([finding], finding.event.time + window)
    closed.extend(group for group, _ in open_groups.values())
    return sorted(closed, key=_first_seen_and_rule)


def _first_seen_and_rule(group: list[Finding]) -> tuple[object, str]:
    """The order of alerts: by when their first finding was seen, then by rule."""
    first = group[0]
    return (first.event.time, first.rule_id)
