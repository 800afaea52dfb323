"""The correlation fast paths (stand-alone records, expiry, remembered identities) equal the general path."""

from __future__ import annotations

import random
from collections.abc import Sequence

from detections.correlation import _Correlator, correlate, distinct_log_events
from detections.observation import Observation, TableOperation
from parsers.event import Action, AuditEvent, Source
from tests.factories import make_event

Shape = tuple[AuditEvent, tuple[TableOperation, ...], int]


def _shapes(observations: Sequence[Observation]) -> list[Shape]:
    """What an observation is made of (observations compare by identity)."""
    return [(o.event, o.table_operations, o.merged_records) for o in observations]


def _through_add(events: Sequence[AuditEvent], horizon: int) -> list[Observation]:
    """The general path: every record goes through `_Correlator.add` (not `add_text_mysql`), expiry
    checked on every record, everything still open closed key by key.
    """
    correlator = _Correlator(horizon)
    observed: list[Observation] = []
    for position, event in enumerate(events):
        if correlator.is_new(position, event):
            observed.extend(correlator.add(position, event))
        observed.extend(correlator.expire(position))
    for key in list(correlator.open):
        observed.extend(correlator._close(key))
    return observed


def _pool() -> list[AuditEvent]:
    """Records of every kind the fast paths see or must leave alone, each with its own CloudWatch id."""
    aurora = {"source": Source.AURORA_MYSQL, "log_group": "/aws/rds/cluster/c/audit", "log_stream": "i-1"}
    das = {"source": Source.ACTIVITY_STREAM, "engine": "aurora-mysql", "location": "shard#1"}
    maria = {"source": Source.MYSQL_AUDIT, "cluster": "", "server_host": "db1"}
    pg = {"source": Source.POSTGRES, "log_group": "/aws/rds/instance/p/postgresql", "log_stream": "p"}
    records = [
        make_event(0, action=Action.CONNECT, session_id="1", query_id="0", **aurora),
        make_event(0, action=Action.FAILED_CONNECT, user="bob", status="1045", query_id="0", **aurora),
        make_event(0, action=Action.DISCONNECT, session_id="2", query_id="0", **aurora),
        make_event(
            1, action=Action.TABLE, command="DROP", database="shop", object="t", query_id="9", **aurora
        ),
        make_event(1, action=Action.QUERY, statement="DROP TABLE t", query_id="9", **aurora),
        make_event(1, action=Action.QUERY, statement="DROP TABLE ü", query_id="9", status="1051", **aurora),
        make_event(
            1, action=Action.TABLE, command="CREATE", database="", object="shop.u", query_id="9", **aurora
        ),
        make_event(2, action=Action.TABLE, command="DROP", object="v", query_id="0", **aurora),
        make_event(2, action=Action.QUERY, statement="SET x=1", query_id="0", **aurora),
        make_event(3, action=Action.QUERY, statement="GRANT ALL ON *.* TO a", query_id="4", session_id="3"),
        # server_audit text: a TABLE line repeated, a truncated and a failed statement of one query id
        make_event(6, action=Action.TABLE, command="DROP", database="db", object="t", query_id="5", **maria),
        make_event(6, action=Action.TABLE, command="DROP", database="db", object="t", query_id="5", **maria),
        make_event(6, action=Action.TABLE, command="READ", database="", object="", query_id="5", **maria),
        make_event(
            6, action=Action.QUERY, statement="DROP TABLE t", statement_truncated=True, query_id="5", **maria
        ),
        make_event(6, action=Action.QUERY_DDL, statement="DROP TABLE ü", query_id="5", status="1", **maria),
        make_event(6, action=Action.QUERY, statement="", query_id="5", session_id="8", **maria),
        make_event(6, action=Action.TABLE, command="DROP", object="w", query_id="5", session_id="8", **maria),
        make_event(3, action=Action.CONNECT, query_id="", raw=""),
        make_event(4, action=Action.CONNECT, query_id="2830:0", **das),
        make_event(4, action=Action.QUERY, statement="DROP TABLE t1", query_id="2830:14", **das),
        make_event(4, action=Action.TABLE, command="DROP", object="t1", query_id="2830:14", **das),
        make_event(5, action=Action.CONNECT, session_id="77", **pg),
        make_event(5, action=Action.CONNECT, session_id="", **pg),
        make_event(5, action=Action.QUERY, statement="TRUNCATE t", session_id="77", **pg),
        make_event(
            5,
            action=Action.QUERY_DDL,
            statement="TRUNCATE t",
            query_id="1.1",
            command="TRUNCATE TABLE",
            session_id="77",
            **pg,
        ),
    ]
    return [
        make_event(0, **{**_fields(record), "event_id": str(n), "raw": f"line {n}"})
        for n, record in enumerate(records)
    ]


def _fields(event: AuditEvent) -> dict[str, object]:
    """The fields of an event by name."""
    return {name: getattr(event, name) for name in AuditEvent.__dataclass_fields__}


def test_a_mixed_stream_correlates_as_through_the_general_path() -> None:
    # GIVEN random streams over every kind of record, with records delivered again near and far
    pool = _pool()
    for seed in range(200):
        chooser = random.Random(seed)
        events = [chooser.choice(pool) for _ in range(chooser.randint(1, 40))]
        horizon = chooser.randint(1, 6)
        # WHEN correlating with the fast paths and through `add` alone
        # THEN the same observations, in the same order
        assert _shapes(list(correlate(events, horizon=horizon))) == _shapes(_through_add(events, horizon)), (
            seed
        )


def _one_stream(pool: Sequence[AuditEvent]) -> list[AuditEvent]:
    """The pool's records as log events of one CloudWatch stream (no DAS), each with its own id."""
    stream = {"log_group": "/aws/rds/cluster/c/audit", "log_stream": "i-1"}
    return [
        make_event(0, **{**_fields(record), **stream, "event_id": f"id{n}"})
        for n, record in enumerate(pool)
        if record.source is not Source.ACTIVITY_STREAM
    ]


def test_a_payload_of_distinct_log_events_correlates_as_through_the_general_path() -> None:
    # GIVEN random orders of distinct log events of one stream (the usual CloudWatch payload)
    pool = _one_stream(_pool())
    for seed in range(200):
        chooser = random.Random(seed)
        events = chooser.sample(pool, chooser.randint(1, len(pool)))
        horizon = chooser.randint(1, 6)
        # WHEN correlating: the batch is known to hold no redelivery, so no record's identity is checked
        assert distinct_log_events(events)
        # THEN the same observations, in the same order, as record by record
        assert _shapes(list(correlate(events, horizon=horizon))) == _shapes(_through_add(events, horizon)), (
            seed
        )


def test_only_distinct_events_of_one_stream_skip_the_redelivery_check() -> None:
    # GIVEN log events of one stream with distinct ids
    events = _one_stream(_pool())[:6]

    def changed(index: int, **fields: object) -> list[AuditEvent]:
        """The events with one of them changed."""
        copy = list(events)
        copy[index] = make_event(0, **{**_fields(events[index]), **fields})
        return copy

    # WHEN asking whether any could be a redelivery
    # THEN only the plain payload is known to hold none
    assert distinct_log_events(events)
    assert distinct_log_events([])
    assert not distinct_log_events([*events, events[2]])  # delivered twice
    assert not distinct_log_events(changed(3, event_id=events[1].event_id, raw="other text"))
    assert not distinct_log_events(changed(3, event_id=""))  # a file line: identified by its location
    assert not distinct_log_events(changed(3, log_stream="i-2"))
    assert not distinct_log_events(changed(3, log_group="/aws/rds/cluster/d/audit"))
    assert not distinct_log_events(changed(3, source=Source.ACTIVITY_STREAM))


def test_connection_records_stand_alone_and_a_repeat_within_the_horizon_is_dropped() -> None:
    # GIVEN a failed login, a disconnect, then the failed login delivered again, then once more far later
    pool = _pool()
    failed, disconnect = pool[1], pool[2]
    events = [failed, disconnect, failed, pool[3], pool[4], disconnect, failed]
    # WHEN correlating with a horizon of 3
    observed = [o.event.action for o in correlate(events, horizon=3)]
    # THEN the repeat two records later is dropped; the ones three or more records later count again
    # (the DROP execution, opened at the fourth record, closes after the last login)
    assert observed == [
        Action.FAILED_CONNECT,
        Action.DISCONNECT,
        Action.DISCONNECT,
        Action.FAILED_CONNECT,
        Action.QUERY,
    ]


def test_a_reused_query_id_closes_the_first_execution_and_the_second_expires_on_its_own() -> None:
    # GIVEN TABLE then QUERY of query id 9, a second QUERY reusing 9, then logins
    pool = _pool()
    events = [pool[3], pool[4], pool[5], pool[0], pool[2], pool[1]]
    # WHEN correlating with a horizon of 2
    observed = _shapes(list(correlate(events, horizon=2)))
    # THEN the first execution closes when the id is reused (its TABLE line merged), the second
    # two records after it opened, after that record's own observation
    drop = TableOperation("DROP", "shop.t")
    assert observed == [
        (pool[4], (drop,), 2),
        (pool[0], (), 1),
        (pool[2], (), 1),
        (pool[5], (), 1),
        (pool[1], (), 1),
    ]


def test_remembered_identities_are_trimmed_without_changing_which_repeats_are_dropped() -> None:
    # GIVEN long streams of logins drawn from 60 records, so the remembered identities are trimmed
    logins = [
        make_event(0, action=Action.FAILED_CONNECT, event_id=str(n), log_group="g", raw=str(n))
        for n in range(60)
    ]
    for seed in range(50):
        chooser = random.Random(seed)
        events = [chooser.choice(logins) for _ in range(300)]
        horizon = chooser.randint(1, 5)
        # WHEN correlating
        observed = [o.event for o in correlate(events, horizon=horizon)]
        # THEN exactly the records not used within the horizon before are used
        last_used: dict[str, int] = {}
        expected = []
        for position, event in enumerate(events):
            if position - last_used.get(event.event_id, -horizon) >= horizon:
                last_used[event.event_id] = position
                expected.append(event)
        assert observed == expected, seed


def test_a_table_named_by_several_lines_of_one_execution_is_listed_once_in_first_seen_order() -> None:
    # GIVEN the TABLE lines of one query id naming shop.t twice around shop.u, then its QUERY line
    line = {"source": Source.MYSQL_AUDIT, "server_host": "db1", "session_id": "7", "query_id": "5"}
    tables = [("DROP", "t"), ("CREATE", "u"), ("DROP", "t"), ("drop", "t")]
    events = [
        make_event(0, action=Action.TABLE, command=command, database="shop", object=name, **line)
        for command, name in tables
    ]
    events.append(make_event(0, action=Action.QUERY, statement="DROP TABLE t", **line))
    # WHEN correlating
    (observation,) = correlate(events)
    # THEN each (command, table) once, in the order first seen, and every record counted as merged
    assert observation.table_operations == (
        TableOperation("DROP", "shop.t"),
        TableOperation("CREATE", "shop.u"),
        TableOperation("drop", "shop.t"),
    )
    assert observation.merged_records == 5
    assert observation.event.statement == "DROP TABLE t"
