"""In-memory state store: sliding windows, idempotent members, pruning."""

from __future__ import annotations

from datetime import timedelta

from detections.state import InMemoryStateStore
from tests.factories import T0

WINDOW = timedelta(minutes=5)


def test_counts_distinct_members_inside_the_window() -> None:
    # GIVEN three occurrences, one of them 6 minutes before the others
    store = InMemoryStateStore()
    store.record("k", "a", T0, WINDOW)
    store.record("k", "b", T0 + timedelta(minutes=6), WINDOW)
    # WHEN a third arrives a minute later
    count = store.record("k", "c", T0 + timedelta(minutes=7), WINDOW)
    # THEN only the two inside (t-5min, t] count
    assert count == 2


def test_recording_the_same_member_twice_counts_once() -> None:
    # GIVEN a re-delivered event (same identity)
    store = InMemoryStateStore()
    store.record("k", "event-1", T0, WINDOW)
    # WHEN it is recorded again
    count = store.record("k", "event-1", T0, WINDOW)
    # THEN it is not counted twice
    assert count == 1


def test_out_of_order_occurrences_are_counted_by_their_own_time() -> None:
    # GIVEN an occurrence that arrives late but happened earlier
    store = InMemoryStateStore()
    store.record("k", "late", T0 + timedelta(minutes=4), WINDOW)
    store.record("k", "early", T0, WINDOW)
    # WHEN counting at the late time and at a time past the early one's window
    # THEN the window is about event time, not arrival order
    assert store.count("k", T0 + timedelta(minutes=4), WINDOW) == 2
    assert store.count("k", T0 + timedelta(minutes=5, seconds=1), WINDOW) == 1


def test_keys_do_not_share_members() -> None:
    # GIVEN two keys
    store = InMemoryStateStore()
    store.record("a", "m", T0, WINDOW)
    # WHEN counting the other key
    # THEN it is empty
    assert store.count("b", T0, WINDOW) == 0


def test_old_occurrences_are_pruned() -> None:
    # GIVEN a store that prunes every 2 operations with a 1 hour retention
    store = InMemoryStateStore(prune_every=2)
    store.record("old", "m", T0, WINDOW)
    # WHEN time moves on two hours
    store.record("new", "m", T0 + timedelta(hours=2), WINDOW)
    # THEN the old key is gone
    assert list(store.keys()) == ["new"]


def test_a_member_seen_again_counts_from_its_latest_time() -> None:
    # GIVEN a user who failed 10 minutes ago (password-spray records users as members)
    store = InMemoryStateStore()
    store.record("spray", "alice", T0, WINDOW)
    # WHEN alice fails again now
    count = store.record("spray", "alice", T0 + timedelta(minutes=10), WINDOW)
    # THEN she counts in the current window
    assert count == 1
