"""Noise control across invocations: suppression windows, digests and the delivery ledger (ports + in-memory).

Matches folded into a window are reported exactly once: by the digest once the window has closed,
or — if a new window opens before the digest ran — by the alert that opens it ("N more earlier").
A window remembers how many of its folds it handed to a digest (`digested`), so the opening alert
reports only the rest, and a digest in flight (`pending`) is finished by the next digest run.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Sequence
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


@dataclass(frozen=True, slots=True)
class Digest:
    """Folded matches of a closed window, handed to the digest and sent once under `digest_id`."""

    group_key: str
    digest_id: str
    count: int
    since: datetime  # the first folded match
    until: datetime  # the last folded match
    about: str  # what the window's alerts are about (detections.digest.describe), to render the digest


class SuppressionStore(Protocol):
    """Suppression windows per group key, shared by every container that delivers alerts."""

    def admit(  # noqa: PLR0917 -- positional signature fixed by the SuppressionStore port
        self,
        group_key: str,
        alert_id: str,
        at: datetime,
        window: timedelta,
        matches: int,
        fold_id: str,
        *,
        last: datetime | None = None,
        about: str = "",
    ) -> Admission:
        """Open a window for `alert_id` (send), re-admit its owner (send again), or fold `matches` into it.

        `last` is the time of the alert's last match (default `at`); `about` describes the alert for a
        digest of what later folds into the window it opens.
        """
        ...

    def admit_many(self, requests: Sequence[AdmitRequest]) -> list[Admission]:
        """Admit several windows of distinct keys at once, in order (a store may batch its reads/writes)."""
        ...


@dataclass(frozen=True, slots=True)
class AdmitRequest:
    """One admission asked of a suppression store, as `SuppressionStore.admit` takes it."""

    group_key: str
    alert_id: str
    at: datetime
    window: timedelta
    matches: int
    fold_id: str
    last: datetime | None = None
    about: str = ""


def admit_each(store: SuppressionStore, requests: Sequence[AdmitRequest]) -> list[Admission]:
    """The admissions of `requests`, one `admit` call each (stores without batched I/O use this)."""
    return [
        store.admit(r.group_key, r.alert_id, r.at, r.window, r.matches, r.fold_id, last=r.last, about=r.about)
        for r in requests
    ]


class DigestSource(Protocol):
    """Where the digest finds closed windows with folded matches nobody reported yet."""

    def due_digests(self, now: datetime) -> list[Digest]:
        """Hand out a digest for every window closed by `now` with unreported folds (in flight ones again)."""
        ...

    def finish_digest(self, digest: Digest) -> None:
        """Forget a digest that was delivered (idempotent)."""
        ...


class SuppressionWindows(SuppressionStore, DigestSource, Protocol):
    """A suppression store that also hands out the digests of its closed windows."""


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
    closes_at: datetime | None = None  # opened_at + the suppression window
    folded_until: datetime | None = None  # time of the last folded match
    digested: int = 0  # folds of this window already handed to a digest
    pending: Digest | None = None  # a digest handed out and not yet known to be delivered
    about: str = ""  # what the opening alert is about, for the digest

    @property
    def due_at(self) -> datetime | None:
        """When the digest should pick this window up (None: nothing to report)."""
        if self.pending is not None:
            return self.opened_at
        if self.folded > self.digested:
            return self.closes_at or self.opened_at
        return None


def digest_id(group_key: str, owner: str, digested: int) -> str:
    """The stable id of the digest of `owner`'s window covering the folds after the first `digested`."""
    identity = f"digest|{group_key}|{owner}|{digested}"
    return hashlib.sha256(identity.encode("utf-8")).hexdigest()[:32]


def hand_out(
    group_key: str, current: SuppressionWindow, now: datetime
) -> tuple[SuppressionWindow | None, Digest | None]:
    """The digest a window owes at `now` and the window to store (None when nothing changes)."""
    if current.pending is not None:
        return None, current.pending
    if current.folded <= current.digested or (current.closes_at is not None and now < current.closes_at):
        return None, None
    since = current.folded_since or current.opened_at
    digest = Digest(
        group_key=group_key,
        digest_id=digest_id(group_key, current.owner, current.digested),
        count=current.folded - current.digested,
        since=since,
        until=current.folded_until or since,
        about=current.about,
    )
    handed = dataclasses.replace(
        current, digested=current.folded, pending=digest, folded_since=None, folded_until=None
    )
    return handed, digest


def finished(current: SuppressionWindow, digest: Digest) -> SuppressionWindow | None:
    """The window with `digest` no longer in flight (None when it is not, any more)."""
    if current.pending is None or current.pending.digest_id != digest.digest_id:
        return None
    return dataclasses.replace(current, pending=None)


def admit_into(
    current: SuppressionWindow | None,
    *,
    alert_id: str,
    at: datetime,
    window: timedelta,
    matches: int,
    fold_id: str,
    last: datetime | None = None,
    about: str = "",
) -> tuple[SuppressionWindow | None, Admission]:
    """Decide one admission: the window to store (None when nothing changes) and the admission.

    Shared by every SuppressionStore so that all of them behave exactly alike.
    """
    if current is None or at >= current.opened_at + window:
        # the previous window's folds no digest took are reported by this alert
        folded_before = current.folded - current.digested if current is not None else 0
        folded_since = current.folded_since if current is not None and folded_before else None
        previous_ids = current.fold_ids if current is not None else ()
        opened = SuppressionWindow(
            owner=alert_id,
            opened_at=at,
            reported_folded=folded_before,
            reported_since=folded_since,
            # the opener's fold id too: a late retry of it after a newer window opened must not fold
            fold_ids=_remember(previous_ids, fold_id),
            closes_at=at + window,
            pending=current.pending if current is not None else None,  # the digest run finishes it
            about=about,
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
    until = last or at
    folded = dataclasses.replace(
        current,
        folded=current.folded + matches,
        folded_since=since,
        folded_until=until if current.folded_until is None else max(current.folded_until, until),
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
        self,
        group_key: str,
        alert_id: str,
        at: datetime,
        window: timedelta,
        matches: int,
        fold_id: str,
        *,
        last: datetime | None = None,
        about: str = "",
    ) -> Admission:
        """Open, re-admit or fold, exactly as the DynamoDB store does."""
        current = self.windows.get(group_key)
        changed, admission = admit_into(
            current,
            alert_id=alert_id,
            at=at,
            window=window,
            matches=matches,
            fold_id=fold_id,
            last=last,
            about=about,
        )
        if changed is not None:
            self.windows[group_key] = changed
        return admission

    def admit_many(self, requests: Sequence[AdmitRequest]) -> list[Admission]:
        """Admit each request in turn, exactly as `admit` does."""
        return admit_each(self, requests)

    def due_digests(self, now: datetime) -> list[Digest]:
        """Hand out the digests of every window closed by `now` with unreported folds."""
        digests = []
        for group_key, current in sorted(self.windows.items()):
            due = current.due_at
            if due is None or due > now:
                continue
            changed, digest = hand_out(group_key, current, now)
            if changed is not None:
                self.windows[group_key] = changed
            if digest is not None:
                digests.append(digest)
        return digests

    def finish_digest(self, digest: Digest) -> None:
        """Forget a delivered digest."""
        current = self.windows.get(digest.group_key)
        if current is not None and (changed := finished(current, digest)) is not None:
            self.windows[digest.group_key] = changed


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
