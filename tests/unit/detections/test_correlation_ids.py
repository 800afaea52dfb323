"""Correlation by the records' own ids (MariaDB, DAS), records delivered twice, and bounded memory."""

from __future__ import annotations

from detections.correlation import correlate
from parsers.event import Action, AuditEvent, Source
from parsers.postgres import parse_postgres
from parsers.records import RawRecord
from tests.factories import make_event
from tests.unit.detections.correlation_logs import findings, mariadb_events, pg_audit, pg_statement

DROP_TWICE = (
    "20261123 13:07:05,vm,dropper,127.0.0.1,36,40,QUERY,,'drop database if exists scratchdb',0",
    "20261123 13:07:05,vm,dropper,127.0.0.1,36,41,QUERY,,'DROP SCHEMA scratch2',0",
    "20261123 13:07:05,vm,dropper,127.0.0.1,36,42,QUERY,,'DROP DATABASE shop',0",
    "20261123 13:07:06,vm,dropper,127.0.0.1,36,43,QUERY,,'DROP DATABASE shop',1008",
)


def test_mariadb_drop_twice_is_a_drop_and_an_attempt() -> None:
    # GIVEN server_audit lines: three drops that succeed, then DROP DATABASE shop failing (1008)
    events = mariadb_events(DROP_TWICE)
    # WHEN running the rules
    # THEN every drop is its own finding, the second shop drop an attempt
    assert [title for _, title in findings(events, "drop-database")] == [
        "DROP DATABASE scratchdb by dropper on vm",
        "DROP SCHEMA scratch2 by dropper on vm",
        "DROP DATABASE shop by dropper on vm",
        "Attempted DROP DATABASE shop (failed: 1008) by dropper on vm",
    ]


def test_a_table_line_without_a_query_id_stands_alone_with_its_table() -> None:
    # GIVEN TABLE lines whose query id is 0 (no statement to join) in one connection
    events = [
        make_event(0, action=Action.TABLE, command="DROP", database="d", object="t1", query_id="0"),
        make_event(0, action=Action.TABLE, command="DROP", database="d", object="t2", query_id="0"),
    ]
    # WHEN correlating
    observed = list(correlate(events))
    # THEN never merged (0 proves nothing), each still names its dropped table
    assert [o.dropped_tables() for o in observed] == [("d.t1",), ("d.t2",)]


def test_das_aurora_mysql_statements_with_the_same_text_keep_their_own_ids() -> None:
    # GIVEN two DAS MAIN events of DROP DATABASE shop: statementId 14 succeeds, 15 fails
    das = {"source": Source.ACTIVITY_STREAM, "engine": "aurora-mysql", "user": "dropper"}
    events = [
        make_event(0, statement="DROP DATABASE shop", query_id="2830:14", status="0", **das),
        make_event(1, statement="DROP DATABASE shop", query_id="2830:15", status="1008", **das),
    ]
    # WHEN running the rules
    # THEN a drop and an attempt
    assert [title for _, title in findings(events, "drop-database")] == [
        "DROP DATABASE shop by dropper on prod",
        "Attempted DROP DATABASE shop (failed: 1008) by dropper on prod",
    ]


def _das_postgres(seconds: float, statement_id: str, command: str, text: str, **fields: object) -> AuditEvent:
    """A DAS Aurora PostgreSQL record as the activity-stream parser builds it."""
    return make_event(
        seconds,
        source=Source.ACTIVITY_STREAM,
        engine="aurora-postgresql",
        session_id="5ce5f7f0.474b",
        user="dropper",
        action=Action.QUERY_DDL,
        query_id=f"{statement_id}.1",
        command=command,
        statement=text,
        **fields,
    )


def test_das_postgres_drop_twice_is_a_drop_and_an_attempt() -> None:
    # GIVEN DAS records (one per execution, status in the record): success then failure
    events = [
        _das_postgres(0, "3", "DROP DATABASE", "DROP DATABASE shop", status="0"),
        _das_postgres(1, "4", "DROP DATABASE", "DROP DATABASE shop", status="3D000"),
    ]
    # WHEN running the rules
    # THEN a drop and an attempt
    assert [title for _, title in findings(events, "drop-database")] == [
        "DROP DATABASE shop by dropper on prod",
        "Attempted DROP DATABASE shop (failed: 3D000) by dropper on prod",
    ]


def test_das_postgres_multi_statement_records_are_named_by_their_command() -> None:
    # GIVEN the three DAS records of one multi-statement query string
    text = "CREATE TABLE ms_t (id int); INSERT INTO ms_t VALUES (1); DROP TABLE ms_t"
    events = [
        _das_postgres(0, "5", "CREATE TABLE", text, object="ms_t"),
        _das_postgres(0, "6", "INSERT", text, object="ms_t"),
        _das_postgres(0, "7", "DROP TABLE", text, object="ms_t"),
    ]
    # WHEN correlating and running the rules
    # THEN each is its own statement and one drop-table finding comes out
    assert [o.event.statement for o in correlate(events)] == [
        "CREATE TABLE ms_t (id int)",
        "INSERT INTO ms_t VALUES (1)",
        "DROP TABLE ms_t",
    ]
    assert [title for _, title in findings(events, "drop-table")] == ["DROP TABLE ms_t by dropper on prod"]


def test_a_cloudwatch_event_delivered_twice_is_one_finding() -> None:
    # GIVEN log_statement + pgaudit for one DROP DATABASE, each CloudWatch event delivered twice
    lines = [
        (pg_statement("DROP DATABASE shop"), "e1"),
        (pg_audit(9, "DDL", "DROP DATABASE", "DROP DATABASE shop"), "e2"),
    ]
    records = [RawRecord(text, f"group/stream#{eid}", eid) for text, eid in lines]
    events = [e for e in parse_postgres(records + records) if isinstance(e, AuditEvent)]
    # WHEN running the rules
    # THEN one finding
    assert [title for _, title in findings(events, "drop-database")] == ["DROP DATABASE shop by admin_user"]


def test_a_file_line_read_twice_is_one_observation() -> None:
    # GIVEN the same server_audit line (same file position) twice, then the next line
    events = mariadb_events(DROP_TWICE[:2])
    # WHEN correlating the first one twice
    observed = list(correlate([events[0], events[0], events[1]]))
    # THEN it counts once
    assert [(o.event.statement, o.merged_records) for o in observed] == [
        ("drop database if exists scratchdb", 1),
        ("DROP SCHEMA scratch2", 1),
    ]


def test_a_postgres_execution_is_released_after_the_horizon() -> None:
    # GIVEN a logged statement whose backend writes nothing more, then logins of other backends
    pg = {"source": Source.POSTGRES}
    events = [make_event(0, statement="DROP DATABASE shop", session_id="1", **pg)]
    events += [make_event(i, action=Action.CONNECT, session_id=str(i + 1), **pg) for i in range(1, 6)]
    # WHEN correlating with a horizon of 3
    observed = [o.event.action for o in correlate(events, horizon=3)]
    # THEN it comes out three records later, not at the end
    assert observed == [
        Action.CONNECT,
        Action.CONNECT,
        Action.CONNECT,
        Action.QUERY,
        Action.CONNECT,
        Action.CONNECT,
    ]


def test_das_events_sharing_an_event_id_but_not_a_record_position_are_kept() -> None:
    # GIVEN two SQL Server DAS events without pid or statementId, at the same logTime (same event id)
    das = {"source": Source.ACTIVITY_STREAM, "engine": "sqlserver", "event_id": "db-1::::2024-05-01 10:00:00"}
    events = [
        make_event(0, statement="DROP TABLE a", location="db-1/shard#1[0]", **das),
        make_event(0, statement="DROP TABLE b", location="db-1/shard#1[1]", **das),
        make_event(0, statement="DROP TABLE b", location="db-1/shard#1[1]", **das),  # the record redelivered
    ]
    # WHEN correlating
    # THEN both events count, the redelivered one once
    assert [o.event.statement for o in correlate(events)] == ["DROP TABLE a", "DROP TABLE b"]


def test_postgres_records_without_a_pid_stand_alone() -> None:
    # GIVEN a log whose line prefix has no %p: a pgaudit record of a multi-statement string, an ERROR
    text = "CREATE TABLE ms_t (id int); DROP TABLE ms_t"
    pg = {"source": Source.POSTGRES, "session_id": ""}
    events = [
        make_event(0, action=Action.QUERY_DDL, command="DROP TABLE", query_id="4.1", statement=text, **pg),
        make_event(0, statement="DROP DATABASE shop", status="3D000", **pg),
    ]
    # WHEN correlating
    # THEN each is its own observation, the pgaudit one still named by its COMMAND
    assert [(o.event.statement, o.event.succeeded) for o in correlate(events)] == [
        ("DROP TABLE ms_t", True),
        ("DROP DATABASE shop", False),
    ]


def test_entries_of_one_delivered_message_are_not_taken_for_a_redelivery() -> None:
    # GIVEN one CloudWatch message holding a statement line and its pgaudit record (one event id)
    message = "\n".join(
        [pg_statement("DROP DATABASE shop"), pg_audit(9, "DDL", "DROP DATABASE", "DROP DATABASE shop")]
    )
    events = [
        e for e in parse_postgres([RawRecord(message, "group/stream#e1", "e1")]) if isinstance(e, AuditEvent)
    ]
    # WHEN correlating
    (observation,) = correlate(events)
    # THEN both records are used: one execution of two records
    assert observation.merged_records == 2


def test_a_record_delivered_twice_within_the_horizon_counts_once_and_beyond_it_again() -> None:
    # GIVEN a failed login delivered twice two records apart, and again eight records later
    def login(n: int, event_id: str) -> AuditEvent:
        """A failed login with its CloudWatch event id."""
        return make_event(n, action=Action.FAILED_CONNECT, event_id=event_id, log_group="g", log_stream="s")

    events = [login(0, "a"), login(1, "b"), login(0, "a"), *(login(2 + n, f"x{n}") for n in range(8))]
    events.append(login(0, "a"))
    # WHEN correlating with a horizon of 3 (identities are trimmed in bulk, now and then)
    observed = [o.event.event_id for o in correlate(events, horizon=3)]
    # THEN the repeat within the horizon is dropped, the one far beyond it is seen again
    assert observed == ["a", "b", *(f"x{n}" for n in range(8)), "a"]


def test_a_drop_in_the_second_substatement_of_an_activity_stream_query_is_found() -> None:
    # GIVEN an Aurora PostgreSQL activity record for `SELECT 1; DROP TABLE orders`: one event per
    # substatement, each with the whole query text and its own COMMAND (as pgaudit writes them)
    from detections.catalogue import builtin_rules
    from detections.engine import DetectionEngine
    from detections.state import InMemoryStateStore
    from parsers.activity_stream import parse_activity_stream_record
    from tests import das_events

    base = das_events.aurora_postgresql_events()[2]
    query = "SELECT 1; DROP TABLE orders"
    items = [
        base
        | {
            "statementId": 7,
            "substatementId": 1,
            "command": "SELECT",
            "class": "READ",
            "commandText": query,
            "objectName": None,
            "exitCode": None,
        },
        base
        | {
            "statementId": 7,
            "substatementId": 2,
            "command": "DROP TABLE",
            "class": "DDL",
            "commandText": query,
            "objectName": "public.orders",
            "exitCode": None,
        },
    ]
    events = [
        e
        for e in parse_activity_stream_record(das_events.postgres_record(items), "r")
        if isinstance(e, AuditEvent)
    ]
    # WHEN correlating and running the rules
    engine = DetectionEngine(builtin_rules(), InMemoryStateStore())
    found = [(f.rule_id, f.event.statement) for f in engine.detect(events)]
    # THEN each substatement is its own observation, and the DROP TABLE is reported
    assert len(list(correlate(events))) == 2
    assert found == [("drop-table", "DROP TABLE orders")]
