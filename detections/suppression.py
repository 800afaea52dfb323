"""Noise control across invocations: suppression windows and the delivery ledger (ports + in-memory)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

FOLD_IDS_KEPT = 100  # enough to cover a retried batch; bounds the stored item


@dataclass(frozen=True, slots=True)
class Admission:
    """What noise control decided for one alert of a group key."""

    send: bool  # True: this alert goes out now
    folded_before: int  # matches folded since the previous alert of this key (report them in this alert)
    folded_since: datetime | None  # time of the first of those folded matches


FOLDED = Admission(send=False, folded_before=0, folded_since=None)


class SuppressionStore(Protocol):
    """Suppression windows per group key, shared by every container that delivers alerts."""

    def admit(  # noqa: PLR0917 -- positional signature fixed by the SuppressionStore port
        self, group_key: str, alert_id: str, at: datetime, window: timedelta, matches: int, fold_id: str
    ) -> Admission:
        """Open a window for `alert_id` (send), re-admit its owner (send again), or fold `matches` into it."""
        ...


class DeliveryLedger(Protocol):
    """Which channels already received an alert, so a retried invocation never sends it twice."""

    def delivered_channels(self, alert_id: str) -> frozenset[str]:
        """Return the channels `alert_id` was already delivered on."""
        ...

    def mark_delivered(self, alert_id: str, channel: str, at: datetime) -> None:
        """Remember that `alert_id` reached `channel` at `at` (idempotent: the first time is kept)."""
        ...


@dataclass(frozen=True, slots=True)
class SuppressionWindow:
    """The stored state of one group key: who opened the current window, and what was folded."""

    owner: str  # alert id that opened the window
    opened_at: datetime
    folded: int = 0  # matches folded into this window (reported by the next window's alert)
    folded_since: datetime | None = None
    reported_folded: int = 0  # what the owner reported when it opened the window (re-sent on retry)
    reported_since: datetime | None = None
    fold_ids: tuple[str, ...] = ()  # the last FOLD_IDS_KEPT fold ids, oldest first, kept across windows


def admit_into(
    current: SuppressionWindow | None,
    *,
    alert_id: str,
    at: datetime,
    window: timedelta,
    matches: int,
    fold_id: str,
) -> tuple[SuppressionWindow | None, Admission]:
    """Decide one admission: the window to store (None when nothing changes) and the admission.

    Shared by every SuppressionStore so that all of them behave exactly alike.
    """
    if current is None or at >= current.opened_at + window:
        folded_before = current.folded if current is not None else 0
        folded_since = current.folded_since if current is not None else None
        previous_ids = current.fold_ids if current is not None else ()
        opened = SuppressionWindow(
            owner=alert_id,
            opened_at=at,
            reported_folded=folded_before,
            reported_since=folded_since,
            # the opener's fold id too: a late retry of it after a newer window opened must not fold
            fold_ids=_remember(previous_ids, fold_id),
        )
        return opened, Admission(send=True, folded_before=folded_before, folded_since=folded_since)
    if current.owner == alert_id:
        # a retried invocation re-admitting its own alert: same report as the first time
        return None, Admission(
            send=True, folded_before=current.reported_folded, folded_since=current.reported_since
        )
    if fold_id in current.fold_ids:
        return None, FOLDED
    since = at if current.folded_since is None else min(current.folded_since, at)
    folded = dataclasses.replace(
        current,
        folded=current.folded + matches,
        folded_since=since,
        fold_ids=_remember(current.fold_ids, fold_id),
    )
    return folded, FOLDED


def _remember(fold_ids: tuple[str, ...], fold_id: str) -> tuple[str, ...]:
    """The fold ids with `fold_id` appended (once), keeping only the newest FOLD_IDS_KEPT."""
    if fold_id in fold_ids:
        return fold_ids
    return (*fold_ids, fold_id)[-FOLD_IDS_KEPT:]


@dataclass
class InMemorySuppressionStore:
    """SuppressionStore in process memory: replay, tests, and Lambda without a state table."""

    windows: dict[str, SuppressionWindow] = field(default_factory=dict)  # share it to model two containers

    def admit(  # noqa: PLR0917 -- positional signature fixed by the SuppressionStore port
        self, group_key: str, alert_id: str, at: datetime, window: timedelta, matches: int, fold_id: str
    ) -> Admission:
        """Open, re-admit or fold, exactly as the DynamoDB store does."""
        current = self.windows.get(group_key)
        changed, admission = admit_into(
            current, alert_id=alert_id, at=at, window=window, matches=matches, fold_id=fold_id
        )
        if changed is not None:
            self.windows[group_key] = changed
        return admission


@dataclass
class InMemoryDeliveryLedger:
    """DeliveryLedger in process memory: replay, tests, and Lambda without a state table."""

    deliveries: dict[str, dict[str, datetime]] = field(default_factory=dict)  # alert id → channel → time

    def delivered_channels(self, alert_id: str) -> frozenset[str]:
        """Return the channels `alert_id` was already delivered on."""
        return frozenset(self.deliveries.get(alert_id, {}))

    def mark_delivered(self, alert_id: str, channel: str, at: datetime) -> None:
        """Remember the delivery; a repeated mark keeps the first time."""
        self.deliveries.setdefault(alert_id, {}).setdefault(channel, at)
