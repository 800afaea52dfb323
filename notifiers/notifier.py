"""The delivery contract every transport implements, and what it is handed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from detections.finding import Alert
from detections.rule import MEASURED


class DeliveryError(Exception):
    """A transport could not deliver; `retryable` says whether a later retry may succeed."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


@dataclass(frozen=True, slots=True)
class OutgoingAlert:
    """An alert ready to send: stable id for idempotency, plus what noise control folded before it."""

    alert_id: str  # stable across retries: the same alert always gets the same id
    alert: Alert  # first finding (redacted), count in this batch, first/last seen
    suppressed_before: int = 0  # matches of this key folded since the previous alert went out
    suppressed_since: datetime | None = None  # when that folding started
    region: str = ""  # AWS region, for console links ("" = no link)
    kind: Literal["alert", "digest"] = "alert"  # a digest reports matches folded into a closed window

    @property
    def measured(self) -> str:
        """A threshold rule's count line, as its latest match measured it ("25 failed logins in 40 s")."""
        latest = self.alert.latest or self.alert.first
        return next((value for key, value in latest.context if key == MEASURED), "")

    @property
    def count(self) -> int:
        """The matches this message reports: its own plus those folded before it (never counted twice)."""
        return self.alert.count + max(self.suppressed_before, 0)


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    """The outcome of sending one alert on one channel."""

    alert_id: str
    channel: str
    error: DeliveryError | None = None

    @property
    def delivered(self) -> bool:
        """Whether the alert reached the channel."""
        return self.error is None


class Notifier(Protocol):
    """A transport for one channel ("email" via SNS, "slack")."""

    channel: str

    def send(self, alerts: Sequence[OutgoingAlert], *, deadline: float | None = None) -> list[DeliveryResult]:
        """Deliver each alert without raising for one alert's failure; `deadline` bounds time.monotonic()."""
        ...
