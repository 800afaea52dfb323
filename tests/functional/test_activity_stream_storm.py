"""Failed logins over Database Activity Streams share the bucketed rule windows: each Kinesis record
is a unit, so a re-delivered record adds nothing, and a retried batch counts as its first attempt."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from detections.state import StateView
from handlers.runtime import get_runtime
from tests import das_fixtures as das
from tests.das_events import aurora_postgresql_events
from tests.functional.das_env import (  # noqa: F401 - fixtures are used by name
    DasWorld,
    das_slack_server_fixture,
    das_world_fixture,
    summaries_fixture,
)

PG = das.POSTGRES_CLUSTER_ID
KEY = f"login-failures|{PG}|admin|10.0.0.9"
WINDOW = timedelta(minutes=5)
START = datetime(2024, 5, 1, 10, 0, 0, tzinfo=UTC)


def failures_record(world: DasWorld, index: int, count: int = 10) -> dict[str, object]:
    """Kinesis record `index` holding `count` failed logins for admin from 10.0.0.9 (one a second)."""
    failure = aurora_postgresql_events()[1]
    events = []
    for n in range(count):
        second = index * count + n
        at = f"{START + timedelta(seconds=second):%Y-%m-%d %H:%M:%S}.000000+00"
        events.append({**failure, "logTime": at, "startTime": at, "pid": 20_000 + second})
    data = world.record_data(das.postgres_record(events), PG)
    return das.kinesis_record(data, resource_id=PG, index=index)


def stored_failures() -> int:
    """What the rule window holds for admin from 10.0.0.9, read as a new batch would."""
    view = StateView(get_runtime().state_store, horizon=WINDOW, units=frozenset({"probe"}))
    return view.count(KEY, START + timedelta(seconds=59), WINDOW)


def test_a_retried_activity_batch_counts_its_records_once(das_world: DasWorld) -> None:
    # GIVEN three records of 10 failures each, handled once
    das_world.install_runtime()
    records = [failures_record(das_world, index) for index in range(3)]
    assert das_world.invoke(records) == []
    first_subjects = sorted(e.subject for e in das_world.emails())
    # WHEN Lambda delivers the last two again together with a new fourth record
    assert das_world.invoke([*records[1:], failures_record(das_world, 3)]) == []
    # THEN the first batch's e-mails said 30 failures, and the window holds 40, not 60
    assert first_subjects[0].startswith("[HIGH] Brute force: 30 failed logins for admin from 10.0.0.9 on ")
    assert first_subjects[1].endswith("(28P01) ×30")
    assert stored_failures() == 40
