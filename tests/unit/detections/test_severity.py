"""Severity ordering."""

from __future__ import annotations

import pytest

from detections.severity import Severity


@pytest.mark.parametrize(
    ("severity", "threshold", "expected"),
    [
        (Severity.CRITICAL, Severity.HIGH, True),
        (Severity.MEDIUM, Severity.MEDIUM, True),
        (Severity.LOW, Severity.MEDIUM, False),
        (Severity.INFO, Severity.LOW, False),
    ],
)
def test_at_least_compares_by_rank_not_by_name(
    severity: Severity, threshold: Severity, expected: bool
) -> None:
    # GIVEN / WHEN comparing severities THEN rank decides ("critical" < "high" alphabetically)
    assert severity.at_least(threshold) is expected
