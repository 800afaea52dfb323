"""The state-store port stateful rules use, and its in-memory implementation for replay and tests."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol


class StateStoreError(RuntimeError):
    """The state store could not be read or written; `retryable` says whether trying again may help."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


class StateStore(Protocol):
    """Windows of occurrences keyed by a string, shared by rules across batches (and invocations)."""

    def record(self, key: str, member: str, at: datetime, window: timedelta) -> int:
        """Record `member` at `at` under `key` (latest time kept); return distinct members in the window."""
        ...

    def count(self, key: str, at: datetime, window: timedelta) -> int:
        """Return how many distinct members were recorded under `key` in the window ending at `at`."""
        ...


@dataclass
class InMemoryStateStore:
    """StateStore kept in process memory: replay, tests, and Lambda without a state table."""

    _windows: dict[str, dict[str, datetime]] = field(default_factory=dict)
    _newest: datetime | None = None
    _operations: int = 0
    prune_every: int = 10_000
    retention: timedelta = timedelta(hours=1)

    def record(self, key: str, member: str, at: datetime, window: timedelta) -> int:
        """Record `member` at `at` under `key`; return distinct members in (at - window, at]."""
        members = self._windows.setdefault(key, {})
        previous = members.get(member)
        if previous is None or at > previous:
            # Idempotent for a re-delivered event (same time); a member seen again (password-spray's
            # user failing anew) counts from its latest time.
            members[member] = at
        self._note(at)
        return self.count(key, at, window)

    def count(self, key: str, at: datetime, window: timedelta) -> int:
        """Return distinct members under `key` whose time lies in (at - window, at]."""
        start = at - window
        return sum(1 for seen in self._windows.get(key, {}).values() if start < seen <= at)

    def keys(self) -> Iterator[str]:
        """Yield the keys currently held (for tests and diagnostics)."""
        yield from self._windows

    def _note(self, at: datetime) -> None:
        """Track the newest time seen and drop occurrences far older than it now and then."""
        if self._newest is None or at > self._newest:
            self._newest = at
        self._operations += 1
        if self._operations % self.prune_every == 0:
            horizon = self._newest - self.retention
            for key in list(self._windows):
                kept = {m: t for m, t in self._windows[key].items() if t > horizon}
                if kept:
                    self._windows[key] = kept
                else:
                    del self._windows[key]
