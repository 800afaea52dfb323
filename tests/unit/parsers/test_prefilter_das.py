"""The Activity Stream pre-filter on edge cases: sibling evidence, odd text, undeclared rules, bad items."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from detections.catalogue import builtin_rules
from detections.correlation import correlation_key
from detections.rule_needs import activity_prefilter_for
from detections.user_rules import parse_rules_document
from parsers.activity_stream import classify_event, parse_activity_stream_record, surely_statement
from parsers.activity_stream_fields import (
    AURORA_MYSQL,
    AURORA_POSTGRESQL,
    ORACLE,
    SQLSERVER,
    engine_of,
)
from parsers.event import STATEMENT_ACTIONS, Action, AuditEvent, ParseFailure
from parsers.prefilter_das import ActivityPrefilter, group_key
from tests import das_events
from tests.das_prefilter_findings import das_findings_of
from tests.unit.parsers.activity_stream_records import load_record

MAIN_SELECT: dict[str, Any] = das_events.aurora_mysql_events()[2] | {
    "commandText": "SELECT * FROM orders",
    "statementId": 700,
}
# Every connection verb the parser knows, in the case the sources write them and in odd case.
SESSION_VERBS = {
    "CONNECT",
    "LOGON",
    "LOGIN SUCCEEDED",
    "DISCONNECT",
    "LOGOFF",
    "LOGOFF BY CLEANUP",
    "LOGOUT",
    "FAILED_CONNECT",
    "AUTH FAILURE",
    "LOGIN FAILED",
    "CHANGEUSER",
    " connect ",
    "Login Failed",
}
AUX_READ: dict[str, Any] = das_events.aurora_mysql_events()[3] | {"command": "READ", "statementId": 700}


def _mysql_main(text: str, statement_id: int, **fields: Any) -> dict[str, Any]:
    """An Aurora MySQL MAIN QUERY event with this statement text and id."""
    return MAIN_SELECT | {"commandText": text, "statementId": statement_id, **fields}


def _postgres(text: str, statement_id: int, substatement_id: int, **fields: Any) -> dict[str, Any]:
    """An Aurora PostgreSQL READ/DDL event of one statement id and substatement id."""
    base = das_events.aurora_postgresql_events()[2]
    return base | {
        "commandText": text,
        "statementId": statement_id,
        "substatementId": substatement_id,
        **fields,
    }


def _same_findings(records: list[dict[str, Any]], **options: Any) -> tuple[Any, Any]:
    """Both runs over one batch; asserts they found the same and returns (full, filtered)."""
    full = das_findings_of(records, prefiltered=False, **options)
    filtered = das_findings_of(records, prefiltered=True, **options)
    assert filtered.findings == full.findings
    return full, filtered


def test_an_aux_drop_in_a_later_record_keeps_its_main_whose_text_names_no_drop() -> None:
    # GIVEN a MAIN event without any keyword (a procedure call) and, in a later record, its AUX DROP
    main = _mysql_main("CALL purge_orders()", 65459278)
    aux = das_events.aurora_mysql_events()[3]
    records = [das_events.mysql_record([main]), das_events.mysql_record([aux])]
    # WHEN detecting with and without the pre-filter
    full, filtered = _same_findings(records)
    # THEN the drop found from the AUX evidence points at the same event, and nothing was dropped
    assert [key[0] for key in full.findings] == ["drop-table"]
    assert filtered.prefiltered == 0


def test_an_aux_drop_in_an_earlier_record_keeps_its_main_too() -> None:
    # GIVEN the AUX DROP first, then (another record) its keyword-less MAIN
    main = _mysql_main("CALL purge_orders()", 65459278)
    aux = das_events.aurora_mysql_events()[3]
    records = [das_events.mysql_record([aux]), das_events.mysql_record([main])]
    # WHEN detecting with and without the pre-filter
    full, filtered = _same_findings(records)
    # THEN the same drop is found and both events were parsed
    assert [key[0] for key in full.findings] == ["drop-table"]
    assert filtered.events == full.events == 2


def test_a_select_and_its_aux_read_are_both_dropped() -> None:
    # GIVEN a plain SELECT and its AUX READ event in two records
    records = [das_events.mysql_record([MAIN_SELECT]), das_events.mysql_record([AUX_READ])]
    # WHEN detecting with and without the pre-filter
    _full, filtered = _same_findings(records)
    # THEN no rule could match: both events were dropped unparsed
    assert (filtered.events, filtered.prefiltered) == (0, 2)


def test_an_aux_whose_command_says_drop_in_lower_case_is_evidence() -> None:
    # GIVEN an AUX "drop" (odd case) of a keyword-less MAIN
    main = _mysql_main("CALL purge_orders()", 65459278)
    aux = das_events.aurora_mysql_events()[3] | {"command": "drop"}
    # WHEN detecting with and without the pre-filter
    full, filtered = _same_findings([das_events.mysql_record([main, aux])])
    # THEN both were kept and the drop found
    assert [key[0] for key in full.findings] == ["drop-table"]
    assert filtered.prefiltered == 0


def test_keywords_in_odd_case_or_split_by_a_backslash_are_kept() -> None:
    # GIVEN DROP TABLE in odd case, DROP hidden by a backslash in dynamic SQL, GRANT in lower case
    events = [
        _mysql_main("dRoP tAbLe orders", 1),
        _mysql_main("EXECUTE IMMEDIATE 'DR\\OP TABLE t_y'", 2),
        _mysql_main("grant all on *.* to 'x'@'%'", 3),
        _mysql_main("SELECT 1", 4),
    ]
    # WHEN detecting with and without the pre-filter
    full, filtered = _same_findings([das_events.mysql_record(events)])
    # THEN the three statements were found both ways and only the SELECT was dropped
    assert sorted(key[0] for key in full.findings) == ["drop-table", "drop-table", "privilege-grant"]
    assert filtered.prefiltered == 1


def test_non_ascii_text_is_never_dropped() -> None:
    # GIVEN statements beyond ASCII: a plain one, and a DROP TABLE of a non-ASCII table name
    events = [_mysql_main("SELECT 'ünïcödé' FROM t", 1), _mysql_main("DROP TABLE tæble", 2)]
    # WHEN detecting with and without the pre-filter
    full, filtered = _same_findings([das_events.mysql_record(events)])
    # THEN both were parsed (case mapping beyond ASCII could make a keyword) and the drop found
    assert [key[0] for key in full.findings] == ["drop-table"]
    assert (filtered.events, filtered.prefiltered) == (2, 0)


def test_a_user_rule_without_declared_needs_turns_the_prefilter_off() -> None:
    # GIVEN the built-in rules plus a user rule matching any event on the orders table
    document = {
        "version": 1,
        "rules": [
            {
                "id": "orders-touched",
                "description": "The orders table was used",
                "severity": "low",
                "channels": ["email"],
                "match": {"object": {"equals": "orders"}},
            }
        ],
    }
    rules = parse_rules_document(document, "rules.yaml").apply(builtin_rules())
    # WHEN building the pre-filter and detecting a plain SELECT with and without it
    prefilter = activity_prefilter_for(rule.needs for rule in rules)
    full, filtered = _same_findings([das_events.mysql_record([MAIN_SELECT])], rules=rules)
    # THEN there is no pre-filter: the SELECT is parsed and the user rule finds it both ways
    assert prefilter is None
    assert [key[0] for key in full.findings] == ["orders-touched"]
    assert filtered.prefiltered == 0


def test_actions_no_rule_reads_are_dropped_and_login_events_kept() -> None:
    # GIVEN a connect, a failed login, a disconnect and a CHANGEUSER
    connect, failed, *_ = das_events.aurora_mysql_events()
    events = [
        connect,
        failed,
        connect | {"command": "DISCONNECT"},
        connect | {"command": "CHANGEUSER"},
    ]
    # WHEN detecting with and without the pre-filter
    full, filtered = _same_findings([das_events.mysql_record(events)])
    # THEN the failed login is found; only the disconnect and the user change were dropped
    assert [key[0] for key in full.findings] == ["failed-login"]
    assert filtered.prefiltered == 2


def test_with_login_rules_only_every_statement_is_dropped() -> None:
    # GIVEN only the failed-login rule enabled and a batch holding a DROP TABLE and a failed login
    rules = [rule for rule in builtin_rules() if rule.id == "failed-login"]
    # WHEN detecting with and without the pre-filter
    full, filtered = _same_findings([das_events.mysql_record()], rules=rules)
    # THEN the failed login is found; the DROP's MAIN and AUX were dropped (login rules read connects)
    assert [key[0] for key in full.findings] == ["failed-login"]
    assert filtered.prefiltered == 2


def test_postgres_substatements_are_decided_one_by_one() -> None:
    # GIVEN a PostgreSQL statement (id 5) whose first substatement drops a table and whose second
    # has no keyword; and a statement (id 6) of two keyword-less substatements
    events = [
        _postgres("DROP TABLE archive", 5, 1, command="DROP TABLE", objectName="public.archive"),
        _postgres("SELECT purge()", 5, 2, command="SELECT", objectName=None, **{"class": "READ"}),
        _postgres("SELECT f()", 6, 1, command="SELECT", objectName=None, **{"class": "READ"}),
        _postgres("SELECT 1", 6, 2, command="SELECT", objectName=None, **{"class": "READ"}),
    ]
    # WHEN detecting with and without the pre-filter
    full, filtered = _same_findings([das_events.postgres_record(events)])
    # THEN the drop is found both ways; each substatement is its own statement (as correlation joins
    # them), so only the DROP TABLE is kept
    assert [key[0] for key in full.findings] == ["drop-table"]
    assert (filtered.events, filtered.prefiltered) == (1, 3)


def test_items_the_parser_rejects_or_skips_are_left_to_it() -> None:
    # GIVEN a record with a non-object item, a bad logTime, a heartbeat and a plain SELECT
    prefilter = ActivityPrefilter(keywords=["drop"], actions=[Action.QUERY, Action.TABLE])
    items: list[object] = ["oops", MAIN_SELECT | {"logTime": "yesterday"}, {"type": "HeartBeat"}, MAIN_SELECT]
    # WHEN screening and parsing it
    screened = prefilter.screen(das_events.mysql_record([]) | {"databaseActivityEventList": items}, "r")
    results = list(prefilter.parse(screened))
    # THEN the two bad items are reported as failures, the heartbeat skipped, the SELECT dropped
    assert [type(r) for r in results] == [ParseFailure, ParseFailure]
    assert [r.location for r in results] == ["r[0]", "r[1]"]
    assert prefilter.dropped == 1


def test_a_record_without_an_event_list_is_one_failure_as_without_the_prefilter() -> None:
    # GIVEN a decrypted record lacking databaseActivityEventList
    record = {"type": "DatabaseActivityMonitoringRecord", "clusterId": "cluster-X"}
    prefilter = ActivityPrefilter(keywords=["drop"], actions=[Action.QUERY])
    # WHEN screening and parsing it
    results = list(prefilter.parse(prefilter.screen(record, "r")))
    # THEN it gives the parser's own failure
    assert results == list(parse_activity_stream_record(record, "r"))
    assert prefilter.dropped == 0


def test_the_group_key_is_the_correlation_key_of_the_parsed_event() -> None:
    # GIVEN every bundled sample and built record, plus events with empty, zero and dotted statement ids
    records = [load_record(path) for path in _sample_names()]
    records += [das_events.mysql_record(), das_events.postgres_record()]
    odd = [
        _mysql_main("SELECT 1", 0),
        _mysql_main("SELECT 1", "") | {"pid": None},
        _postgres("SELECT 1", "7.5", 3),
        _postgres("SELECT 1", 0, 2),
    ]
    records += [das_events.mysql_record(odd[:2]), das_events.postgres_record(odd[2:])]
    checked = 0
    for record in records:
        inner = record.get("databaseActivityEvents", record)
        cluster = str(inner.get("clusterId") or inner.get("instanceId") or "")
        items = inner["databaseActivityEventList"]
        events = [r for r in parse_activity_stream_record(record, "r") if isinstance(r, AuditEvent)]
        # WHEN computing the pre-filter's group key from each raw item
        for item, event in zip(items, events, strict=True):
            key = correlation_key(event)
            # THEN it joins exactly as correlation does (both None for events that stand alone)
            expected = None if key is None else key[1:]
            if key is not None or event.action.name.startswith("QUERY") or event.action is Action.TABLE:
                assert group_key(item, engine_of(item), cluster) == expected
                checked += 1
    assert checked >= 15


def _sample_names() -> list[str]:
    """The bundled decrypted samples (the equivalence test's list)."""
    from tests.unit.detections.test_prefilter_das_equivalence import SAMPLE_NAMES

    return SAMPLE_NAMES


@settings(max_examples=400)
@given(
    command=st.sampled_from(sorted(SESSION_VERBS)) | st.text(max_size=12),
    event_class=st.sampled_from(["MAIN", "AUX", "CONNECT", "MISC", "DDL", "READ", "LOGIN", ""]),
    engine=st.sampled_from([AURORA_MYSQL, AURORA_POSTGRESQL, SQLSERVER, ORACLE, ""]),
    exit_code=st.sampled_from(["0", "", "1045", 0, 1, None]),
)
def test_surely_statement_never_says_statement_for_a_session_event(
    command: str, event_class: str, engine: str, exit_code: object
) -> None:
    # GIVEN any command (session verbs among them), class, engine and exit code
    item = {"command": command, "class": event_class, "exitCode": exit_code, "commandText": "x"}
    # WHEN the pre-filter's shortcut says the event surely carries a statement
    sure = surely_statement(command.strip().upper(), event_class.strip().upper())
    # THEN the parser's classification gives it a statement action
    if sure:
        assert classify_event(item, engine).action in STATEMENT_ACTIONS
