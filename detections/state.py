"""Rule windows: the state-store port, the per-batch view rules count with, and the in-memory store.

Windows are counted in time buckets (BUCKET wide). A batch (one payload) is evaluated against a
`StateView`: each key's stored buckets are read once, the batch's own occurrences are counted in
memory, and at the end each key is written once. What a batch adds is stored per *unit* (the part
of the input that is re-delivered as a whole: a CloudWatch payload, a Kinesis record), so a
re-delivered unit adds nothing, and a retried batch reads the state without its own earlier
contribution — it sees the same prior state and gives the same counts as its first attempt.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from detections.state_buckets import BUCKET, Bounds, KeyState, Tally, bucket_at, bucket_of, window_buckets

__all__ = [  # the bucket maths is re-exported: callers import rule windows from here
    "BUCKET",
    "DISTINCT_KEPT",
    "Bounds",
    "Contributions",
    "InMemoryStateStore",
    "StateStore",
    "StateStoreError",
    "StateView",
    "Tally",
    "Windows",
    "bucket_of",
    "window_buckets",
]

DISTINCT_KEPT = 256  # distinct members counted exactly per key and window; beyond: "at least 256"


class StateStoreError(RuntimeError):
    """The state store could not be read or written; `retryable` says whether trying again may help."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


# (bucket start, unit) → what that unit added to that bucket
Contributions = Mapping[tuple[datetime, str], Tally]


class StateStore(Protocol):
    """Bucketed rule windows keyed by a string, shared by every container (and invocation)."""

    def load(self, key: str, since: datetime, exclude: frozenset[str]) -> dict[datetime, Tally]:
        """The tallies of `key` per bucket start from `since` on, without what the `exclude` units added."""
        ...

    def save(self, key: str, contributions: Contributions, keep: timedelta) -> None:
        """Add each unit's tally to its bucket, once: a unit already stored for a bucket is left as it is.

        `keep` is how long after its bucket an item must still be readable (the longest window).
        """
        ...


class Windows(Protocol):
    """What a rule counts with (a StateView during a batch)."""

    def add(self, key: str, occurrence: str, at: datetime, window: timedelta) -> int:
        """Count `occurrence` (once per batch) at `at`; return occurrences in the window ending at `at`."""
        ...

    def note(self, key: str, occurrence: str, at: datetime) -> None:
        """Count `occurrence` (once per batch) at `at`, without asking for the window's count."""
        ...

    def add_distinct(self, key: str, member: str, at: datetime, window: timedelta) -> int:
        """Note `member` at `at`; return distinct members in the window (at most DISTINCT_KEPT)."""
        ...

    def count(self, key: str, at: datetime, window: timedelta) -> int:
        """Occurrences of `key` in the window ending at `at`."""
        ...

    def first(self, key: str, at: datetime, window: timedelta) -> datetime:
        """When the first occurrence in the window ending at `at` happened (`at` when there is none)."""
        ...


class StateView:
    """Rule windows for one batch: each touched key read once from the store, written once at commit."""

    def __init__(self, store: StateStore, *, horizon: timedelta, units: frozenset[str]) -> None:
        """Count over `store`; `horizon` is the longest window; `units` all units of the batch."""
        self._store = store
        self._horizon = horizon
        self._units = units
        self._keys: dict[str, KeyState] = {}
        self.unit = next(iter(sorted(units)), "")  # the unit of the observation being evaluated
        self._asked: tuple[str, datetime, timedelta, tuple[KeyState, Bounds]] | None = None

    def _key(self, key: str, at: datetime) -> KeyState:
        """The key's state, read from the store on first use (again only if an earlier time is asked)."""
        state = self._keys.get(key)
        if state is not None and at >= state.ready:
            return state  # what the window ending at `at` needs is loaded (the usual case)
        # The horizon's first bucket, not by window_buckets: the rules' last window stays remembered.
        since = bucket_of(at - self._horizon)
        if state is None or since < state.since:
            fresh = state or KeyState(since, since + self._horizon)
            fresh.since = since if state is None else min(since, state.since)
            fresh.ready = fresh.since + self._horizon
            fresh.absorb(self._store.load(key, fresh.since, self._units))
            self._keys[key] = state = fresh
        return state

    def _window(self, key: str, at: datetime, window: timedelta) -> tuple[KeyState, Bounds]:
        """The key's state and the window's bounds, remembered for the last key, time and window asked
        (by identity): a rule asks for a window's count, then for its first time, with the same three.
        """
        asked = self._asked
        if asked is not None and asked[0] is key and asked[1] is at and asked[2] is window:
            return asked[3]
        state = self._keys.get(key)
        if state is None or at < state.ready:  # not read yet, or not far enough back for `at`
            state = self._key(key, at)
        answer = (state, window_buckets(at, window))
        self._asked = (key, at, window, answer)
        return answer

    def add(self, key: str, occurrence: str, at: datetime, window: timedelta) -> int:
        """Count `occurrence` once per batch; return the occurrences in the window ending at `at`."""
        state, bounds = self._window(key, at, window)
        if occurrence not in state.occurrences:
            state.occurrences.add(occurrence)
            state.add(bounds[1], self.unit, at)  # the window's last bucket holds `at`
        return state.count(bounds)

    def note(self, key: str, occurrence: str, at: datetime) -> None:
        """Count `occurrence` once per batch, without counting the window."""
        state = self._keys.get(key)
        if state is not None and occurrence in state.occurrences:
            return  # counted already (brute-force adds what login-after-failures notes)
        state = self._key(key, at)
        state.occurrences.add(occurrence)
        state.add(bucket_at(at), self.unit, at)

    def add_distinct(self, key: str, member: str, at: datetime, window: timedelta) -> int:
        """Note `member`; return distinct members in the window, at most DISTINCT_KEPT (then stop noting)."""
        state, bounds = self._window(key, at, window)
        start, last = bounds[0], bounds[1]
        seen = state.last_seen.get(member)
        in_window = state.distinct(bounds)
        if seen is None or seen < last:
            known = seen is not None and seen >= start
            if known or in_window < DISTINCT_KEPT:
                state.add(last, self.unit, at, member)
                if not known:  # newly in the window (a known member only moved to a later bucket)
                    in_window += 1
        return min(in_window, DISTINCT_KEPT)

    def count(self, key: str, at: datetime, window: timedelta) -> int:
        """Occurrences of `key` in the window ending at `at`."""
        state, bounds = self._window(key, at, window)
        return state.count(bounds)

    def first(self, key: str, at: datetime, window: timedelta) -> datetime:
        """When the first occurrence in the window ending at `at` happened (`at` when there is none)."""
        state, bounds = self._window(key, at, window)
        return state.first(bounds, at, window)

    def commit(self) -> None:
        """Write what the batch added, once per key (idempotent per unit, so a retry may commit again)."""
        for key, state in self._keys.items():
            if state.added:
                self._store.save(key, state.contributions(), self._horizon)


@dataclass
class InMemoryStateStore:
    """StateStore kept in process memory: replay, tests, and Lambda without a state table."""

    buckets: dict[str, dict[datetime, dict[str, Tally]]] = field(default_factory=dict)  # share = 2 containers
    retention: timedelta = timedelta(hours=1)
    prune_every: int = 1_000
    _saves: int = 0
    _newest: datetime | None = None

    def load(self, key: str, since: datetime, exclude: frozenset[str]) -> dict[datetime, Tally]:
        """The key's tallies per bucket from `since` on, leaving out the `exclude` units."""
        tallies: dict[datetime, Tally] = {}
        for start, units in self.buckets.get(key, {}).items():
            if start >= since and (kept := [tally for unit, tally in units.items() if unit not in exclude]):
                tallies[start] = Tally.total(kept)
        return tallies

    def save(self, key: str, contributions: Contributions, keep: timedelta) -> None:
        """Store each unit's tally per bucket once; now and then drop buckets far older than the newest."""
        stored = self.buckets.setdefault(key, {})
        for (start, unit), tally in contributions.items():
            stored.setdefault(start, {}).setdefault(unit, tally)
            if self._newest is None or start > self._newest:
                self._newest = start
        self._saves += 1
        if self._saves % self.prune_every == 0 and self._newest is not None:
            self._prune(self._newest - max(self.retention, keep))

    def _prune(self, horizon: datetime) -> None:
        """Forget buckets that started before `horizon`."""
        for key in list(self.buckets):
            kept = {start: units for start, units in self.buckets[key].items() if start >= horizon}
            if kept:
                self.buckets[key] = kept
            else:
                del self.buckets[key]

    def keys(self) -> Iterator[str]:
        """Yield the keys currently held (for tests and diagnostics)."""
        yield from self.buckets
