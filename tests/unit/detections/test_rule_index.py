"""The rule index calls only rules that can match; whatever it skips would have returned no match."""

from __future__ import annotations

from datetime import UTC, datetime

from detections.catalogue import builtin_rules
from detections.observation import Observation, TableOperation
from detections.rule_index import RuleIndex
from parsers.event import Action, AuditEvent, Source


def _event(action: Action, statement: str | None = None) -> AuditEvent:
    """A MariaDB event of `action` carrying `statement`."""
    return AuditEvent(
        source=Source.MYSQL_AUDIT,
        time=datetime(2026, 11, 23, 13, 7, tzinfo=UTC),
        action=action,
        user="app",
        statement=statement,
    )


def _ids(observation: Observation) -> set[str]:
    """Ids of the built-in rules the index would call."""
    return {rule.id for rule in RuleIndex(builtin_rules()).rules_for(observation)}


def test_login_rules_see_logins_and_statement_rules_statements() -> None:
    # GIVEN a failed login and a DROP TABLE statement
    login = Observation(_event(Action.FAILED_CONNECT))
    drop = Observation(_event(Action.QUERY, "drop table t"))
    # WHEN asking the index which rules to call
    # THEN a login reaches only the login rules, the statement only the rules whose keywords it has
    assert _ids(login) == {"brute-force", "failed-login", "login-after-failures", "password-spray"}
    assert _ids(drop) == {"audit-disabled", "drop-database", "drop-table"}  # DROP EXTENSION pgaudit too


def test_keyword_free_statements_reach_no_rule_unless_table_evidence_or_escapes_could_matter() -> None:
    # GIVEN a SELECT, the same with DROP table evidence, and dynamic SQL hiding DROP behind an escape
    select = Observation(_event(Action.QUERY, "SELECT 1"))
    evidence = Observation(
        _event(Action.QUERY, "SELECT 1"), table_operations=(TableOperation("DROP", "shop.t"),)
    )
    escaped = Observation(_event(Action.QUERY, "EXECUTE IMMEDIATE 'DR\\OP TABLE t'"))
    # WHEN asking the index
    # THEN the SELECT reaches none; DROP evidence reaches drop-table; the escape reaches drop rules
    assert _ids(select) == set()
    assert "drop-table" in _ids(evidence)
    assert {"drop-table", "drop-database"} <= _ids(escaped)
    assert [s.kind.value for s in escaped.statements] == ["drop_table"]


def test_a_repeated_statement_gets_the_same_rules_and_the_memory_stays_bounded() -> None:
    # GIVEN one index, a DROP statement seen twice, and more distinct texts than it remembers
    from detections.rule_index import REMEMBERED_TEXTS

    index = RuleIndex(builtin_rules())
    first = index.rules_for(Observation(_event(Action.QUERY, "drop table t")))
    # WHEN the same text comes again, as another action, and after a flood of other texts
    again = index.rules_for(Observation(_event(Action.QUERY, "drop table t")))
    as_ddl = index.rules_for(Observation(_event(Action.QUERY_DDL, "drop table t")))
    for n in range(REMEMBERED_TEXTS + 10):
        index.rules_for(Observation(_event(Action.QUERY, f"SELECT {n}")))
    after = index.rules_for(Observation(_event(Action.QUERY, "drop table t")))
    # THEN the answers are the same rules every time, and what is remembered never passes the bound
    assert again == first == after
    assert {r.id for r in as_ddl} == {r.id for r in first}
    assert len(index._remembered) <= REMEMBERED_TEXTS


def test_write_evidence_opens_no_gate_and_drop_evidence_reaches_its_reader() -> None:
    # GIVEN a CREATE USER with the privilege-table WRITE it causes, and a cut statement with DROP evidence
    create = Observation(
        _event(Action.QUERY, "CREATE USER 'app'@'%'"), table_operations=(TableOperation("WRITE", "mysql.db"),)
    )
    cut = Observation(
        _event(Action.QUERY, "/* nightly cleanup, cut"), table_operations=(TableOperation("DROP", "shop.t"),)
    )
    # WHEN asking the index
    # THEN WRITE evidence changes nothing (no rule reads it): only rules whose keywords the text holds
    assert _ids(create) == {"privilege-grant", "user-created"}  # "create": CREATE USER / ROLE kinds
    # AND DROP evidence reaches the rule that reads it, whatever the text holds, and no other
    assert _ids(cut) == {"drop-table"}


def test_a_remembered_text_is_answered_apart_with_and_without_drop_evidence() -> None:
    # GIVEN one index, and a SELECT seen without, with, and again without DROP table evidence
    index = RuleIndex(builtin_rules())
    plain = Observation(_event(Action.QUERY, "SELECT 1"))
    dropped = Observation(_event(Action.QUERY, "SELECT 1"), (TableOperation("DROP", "shop.t"),))
    # WHEN asking for the rules of each, in turn
    answers = [{rule.id for rule in index.rules_for(o)} for o in (plain, dropped, plain, dropped)]
    # THEN the remembered answers never mix: only the evidence reaches the drop rule
    assert answers == [set(), {"drop-table"}, set(), {"drop-table"}]
