"""Rule windows: the per-batch view over the in-memory store (buckets, units, retries, spray cap)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from detections.state import (
    BUCKET,
    DISTINCT_KEPT,
    Contributions,
    InMemoryStateStore,
    StateView,
    Tally,
    bucket_of,
)
from tests.factories import T0

WINDOW = timedelta(minutes=5)


def at(seconds: float) -> datetime:
    """T0 + seconds."""
    return T0 + timedelta(seconds=seconds)


def view(store: InMemoryStateStore, *units: str) -> StateView:
    """A batch view over `store` whose units are `units` (the first is current)."""
    return StateView(store, horizon=WINDOW, units=frozenset(units or ("u1",)))


@dataclass
class CountingStore(InMemoryStateStore):
    """The in-memory store, counting its loads and saves (what a DynamoDB store would call)."""

    loads: list[str] = field(default_factory=list)
    saves: list[str] = field(default_factory=list)

    def load(self, key: str, since: datetime, exclude: frozenset[str]) -> dict[datetime, Tally]:
        """Count, then load."""
        self.loads.append(key)
        return super().load(key, since, exclude)

    def save(self, key: str, contributions: Contributions, keep: timedelta) -> None:
        """Count, then save."""
        self.saves.append(key)
        super().save(key, contributions, keep)


def test_a_batch_reads_and_writes_each_key_once_however_many_events() -> None:
    # GIVEN a store and one batch of 10,000 occurrences on one key and 3 on another
    store = CountingStore()
    batch = view(store)
    counts = [batch.add("k", f"e{i}", at(i / 1000), WINDOW) for i in range(10_000)]
    batch.add("other", "x", at(0), WINDOW)
    # WHEN the batch is committed
    batch.commit()
    # THEN each key was read once and written once, and the counts were exact
    assert counts[-1] == 10_000
    assert (sorted(store.loads), sorted(store.saves)) == (["k", "other"], ["k", "other"])


def test_windows_span_batches_and_slide_by_bucket() -> None:
    # GIVEN 3 occurrences committed by one batch at 0, 30 and 60 s
    store = InMemoryStateStore()
    first = view(store, "p1")
    for i, seconds in enumerate((0, 30, 60)):
        first.add("k", f"e{i}", at(seconds), WINDOW)
    first.commit()
    # WHEN a later batch adds one at 60 s and one at 320 s
    second = view(store, "p2")
    # THEN it counts the earlier ones while they are in the window (buckets of 10 s)
    assert second.add("k", "e3", at(60), WINDOW) == 4
    assert second.add("k", "e4", at(320), WINDOW) == 4  # 0 s has left (its bucket precedes 20 s)


def test_the_same_occurrence_twice_in_a_batch_counts_once() -> None:
    # GIVEN brute-force and login-after-failures both recording one failure
    batch = view(InMemoryStateStore())
    # WHEN the same occurrence is added twice
    batch.add("k", "event-1", at(0), WINDOW)
    # THEN it is counted once
    assert batch.add("k", "event-1", at(0), WINDOW) == 1


def test_a_retried_batch_sees_the_same_prior_state_and_adds_nothing() -> None:
    # GIVEN an earlier payload with 3 failures and a payload p2 with 4 that was committed once
    store = InMemoryStateStore()
    earlier = view(store, "p1")
    for i in range(3):
        earlier.add("k", f"a{i}", at(i), WINDOW)
    earlier.commit()
    first_attempt = view(store, "p2")
    first_counts = [first_attempt.add("k", f"b{i}", at(10 + i), WINDOW) for i in range(4)]
    first_attempt.commit()
    # WHEN p2 is retried
    retry = view(store, "p2")
    retry_counts = [retry.add("k", f"b{i}", at(10 + i), WINDOW) for i in range(4)]
    retry.commit()
    # THEN it counts exactly as the first attempt, and the store holds 7, not 11
    assert retry_counts == first_counts == [4, 5, 6, 7]
    assert view(store, "p3").count("k", at(20), WINDOW) == 7


def test_two_containers_on_one_key_lose_no_count() -> None:
    # GIVEN two containers that read the same (empty) state concurrently
    shared: dict[str, dict[datetime, dict[str, Tally]]] = {}
    container_a = view(InMemoryStateStore(shared), "pa")
    container_b = view(InMemoryStateStore(shared), "pb")
    for i in range(5):
        container_a.add("k", f"a{i}", at(i), WINDOW)
        container_b.add("k", f"b{i}", at(i), WINDOW)
    # WHEN both commit
    container_a.commit()
    container_b.commit()
    # THEN the key holds both batches
    assert view(InMemoryStateStore(shared), "pc").count("k", at(5), WINDOW) == 10


def test_the_first_occurrence_in_the_window_gives_the_span() -> None:
    # GIVEN failures at 3 s and 43 s
    batch = view(InMemoryStateStore())
    batch.add("k", "e1", at(3), WINDOW)
    batch.add("k", "e2", at(43), WINDOW)
    # WHEN asking when the window's first occurrence happened
    # THEN it is the exact time of the first (40 s span), and never before the window's start
    assert batch.first("k", at(43), WINDOW) == at(3)
    assert batch.first("k", at(305), WINDOW) == at(305) - WINDOW  # bucket 0 s is still in it
    assert batch.first("empty", at(43), WINDOW) == at(43)


def test_distinct_members_count_once_and_follow_their_latest_time() -> None:
    # GIVEN alice failing at 0 s and again at 400 s, bob at 10 s
    batch = view(InMemoryStateStore())
    batch.add_distinct("spray", "alice", at(0), WINDOW)
    assert batch.add_distinct("spray", "bob", at(10), WINDOW) == 2
    assert batch.add_distinct("spray", "alice", at(20), WINDOW) == 2
    # WHEN alice fails again after bob left the window
    # THEN only alice is in it
    assert batch.add_distinct("spray", "alice", at(400), WINDOW) == 1


def test_distinct_members_stored_earlier_move_with_their_latest_time() -> None:
    # GIVEN alice and bob stored by an earlier batch at 0 s
    store = InMemoryStateStore()
    earlier = view(store, "p1")
    earlier.add_distinct("spray", "alice", at(0), WINDOW)
    earlier.add_distinct("spray", "bob", at(0), WINDOW)
    earlier.commit()
    # WHEN a later batch sees alice again at 250 s, then carol at 320 s (bob's 0 s has left the window)
    batch = view(store, "p2")
    assert batch.add_distinct("spray", "alice", at(250), WINDOW) == 2
    # THEN alice counts once, at her latest time, and bob no longer counts
    assert batch.add_distinct("spray", "carol", at(320), WINDOW) == 2


def test_distinct_members_stop_at_the_cap() -> None:
    # GIVEN a spray over more users than are kept
    batch = view(InMemoryStateStore())
    counts = [batch.add_distinct("spray", f"user{i}", at(1), WINDOW) for i in range(DISTINCT_KEPT + 50)]
    # WHEN counting THEN the count is exact up to the cap and stays there
    assert counts[DISTINCT_KEPT - 1] == DISTINCT_KEPT
    assert counts[-1] == DISTINCT_KEPT


def test_an_earlier_time_than_read_reads_the_key_again() -> None:
    # GIVEN a stored occurrence at 0 s, and a batch that first touches the key at 400 s
    store = InMemoryStateStore()
    earlier = view(store, "p1")
    earlier.add("k", "e0", at(0), WINDOW)
    earlier.commit()
    batch = view(store, "p2")
    assert batch.add("k", "e1", at(400), WINDOW) == 1
    assert batch.first("k", at(400), WINDOW) == at(400)
    # WHEN an out-of-order occurrence at 100 s arrives
    # THEN the stored one at 0 s is read and counted, and the batch's own is kept
    assert batch.add("k", "e2", at(100), WINDOW) == 2
    # (and what was remembered of the window at 400 s is not stale: it starts at 100 s now)
    assert batch.count("k", at(400), WINDOW) == 2
    assert batch.first("k", at(400), WINDOW) == at(100)


def test_old_buckets_are_pruned() -> None:
    # GIVEN a store that prunes on every save with a 1 hour retention
    store = InMemoryStateStore(prune_every=1)
    old = view(store, "p1")
    old.add("old", "e", at(0), WINDOW)
    old.commit()
    # WHEN a batch two hours later is saved
    new = view(store, "p2")
    new.add("new", "e", at(7200), WINDOW)
    new.commit()
    # THEN the old key is gone
    assert list(store.keys()) == ["new"]


def test_buckets_are_aligned_to_the_epoch() -> None:
    # GIVEN a time inside a bucket WHEN asking for its bucket THEN it starts on a 10 s boundary
    start = bucket_of(at(17))
    assert start <= at(17) < start + BUCKET
    assert start.timestamp() % 10 == 0


def test_a_noted_occurrence_counts_once_like_an_added_one() -> None:
    # GIVEN one failure noted (login-after-failures) and the same failure added (brute-force)
    batch = view(InMemoryStateStore())
    batch.note("k", "e1", at(0))
    # WHEN the same occurrence is added again and a new one is added
    again = batch.add("k", "e1", at(0), WINDOW)
    new = batch.add("k", "e2", at(1), WINDOW)
    # THEN the noted occurrence counted once, and the count includes it
    assert (again, new) == (1, 2)


def test_noting_an_occurrence_the_batch_counted_already_reads_nothing() -> None:
    # GIVEN a failure added at 400 s (brute-force), its key read once
    store = CountingStore()
    batch = view(store)
    batch.add("k", "e1", at(400), WINDOW)
    # WHEN the same failure is noted (login-after-failures), also as if at an earlier time
    batch.note("k", "e1", at(400))
    batch.note("k", "e1", at(0))
    # THEN it counts once and the key is not read again (an earlier new occurrence still reads it)
    assert (store.loads, batch.count("k", at(400), WINDOW)) == (["k"], 1)
    batch.note("k", "e0", at(0))
    assert (store.loads, batch.count("k", at(400), WINDOW)) == (["k", "k"], 1)
    assert batch.count("k", at(10), WINDOW) == 1


def test_a_bucket_is_given_in_utc_whatever_zone_the_time_is_in() -> None:
    # GIVEN one instant written in +02:00 and in UTC, asked for in that order
    from datetime import UTC, timezone

    local = datetime(2026, 11, 23, 15, 7, 41, tzinfo=timezone(timedelta(hours=2)))
    utc = local.astimezone(UTC)
    # WHEN asking for their buckets
    first, second = bucket_of(local), bucket_of(utc)
    # THEN both are the same UTC bucket start (no answer in another zone leaks from a cache)
    assert first == second == datetime(2026, 11, 23, 13, 7, 40, tzinfo=UTC)
    assert first.tzinfo is UTC
    assert second.tzinfo is UTC


def test_window_buckets_answer_for_each_time_asked_whatever_was_asked_before() -> None:
    # GIVEN two windows and times asked for in turn, one of them again as a new but equal object
    from detections.state import window_buckets

    five, one = timedelta(minutes=5), timedelta(minutes=1)
    asked = [(at(17), five), (at(17), five), (at(95), five), (at(95), one), (at(17) + timedelta(0), five)]
    # WHEN asking for each window's buckets
    answers = [window_buckets(moment, window) for moment, window in asked]
    # THEN every answer is the window's first and last bucket and the buckets between
    for (moment, window), (start, last, span) in zip(asked, answers, strict=True):
        assert (start, last) == (bucket_of(moment - window), bucket_of(moment))
        assert span == (last - start) // BUCKET


def test_the_store_reads_a_bucket_back_as_its_units_together_but_the_excluded() -> None:
    # GIVEN three units in one bucket, one unit alone in the next, one excluded unit in a third,
    # and one bucket before the time asked from
    store = InMemoryStateStore()
    b0, b1, b2, old = bucket_of(at(0)), bucket_of(at(10)), bucket_of(at(20)), bucket_of(at(-400))
    store.save(
        "k",
        {
            (b0, "p1"): Tally(2, frozenset({"alice"}), at(3)),
            (b0, "p2"): Tally(1, frozenset({"alice", "bob"}), at(1)),
            (b0, "retried"): Tally(5, frozenset({"eve"}), at(0)),
            (b1, "p3"): Tally(4, frozenset(), None),
            (b2, "retried"): Tally(1, frozenset({"mallory"}), at(20)),
            (old, "p1"): Tally(9, frozenset(), at(-400)),
        },
        WINDOW,
    )
    # WHEN read back from 0 s without the retried unit
    loaded = store.load("k", b0, frozenset({"retried"}))
    # THEN each bucket holds its other units together: counts summed, members joined, the earliest first
    assert loaded == {b0: Tally(3, frozenset({"alice", "bob"}), at(1)), b1: Tally(4, frozenset(), None)}
