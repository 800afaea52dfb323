"""Noise control across invocations, in memory: opening, folding, retries and the delivery ledger."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest

from detections.suppression import (
    FOLD_IDS_KEPT,
    FOLDED,
    Admission,
    InMemoryDeliveryLedger,
    InMemorySuppressionStore,
    SuppressionWindow,
    admit_into,
)
from tests.factories import T0

WINDOW = timedelta(minutes=5)


def at(seconds: float) -> datetime:
    """T0 + seconds."""
    return T0 + timedelta(seconds=seconds)


def send(folded_before: int = 0, since_seconds: float | None = None) -> Admission:
    """The admission of an alert that goes out, reporting what was folded before it."""
    since = None if since_seconds is None else at(since_seconds)
    return Admission(send=True, folded_before=folded_before, folded_since=since)


@dataclass(frozen=True)
class Decision:
    """One admit_into case: the stored window before, the call, and what must come out."""

    current: SuppressionWindow | None
    alert_id: str
    seconds: float
    expected_admission: Admission
    expected_window: SuppressionWindow | None
    matches: int = 1
    fold_id: str = ""


CLOSES = at(300)
OPEN_AT_0 = SuppressionWindow(owner="a1", opened_at=at(0), fold_ids=("a1",), closes_at=CLOSES)
FOLDED_TWICE = SuppressionWindow(
    owner="a1",
    opened_at=at(0),
    folded=4,
    folded_since=at(30),
    fold_ids=("a1", "f1", "f2"),
    closes_at=CLOSES,
    folded_until=at(40),
)

DECISIONS = {
    "nothing stored: open and send": Decision(
        None,
        "a1",
        0,
        send(),
        SuppressionWindow(owner="a1", opened_at=at(0), fold_ids=("a1",), closes_at=CLOSES),
        fold_id="a1",
    ),
    "inside the window: fold the matches": Decision(
        OPEN_AT_0,
        "a2",
        60,
        FOLDED,
        SuppressionWindow(
            owner="a1",
            opened_at=at(0),
            folded=3,
            folded_since=at(60),
            fold_ids=("a1", "f9"),
            closes_at=CLOSES,
            folded_until=at(60),
        ),
        matches=3,
        fold_id="f9",
    ),
    "an earlier match folds and moves folded_since back": Decision(
        FOLDED_TWICE,
        "a3",
        10,
        FOLDED,
        SuppressionWindow(
            owner="a1",
            opened_at=at(0),
            folded=5,
            folded_since=at(10),
            fold_ids=("a1", "f1", "f2", "f3"),
            closes_at=CLOSES,
            folded_until=at(40),
        ),
        fold_id="f3",
    ),
    "a fold id seen before changes nothing": Decision(FOLDED_TWICE, "a2", 60, FOLDED, None, fold_id="f2"),
    "the owner again (a retry): send with what it reported": Decision(
        SuppressionWindow(
            owner="a1",
            opened_at=at(0),
            folded=2,
            reported_folded=7,
            reported_since=at(-600),
            fold_ids=("a1",),
        ),
        "a1",
        0,
        send(7, -600),
        None,
        fold_id="a1",
    ),
    "one microsecond before the window ends: fold": Decision(
        OPEN_AT_0,
        "a2",
        300 - 1e-6,
        FOLDED,
        SuppressionWindow(
            owner="a1",
            opened_at=at(0),
            folded=1,
            folded_since=at(300 - 1e-6),
            fold_ids=("a1", "a2"),
            closes_at=CLOSES,
            folded_until=at(300 - 1e-6),
        ),
        fold_id="a2",
    ),
    "at the window's end: open a new one reporting the folds": Decision(
        FOLDED_TWICE,
        "b1",
        300,
        send(4, 30),
        SuppressionWindow(
            owner="b1",
            opened_at=at(300),
            reported_folded=4,
            reported_since=at(30),
            fold_ids=("a1", "f1", "f2", "b1"),
            closes_at=at(600),
        ),
        fold_id="b1",
    ),
    "at the window's end after a digest took the folds: open a new one reporting none": Decision(
        dataclasses.replace(FOLDED_TWICE, digested=4),
        "b1",
        300,
        send(),
        SuppressionWindow(
            owner="b1", opened_at=at(300), fold_ids=("a1", "f1", "f2", "b1"), closes_at=at(600)
        ),
        fold_id="b1",
    ),
}


@pytest.mark.parametrize("case", DECISIONS.values(), ids=DECISIONS.keys())
def test_admit_into_decides_open_retry_or_fold(case: Decision) -> None:
    # GIVEN the stored window of a group key
    # WHEN an alert is admitted
    window, admission = admit_into(
        case.current,
        alert_id=case.alert_id,
        at=at(case.seconds),
        window=WINDOW,
        matches=case.matches,
        fold_id=case.fold_id,
    )
    # THEN the admission and the window to store are exactly as expected
    assert admission == case.expected_admission
    assert window == case.expected_window


def test_a_burst_of_25_sends_once_then_reports_24_folded_in_the_next_alert() -> None:
    # GIVEN an alert that opened a window, and 24 more matches of the same key inside it
    store = InMemorySuppressionStore()
    first = store.admit("brute-force|prod|app", "a0", at(0), WINDOW, 1, "a0")
    folds = [
        store.admit("brute-force|prod|app", f"a{i}", at(i * 10), WINDOW, 1, f"a{i}") for i in range(1, 25)
    ]
    # WHEN the key matches again after the window
    after = store.admit("brute-force|prod|app", "b0", at(300), WINDOW, 1, "b0")
    # THEN the first went out, the 24 folded, and the next alert reports them from the first folded time
    assert first == send()
    assert folds == [FOLDED] * 24
    assert after == send(24, 10)


def test_two_stores_sharing_their_windows_behave_as_two_containers() -> None:
    # GIVEN two "containers" over the same windows
    windows: dict[str, SuppressionWindow] = {}
    container_a = InMemorySuppressionStore(windows)
    container_b = InMemorySuppressionStore(windows)
    # WHEN each admits a different alert of one key within the window
    first = container_a.admit("k", "a1", at(0), WINDOW, 1, "a1")
    second = container_b.admit("k", "a2", at(5), WINDOW, 2, "a2")
    # THEN only the first goes out; the second's matches wait in the window
    assert (first, second) == (send(), FOLDED)
    assert windows["k"].folded == 2


def test_different_group_keys_have_separate_windows() -> None:
    # GIVEN a window open for one key
    store = InMemorySuppressionStore()
    store.admit("k1", "a1", at(0), WINDOW, 1, "a1")
    # WHEN another key matches inside that window
    # THEN it goes out on its own
    assert store.admit("k2", "a2", at(1), WINDOW, 1, "a2") == send()


def test_only_the_newest_fold_ids_are_remembered() -> None:
    # GIVEN more folds than the store remembers
    store = InMemorySuppressionStore()
    store.admit("k", "a0", at(0), WINDOW, 1, "a0")
    for i in range(1, FOLD_IDS_KEPT + 2):
        store.admit("k", f"a{i}", at(1), WINDOW, 1, f"f{i}")
    # WHEN the oldest and the newest fold are retried
    store.admit("k", "a1", at(1), WINDOW, 1, "f1")
    store.admit("k", f"a{FOLD_IDS_KEPT + 1}", at(1), WINDOW, 1, f"f{FOLD_IDS_KEPT + 1}")
    # THEN the forgotten one counts again, the remembered one does not, and the list stays bounded
    assert store.windows["k"].folded == FOLD_IDS_KEPT + 2
    assert len(store.windows["k"].fold_ids) == FOLD_IDS_KEPT


def test_the_ledger_remembers_channels_and_keeps_the_first_time() -> None:
    # GIVEN an alert delivered by email, then marked again later, and by Slack
    ledger = InMemoryDeliveryLedger()
    assert ledger.delivered_channels("alert-1") == frozenset()
    ledger.mark_delivered("alert-1", "email", at(0))
    ledger.mark_delivered("alert-1", "email", at(60))
    ledger.mark_delivered("alert-1", "slack", at(5))
    # WHEN asking what was delivered
    # THEN both channels show, the first email time is kept, and other alerts are untouched
    assert ledger.delivered_channels("alert-1") == frozenset({"email", "slack"})
    assert ledger.deliveries["alert-1"]["email"] == at(0)
    assert ledger.delivered_channels("alert-2") == frozenset()


def test_a_closed_window_hands_its_folds_to_one_digest_and_the_next_alert_reports_none() -> None:
    # GIVEN a window opened at 0 s with 5 matches folded at 20-31 s
    store = InMemorySuppressionStore()
    store.admit("k", "a0", at(0), WINDOW, 20, "a0")
    store.admit("k", "a1", at(20), WINDOW, 5, "a1", last=at(31))
    # WHEN the digest runs before the window closed, after it, and again
    early = store.due_digests(at(299))
    (digest,) = store.due_digests(at(301))
    again = store.due_digests(at(302))
    store.finish_digest(digest)
    after = store.due_digests(at(303))
    nxt = store.admit("k", "b0", at(400), WINDOW, 1, "b0")
    # THEN nothing is due early; one digest of 5 spans 20-31 s and is handed out again until finished;
    assert early == []
    assert (digest.count, digest.since, digest.until) == (5, at(20), at(31))
    assert again == [digest]
    assert after == []
    # AND the next alert does not report the 5 again
    assert nxt == send()


def test_late_folds_after_a_digest_get_their_own_digest() -> None:
    # GIVEN a digest of 2 folds already delivered
    store = InMemorySuppressionStore()
    store.admit("k", "a0", at(0), WINDOW, 1, "a0")
    store.admit("k", "a1", at(10), WINDOW, 2, "a1")
    (first,) = store.due_digests(at(300))
    store.finish_digest(first)
    # WHEN a late batch folds 3 more into the closed window (its events are inside it)
    store.admit("k", "a2", at(200), WINDOW, 3, "a2")
    (second,) = store.due_digests(at(400))
    # THEN the second digest has its own id and reports only the 3
    assert second.count == 3
    assert second.digest_id != first.digest_id


def test_a_new_window_reports_the_folds_no_digest_took_and_keeps_a_digest_in_flight() -> None:
    # GIVEN a digest in flight for 2 folds, and 3 more folded after it was handed out
    store = InMemorySuppressionStore()
    store.admit("k", "a0", at(0), WINDOW, 1, "a0")
    store.admit("k", "a1", at(10), WINDOW, 2, "a1")
    (pending,) = store.due_digests(at(300))
    store.admit("k", "a2", at(250), WINDOW, 3, "a2")
    # WHEN the next alert opens a new window
    admission = store.admit("k", "b0", at(310), WINDOW, 1, "b0")
    # THEN it reports the 3, and the digest of 2 is still handed out until finished
    assert admission == send(3, 250)
    assert store.due_digests(at(320)) == [pending]
