"""Alert severities, ordered so that thresholds like ALERTS_MIN_SEVERITY can compare them."""

from __future__ import annotations

from enum import StrEnum


class Severity(StrEnum):
    """How urgent a finding is; compares by rank, not alphabetically."""

    INFO = "info"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        """Position from least (0) to most (4) urgent."""
        return _RANKS[self]

    def at_least(self, other: Severity) -> bool:
        """Whether this severity is as urgent as `other` or more."""
        return self.rank >= other.rank


_RANKS = {severity: rank for rank, severity in enumerate(Severity)}
