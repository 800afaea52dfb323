"""Correlation: records of one statement become one observation."""

from __future__ import annotations

from detections.correlation import correlate
from detections.observation import TableOperation
from parsers.event import Action, Source
from tests.factories import make_event


def test_mariadb_table_lines_join_their_query_line() -> None:
    # GIVEN TABLE lines (which come first) and the QUERY line of one statement, then another statement
    events = [
        make_event(0, action=Action.TABLE, command="DROP", database="shop", object="orders", query_id="70"),
        make_event(0, action=Action.TABLE, command="DROP", database="shop", object="items", query_id="70"),
        make_event(0, statement="DROP TABLE orders, items", query_id="70"),
        make_event(1, statement="SELECT 1", query_id="71"),
    ]
    # WHEN correlating
    observations = list(correlate(events))
    # THEN the drop is one observation carrying the QUERY line and both tables
    assert [(o.event.statement, o.merged_records) for o in observations] == [
        ("DROP TABLE orders, items", 3),
        ("SELECT 1", 1),
    ]
    assert observations[0].table_operations == (
        TableOperation("DROP", "shop.orders"),
        TableOperation("DROP", "shop.items"),
    )


def test_table_lines_without_a_query_line_still_become_an_observation() -> None:
    # GIVEN only TABLE lines (QUERY events not enabled)
    events = [make_event(0, action=Action.TABLE, command="DROP", database="d", object="t", query_id="9")]
    # WHEN correlating
    (observation,) = correlate(events)
    # THEN the TABLE event stands for the statement
    assert observation.event.action is Action.TABLE
    assert observation.dropped_tables() == ("d.t",)


def test_connections_are_never_merged() -> None:
    # GIVEN two logins of one session (query id 0)
    events = [
        make_event(0, action=Action.CONNECT, query_id="0"),
        make_event(0, action=Action.DISCONNECT, query_id="0"),
    ]
    # WHEN correlating
    # THEN each stays on its own, in order
    assert [o.event.action for o in correlate(events)] == [Action.CONNECT, Action.DISCONNECT]


def test_postgres_log_statement_and_pgaudit_records_of_a_multi_statement_query() -> None:
    # GIVEN log_statement, then the pgaudit records of the two statements of one query string
    text = "DROP TABLE a; DROP TABLE b"
    pg = {"source": Source.POSTGRES, "session_id": "4242"}
    audit = {"action": Action.QUERY_DDL, "command": "DROP TABLE", "statement": text, **pg}
    events = [
        make_event(0, statement=text, **pg),
        make_event(0, object="public.a", query_id="3.1", **audit),
        make_event(0, object="public.b", query_id="4.1", **audit),
    ]
    # WHEN correlating
    observations = list(correlate(events))
    # THEN one observation per statement, each named by its own statement and table
    assert [(o.event.statement, o.dropped_tables()) for o in observations] == [
        ("DROP TABLE a", ("public.a",)),
        ("DROP TABLE b", ("public.b",)),
    ]
    assert sum(o.merged_records for o in observations) == 3


def test_the_same_text_run_again_is_a_new_statement() -> None:
    # GIVEN the same statement executed twice in a session (pgaudit statement ids 3 and 4)
    pg = {"source": Source.POSTGRES, "session_id": "1", "action": Action.QUERY_DDL, "command": "DROP TABLE"}
    events = [
        make_event(0, statement="DROP TABLE IF EXISTS t", query_id="3.1", object="public.t", **pg),
        make_event(1, statement="DROP TABLE IF EXISTS t", query_id="4.1", object="public.t", **pg),
    ]
    # WHEN correlating
    # THEN two observations
    assert len(list(correlate(events))) == 2


def test_a_failed_statement_takes_the_error_of_its_error_record() -> None:
    # GIVEN log_statement then the ERROR+STATEMENT event of the same statement
    pg = {"source": Source.POSTGRES, "session_id": "5"}
    events = [
        make_event(0, statement="DROP TABLE missing", status="", **pg),
        make_event(
            0,
            statement="DROP TABLE missing",
            status="42P01",
            error_message='table "missing" does not exist',
            **pg,
        ),
    ]
    # WHEN correlating
    (observation,) = correlate(events)
    # THEN it is one failed statement
    assert (observation.event.status, observation.event.succeeded) == ("42P01", False)


def test_identical_text_far_apart_in_time_is_not_merged() -> None:
    # GIVEN the same statement a minute apart in one session, without pgaudit ids
    pg = {"source": Source.POSTGRES, "session_id": "5"}
    events = [make_event(0, statement="TRUNCATE t", **pg), make_event(60, statement="TRUNCATE t", **pg)]
    # WHEN correlating
    # THEN two observations
    assert len(list(correlate(events))) == 2


def test_a_das_aux_event_arriving_after_main_joins_it() -> None:
    # GIVEN DAS Aurora MySQL MAIN then AUX with the same pid:statementId
    das = {"source": Source.ACTIVITY_STREAM, "engine": "aurora-mysql", "query_id": "2830:14"}
    events = [
        make_event(0, statement="DROP TABLE t1", **das),
        make_event(0, action=Action.TABLE, command="DROP", object="t1", **das),
    ]
    # WHEN correlating
    (observation,) = correlate(events)
    # THEN one observation, the MAIN statement kept
    assert observation.event.statement == "DROP TABLE t1"
    assert observation.dropped_tables() == ("t1",)


def test_open_groups_close_after_the_horizon() -> None:
    # GIVEN a TABLE line whose QUERY line never comes, followed by many logins
    events = [make_event(0, action=Action.TABLE, command="READ", object="t", query_id="1")]
    events += [make_event(i, action=Action.CONNECT, session_id=str(i)) for i in range(1, 6)]
    # WHEN correlating with a horizon of 3
    observations = list(correlate(events, horizon=3))
    # THEN the group is released in the stream three records later, not held to the end
    assert [o.event.action for o in observations] == [
        Action.CONNECT,
        Action.CONNECT,
        Action.CONNECT,
        Action.TABLE,
        Action.CONNECT,
        Action.CONNECT,
    ]
