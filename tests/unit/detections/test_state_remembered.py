"""Rule windows: the remembered window sums (count, first, distinct) always equal summing afresh."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from detections.state import BUCKET, InMemoryStateStore, StateView, bucket_of, window_buckets
from detections.state_buckets import KeyState
from tests.factories import T0

WINDOW = timedelta(minutes=5)
SHORT = timedelta(minutes=1)
TINY = timedelta(seconds=20)


def at(seconds: float) -> datetime:
    """T0 + seconds."""
    return T0 + timedelta(seconds=seconds)


def view(store: InMemoryStateStore, *units: str) -> StateView:
    """A batch view over `store` whose units are `units` (the first is current)."""
    return StateView(store, horizon=WINDOW, units=frozenset(units or ("u1",)))


def summed_afresh(state: KeyState, moment: datetime, window: timedelta) -> tuple[int, datetime, int]:
    """Count, first time and distinct members of a window, summed from the per-bucket lookups."""
    start, last, _span = window_buckets(moment, window)
    held = [b for b in state.counts if start <= b <= last]
    firsts = [state.firsts[b] for b in held if b in state.firsts]
    first = max(min(firsts, default=moment), moment - window)
    distinct = sum(n for b, n in state.latest_members.items() if start <= b <= last)
    return sum(state.counts[b] for b in held), first, distinct


def remembered(state: KeyState, moment: datetime, window: timedelta) -> tuple[int, datetime, int]:
    """Count, first time and distinct members of a window as the key state answers them."""
    bounds = window_buckets(moment, window)
    return state.count(bounds), state.first(bounds, moment, window), state.distinct(bounds)


def test_an_occurrence_added_after_a_count_is_in_the_next_count() -> None:
    # GIVEN a window counted once (and so remembered)
    batch = view(InMemoryStateStore())
    batch.add("k", "e1", at(1), WINDOW)
    assert (batch.count("k", at(2), WINDOW), batch.first("k", at(2), WINDOW)) == (1, at(1))
    # WHEN another occurrence lands in that window, earlier than the first
    batch.note("k", "e0", at(0.5))
    # THEN the count and the first time include it
    assert batch.count("k", at(2), WINDOW) == 2
    assert batch.first("k", at(2), WINDOW) == at(0.5)


def test_an_occurrence_outside_the_remembered_window_does_not_change_its_count() -> None:
    # GIVEN a one-minute window counted at 100 s
    batch = view(InMemoryStateStore())
    batch.add("k", "e1", at(100), SHORT)
    assert batch.count("k", at(100), SHORT) == 1
    # WHEN an occurrence lands two minutes earlier (outside that window, inside a five-minute one)
    batch.note("k", "e0", at(-20))
    # THEN the short window still counts one, the long one two, and the short one again one
    assert batch.count("k", at(100), SHORT) == 1
    assert batch.count("k", at(100), WINDOW) == 2
    assert batch.count("k", at(100), SHORT) == 1


def test_two_keys_asked_in_turn_keep_their_own_counts() -> None:
    # GIVEN two keys in one batch
    batch = view(InMemoryStateStore())
    # WHEN occurrences alternate between them within one bucket
    counts = [batch.add("a" if n % 3 else "b", f"e{n}", at(n / 10), WINDOW) for n in range(30)]
    # THEN each key counted only its own
    assert counts[-3:] == [10, 19, 20]
    assert (batch.count("a", at(3), WINDOW), batch.count("b", at(3), WINDOW)) == (20, 10)


def test_a_retried_unit_counts_as_its_first_attempt() -> None:
    # GIVEN a first attempt of unit p1, committed
    store = InMemoryStateStore()
    first_attempt = view(store, "p1")
    first_counts = [first_attempt.add("k", f"e{n}", at(n), WINDOW) for n in range(5)]
    first_attempt.commit()
    # WHEN the same unit is evaluated again, its counts asked twice each
    retry = view(store, "p1")
    retry_counts = [retry.add("k", f"e{n}", at(n), WINDOW) for n in range(5)]
    again = [retry.count("k", at(n), WINDOW) for n in range(5)]
    # THEN it sees the same counts as the first attempt
    assert retry_counts == first_counts == [1, 2, 3, 4, 5]
    assert again == [5, 5, 5, 5, 5]


def test_a_member_moving_to_a_later_bucket_is_counted_once() -> None:
    # GIVEN two members counted in a window
    batch = view(InMemoryStateStore())
    batch.add_distinct("spray", "alice", at(0), WINDOW)
    assert batch.add_distinct("spray", "bob", at(1), WINDOW) == 2
    # WHEN alice fails again 30 s later (a later bucket, same window) and carol once
    again = batch.add_distinct("spray", "alice", at(30), WINDOW)
    carol = batch.add_distinct("spray", "carol", at(31), WINDOW)
    # THEN alice still counts once, and carol makes three
    assert (again, carol) == (2, 3)


def test_remembered_sums_equal_summing_afresh_over_a_random_batch() -> None:
    # GIVEN a store holding an earlier unit's occurrences, and a random batch over three keys
    rng = random.Random(11)
    store = InMemoryStateStore()
    earlier = view(store, "p0")
    for n in range(40):
        earlier.add(f"k{n % 3}", f"old{n}", at(rng.uniform(-400, 200)), WINDOW)
        earlier.add_distinct(f"k{n % 3}", f"user{rng.randrange(12)}", at(rng.uniform(-400, 200)), WINDOW)
    earlier.commit()
    batch = view(store, "p1", "p2")
    # WHEN occurrences, notes, members and questions come in random order, mostly forwards in time
    moment = 0.0
    for n in range(600):
        moment += rng.choice([0.0, 0.3, 4.0, 11.0, -40.0 if n % 50 == 0 else 0.0])
        asked, key, window = at(moment), f"k{rng.randrange(3)}", rng.choice([WINDOW, SHORT, TINY])
        when = at(moment - rng.choice([0.0, 0.0, 3.0, 15.0, 50.0]))  # now and then late
        batch.unit = rng.choice(["p1", "p2"])
        operation = rng.randrange(4)
        if operation == 0:
            batch.add(key, f"e{rng.randrange(400)}", when, window)
        elif operation == 1:
            batch.note(key, f"e{rng.randrange(400)}", when)
        elif operation == 2:
            batch.add_distinct(key, f"user{rng.randrange(20)}", when, window)
        if operation != 1:  # asked again with the very key, time and window objects it just used
            fresh = summed_afresh(batch._key(key, when), when, window)
            assert (batch.count(key, when, window), batch.first(key, when, window)) == fresh[:2]
        # THEN every key's remembered answers equal summing its buckets afresh
        for name in ("k0", "k1", "k2"):
            state = batch._key(name, asked)
            assert remembered(state, asked, window) == summed_afresh(state, asked, window)


def test_a_window_asked_again_with_the_same_objects_includes_what_came_in_between() -> None:
    # GIVEN an occurrence added at 100 s (the view remembers that key, time and window)
    batch = view(InMemoryStateStore())
    key, moment = "k", at(100)
    assert batch.add(key, "e1", moment, WINDOW) == 1
    # WHEN an earlier occurrence is noted, another key is asked, and the same occurrence noted again
    batch.note(key, "e0", at(50))
    assert batch.add("other", "e9", moment, WINDOW) == 1
    batch.note(key, "e1", moment)
    # THEN the window asked with the same objects counts both, from the earlier one on
    assert (batch.count(key, moment, WINDOW), batch.first(key, moment, WINDOW)) == (2, at(50))
    assert (batch.count(key, moment, SHORT), batch.first(key, moment, SHORT)) == (2, at(50))


def test_the_bucket_of_a_time_asked_again_is_the_same_as_computed() -> None:
    # GIVEN times asked in turn: one twice, an equal copy, another in its bucket, the same instant
    # written in +02:00 and as a naive time, and a later one
    moment = at(17.5)
    local = moment.astimezone(timezone(timedelta(hours=2)))
    asked = [moment, moment, moment + timedelta(0), at(19.9), local, moment.replace(tzinfo=None), at(95)]
    # WHEN their window buckets are asked
    lasts = [window_buckets(when, WINDOW)[1] for when in asked]
    # THEN each is the UTC bucket computed afresh
    assert lasts == [bucket_of(when) for when in asked]
    assert all(last.tzinfo is UTC for last in lasts)


def test_window_bounds_asked_in_any_order_equal_those_computed_afresh() -> None:
    # GIVEN times in and across buckets, in UTC, in +02:00 and naive, and windows of whole buckets
    # (one object, an equal copy), of part buckets and of none
    rng = random.Random(5)
    zone = timezone(timedelta(hours=2))
    windows = [WINDOW, timedelta(minutes=5), SHORT, timedelta(seconds=95), timedelta(0)]
    asked = []
    for n in range(400):
        moment = at(n * 0.7 + rng.choice([0.0, 0.0, 9.99, -30.0]))
        moment = rng.choice([moment, moment, moment.astimezone(zone), moment.replace(tzinfo=None)])
        asked.append((moment, rng.choice(windows)))
    # WHEN their bounds are asked in turn
    answers = [window_buckets(moment, window) for moment, window in asked]
    # THEN each equals the bounds computed from its own time and window
    fresh = [(bucket_of(m - w), bucket_of(m), (bucket_of(m) - bucket_of(m - w)) // BUCKET) for m, w in asked]
    assert answers == fresh


def test_a_window_of_part_buckets_starts_where_each_time_says() -> None:
    # GIVEN a 95 s window (not whole buckets) and two times in one bucket whose windows start in two
    window = timedelta(seconds=95)
    early, late = at(11), at(19)
    # WHEN their bounds are asked in turn
    answers = [window_buckets(when, window) for when in (early, late, early)]
    # THEN each starts at the bucket holding its own time minus 95 s
    assert [start for start, _last, _span in answers] == [at(-90), at(-80), at(-90)]
    assert [span for _start, _last, span in answers] == [10, 9, 10]


def test_a_zoned_time_across_dst_never_leaves_its_bounds_for_a_utc_time() -> None:
    # GIVEN a New York time in the November DST fold (06:30 UTC; `at - window` there is wall-clock
    # arithmetic, an hour off) and a UTC time in the same bucket, with the same window object
    window = timedelta(minutes=5)
    new_york = datetime(2026, 11, 1, 1, 30, fold=1, tzinfo=ZoneInfo("America/New_York"))
    utc = datetime(2026, 11, 1, 6, 30, 5, tzinfo=UTC)
    view = StateView(InMemoryStateStore(), horizon=timedelta(hours=2), units=frozenset({"u"}))
    view.add("k", "an hour before", datetime(2026, 11, 1, 5, 27, tzinfo=UTC), window)
    # WHEN the zoned time is asked first, then the UTC time
    window_buckets(new_york, window)
    view.count("k", new_york, window)
    bounds = window_buckets(utc, window)
    count = view.count("k", utc, window)
    # THEN the UTC time gets its own bounds (5 minutes back), and the earlier occurrence is outside
    assert bounds[0] == bucket_of(utc - window)
    assert bounds[2] == 30
    assert count == 0
