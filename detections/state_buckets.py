"""Rule window arithmetic: time buckets, tallies, and one key's running counts during a batch.

Split from `detections.state` (which re-exports the public names): the state view and the stores live
there, the bucket maths and the per-key lookups they share live here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Tally:
    """What was added to one bucket of a key: occurrences counted, and distinct members kept."""

    count: int = 0
    members: frozenset[str] = frozenset()
    first: datetime | None = None  # the earliest time added

    def plus(self, other: Tally) -> Tally:
        """Both tallies together."""
        return Tally.total((self, other))

    @staticmethod
    def total(tallies: Sequence[Tally]) -> Tally:
        """All of `tallies` together (a single one as it is)."""
        if len(tallies) == 1:
            return tallies[0]
        firsts = [t.first for t in tallies if t.first is not None]
        members = frozenset().union(*[t.members for t in tallies])
        return Tally(sum([t.count for t in tallies]), members, min(firsts, default=None))


BUCKET = timedelta(seconds=10)
Bounds = tuple[datetime, datetime, int]  # a window's first and last bucket, and how many buckets between


def bucket_of(at: datetime) -> datetime:
    """The start of the bucket holding `at`, in UTC (a naive time is taken as UTC)."""
    if at.tzinfo is not UTC:  # always a UTC answer
        at = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    return at - (at - _EPOCH) % BUCKET


class _LastAsked:
    """The last bucket and the last window asked for: the rules ask about one burst's times in turn.

    Both are matched by range (a UTC time inside the last bucket gets the very same bucket object),
    the window also by identity of the window object; a miss is computed afresh. One tuple is
    swapped at a time, so a reader never sees a mix.
    """

    __slots__ = ("bucket", "window")

    def __init__(self) -> None:
        """Start with nothing remembered."""
        self.bucket: tuple[datetime, datetime] | None = None  # (start, end) of the last bucket
        # (start, end) of the last bucket asked with a whole-bucket window, that window, and its bounds
        self.window: tuple[datetime, datetime, timedelta, Bounds] | None = None


_LAST_ASKED = _LastAsked()


def bucket_at(at: datetime) -> datetime:
    """`bucket_of(at)`, remembered for the last bucket (the events of a burst share a few buckets)."""
    entry = _LAST_ASKED.bucket
    if entry is not None and at.tzinfo is UTC and entry[0] <= at < entry[1]:
        return entry[0]
    start = bucket_of(at)
    _LAST_ASKED.bucket = (start, start + BUCKET)
    return start


def window_buckets(at: datetime, window: timedelta) -> Bounds:
    """The first and last bucket of the window ending at `at`, and how many buckets lie between."""
    entry = _LAST_ASKED.window
    if entry is not None and entry[2] is window and at.tzinfo is UTC and entry[0] <= at < entry[1]:
        return entry[3]
    last = bucket_at(at)
    start = bucket_of(at - window)
    buckets = (start, last, (last - start) // BUCKET)
    # A window of whole buckets has the same bounds for every time in `last`. Only a UTC time's bounds
    # are remembered: `at - window` in another zone is wall-clock arithmetic (an hour off across DST).
    if at.tzinfo is UTC and not window % BUCKET:
        _LAST_ASKED.window = (last, last + BUCKET, window, buckets)
    return buckets


@dataclass
class _Added:
    """What the batch added to one bucket for one unit, kept mutable while the batch runs."""

    count: int = 0
    members: set[str] = field(default_factory=set)
    first: datetime | None = None

    def tally(self) -> Tally:
        """The immutable tally to store."""
        return Tally(self.count, frozenset(self.members), self.first)


# What a window's buckets add up to, remembered per key: (first bucket, last bucket, answer).
_Summed = tuple[datetime, datetime, int]
_Earliest = tuple[datetime, datetime, datetime | None]


@dataclass
class KeyState:
    """One key during a batch: its stored buckets, what the batch added, and running lookups.

    The last window counted, its earliest time and its distinct members are remembered and kept up
    to date as occurrences are added, so the events of one burst (one bucket, one window) do not sum
    the window's buckets again; a window with other bounds is summed afresh.
    """

    since: datetime
    ready: datetime  # since + the horizon: a window ending then or later needs nothing older
    counts: dict[datetime, int] = field(default_factory=dict)  # stored + batch, per bucket
    firsts: dict[datetime, datetime] = field(default_factory=dict)  # earliest time, per bucket
    last_seen: dict[str, datetime] = field(default_factory=dict)  # member → latest bucket (stored + batch)
    latest_members: dict[datetime, int] = field(default_factory=dict)  # bucket → members latest in it
    occurrences: set[str] = field(default_factory=set)  # counted in this batch
    added: dict[tuple[datetime, str], _Added] = field(default_factory=dict)
    summed: _Summed | None = None  # the last window counted and its occurrences
    earliest: _Earliest | None = None  # the last window asked for its first time, and that time
    distinct_summed: _Summed | None = None  # the last window asked for distinct members, and how many

    def absorb(self, stored: Mapping[datetime, Tally]) -> None:
        """Take in the stored tallies (the batch's own additions are kept apart and re-applied)."""
        self.counts, self.firsts, self.last_seen, self.latest_members = {}, {}, {}, {}
        self.summed = self.earliest = self.distinct_summed = None
        for start, tally in stored.items():
            self._apply(start, tally.count, tally.first, tally.members)
        for (start, _unit), added in self.added.items():
            self._apply(start, added.count, added.first, added.members)

    def _apply(self, start: datetime, count: int, first: datetime | None, members: Iterable[str]) -> None:
        """Fold a tally into the running lookups of bucket `start` (every noted bucket has a count)."""
        self.counts[start] = self.counts.get(start, 0) + count
        summed = self.summed
        if count and summed is not None and summed[0] <= start <= summed[1]:
            self.summed = (summed[0], summed[1], summed[2] + count)
        if first is not None:
            earliest = self.firsts.get(start)
            if earliest is None or first < earliest:
                self.firsts[start] = first
                remembered = self.earliest
                if (
                    remembered is not None
                    and remembered[0] <= start <= remembered[1]
                    and (remembered[2] is None or first < remembered[2])
                ):
                    self.earliest = (remembered[0], remembered[1], first)
        for member in members:
            previous = self.last_seen.get(member)  # its latest bucket wins
            if previous is None or start > previous:
                self.last_seen[member] = start
                self.latest_members[start] = self.latest_members.get(start, 0) + 1
                if previous is not None:
                    self.latest_members[previous] -= 1
                self._moved_member(start, previous)

    def _moved_member(self, start: datetime, previous: datetime | None) -> None:
        """Keep the remembered distinct count right: a member's latest bucket became `start`."""
        summed = self.distinct_summed
        if summed is not None:
            low, high, total = summed
            total += (low <= start <= high) - (previous is not None and low <= previous <= high)
            self.distinct_summed = (low, high, total)

    def add(self, start: datetime, unit: str, at: datetime, member: str | None = None) -> None:
        """Add one occurrence at `at` (with `member`: one distinct member) to bucket `start` for `unit`."""
        added = self.added.get((start, unit))
        if added is None:
            added = self.added[(start, unit)] = _Added()
        if member is None:
            added.count += 1
            self._apply(start, 1, at, ())
        else:
            added.members.add(member)
            self._apply(start, 0, at, (member,))
        if added.first is None or at < added.first:
            added.first = at

    def contributions(self) -> dict[tuple[datetime, str], Tally]:
        """What the batch added, per (bucket, unit), as the store takes it."""
        return {key: added.tally() for key, added in self.added.items()}

    def _held(self, start: datetime, last: datetime, span: int) -> list[datetime]:
        """The starts of the held buckets from `start` to `last` (`span` buckets apart)."""
        if len(self.counts) <= span:
            return [b for b in self.counts if start <= b <= last]
        held = []
        while start <= last:
            if start in self.counts:
                held.append(start)
            start += BUCKET
        return held

    def count(self, bounds: Bounds) -> int:
        """Occurrences in the buckets of the window with these bounds."""
        start, last, span = bounds
        summed = self.summed
        if summed is None or summed[0] != start or summed[1] != last:
            counts = self.counts
            summed = self.summed = (start, last, sum([counts[b] for b in self._held(start, last, span)]))
        return summed[2]

    def first(self, bounds: Bounds, at: datetime, window: timedelta) -> datetime:
        """The earliest time noted in the window's buckets, not before the window's start; else `at`."""
        start, last, span = bounds
        remembered = self.earliest
        if remembered is None or remembered[0] != start or remembered[1] != last:
            firsts = self.firsts
            held = [firsts[b] for b in self._held(start, last, span) if b in firsts]
            remembered = self.earliest = (start, last, min(held, default=None))
        earliest = at if remembered[2] is None else remembered[2]
        opens = at - window
        return opens if opens > earliest else earliest  # max(), without the builtin call

    def distinct(self, bounds: Bounds) -> int:
        """Distinct members whose latest bucket lies in the window with these bounds, summed per bucket."""
        start, last, _span = bounds
        summed = self.distinct_summed
        if summed is None or summed[0] != start or summed[1] != last:
            latest = self.latest_members.items()
            summed = self.distinct_summed = (start, last, sum([n for b, n in latest if start <= b <= last]))
        return summed[2]
