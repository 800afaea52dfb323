"""The rule index calls only rules that can match; whatever it skips would have returned no match."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

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
    # THEN a login reaches only the login rules, the statement only the rules of its kind (DROP is
    # also a keyword of drop-database and audit-disabled's DROP EXTENSION: the kind gate stops them)
    assert _ids(login) == {"brute-force", "failed-login", "login-after-failures", "password-spray"}
    assert _ids(drop) == {"drop-table"}


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
    assert "drop-table" in _ids(escaped)
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


def test_a_keyword_without_its_kind_reaches_no_rule_of_that_kind() -> None:
    # GIVEN statements holding a rule keyword, classified as other kinds, and ones of the rules' kinds
    create_table = Observation(_event(Action.QUERY, "CREATE TABLE t (id INT)"))
    create_user = Observation(_event(Action.QUERY, "CREATE USER 'u'@'%' IDENTIFIED BY 'x'"))
    insert_set = Observation(_event(Action.QUERY, "UPDATE t SET drop_count = 1"))
    # WHEN asking the index
    # THEN CREATE TABLE reaches no account rule, CREATE USER reaches them, an UPDATE no rule
    assert _ids(create_table) == set()
    assert {"user-created", "privilege-grant"} <= _ids(create_user)
    assert _ids(insert_set) == set()


def test_the_kind_gate_reads_the_statement_in_its_own_dialect() -> None:
    # GIVEN one text that is a lone SELECT for MySQL (backslash escapes the quote) and a SELECT plus a
    # DROP TABLE for PostgreSQL (standard strings: the backslash is a character)
    text = "SELECT 'a\\'; DROP TABLE t; -- '"
    mysql = Observation(_event(Action.QUERY, text))
    postgres = Observation(
        AuditEvent(
            source=Source.POSTGRES,
            time=datetime(2026, 11, 23, 13, 7, tzinfo=UTC),
            action=Action.QUERY,
            user="app",
            statement=text,
        )
    )
    index = RuleIndex(builtin_rules())
    # WHEN one index answers the MySQL one first, then the PostgreSQL one (remembered per text)
    mysql_rules = {rule.id for rule in index.rules_for(mysql)}
    postgres_rules = {rule.id for rule in index.rules_for(postgres)}
    # THEN each is answered by its own dialect's classification
    assert mysql_rules == set()
    assert postgres_rules == {"drop-table"}


def test_every_rule_the_kind_gate_skips_returns_no_match() -> None:
    # GIVEN statements of many kinds, each with and without DROP evidence, from both dialects
    from detections.rule import RuleContext
    from detections.state import InMemoryStateStore, StateView

    texts = [
        "CREATE TABLE t (id INT)",
        "CREATE USER u",
        "CREATE ROLE r SUPERUSER",
        "GRANT ALL ON *.* TO u",
        "ALTER USER u WITH SUPERUSER",
        "ALTER TABLE t ADD c INT",
        "SET GLOBAL server_audit_logging = OFF",
        "UPDATE t SET a = 1",
        "DROP TABLE t",
        "DROP DATABASE d",
        "DROP EXTENSION pgaudit",
        "TRUNCATE t",
        "RENAME TABLE a TO b",
        "RENAME USER a TO b",
        "SET PASSWORD FOR u = 'x'",
        "UNINSTALL PLUGIN x",
        "ALTER SYSTEM SET pgaudit.log = 'none'",
        "drop temporary table t",
        "SELECT 'drop table t'",
    ]
    rules = builtin_rules()
    index = RuleIndex(rules)
    view = StateView(InMemoryStateStore(), horizon=index_horizon(), units=frozenset({"u"}))
    for source in (Source.MYSQL_AUDIT, Source.POSTGRES):
        for text in texts:
            for evidence in ((), (TableOperation("DROP", "shop.t"),)):
                event = AuditEvent(
                    source=source,
                    time=datetime(2026, 11, 23, 13, 7, tzinfo=UTC),
                    action=Action.QUERY,
                    user="app",
                    statement=text,
                )
                called = {rule.id for rule in index.rules_for(Observation(event, table_operations=evidence))}
                # WHEN every rule the index skips is called anyway
                for rule in rules:
                    if rule.id in called:
                        continue
                    context = RuleContext(state=view, params=rule.params)
                    match = rule.evaluate(Observation(event, table_operations=evidence), context)
                    # THEN it matches nothing
                    assert match is None, (source, text, evidence, rule.id)


def index_horizon() -> timedelta:
    """The longest window of the built-in rules."""
    from detections.engine import longest_window

    return longest_window(builtin_rules())
