"""The engine: rule isolation, internal users, severity floor, redaction of what leaves it."""

from __future__ import annotations

from datetime import timedelta

import pytest

from detections.catalogue import builtin_rules
from detections.engine import DetectionEngine, EngineSettings
from detections.observation import Observation
from detections.rule import Match, Rule, RuleContext, RuleKind
from detections.severity import Severity
from detections.state import InMemoryStateStore, StateStoreError
from parsers.event import Action
from tests.factories import make_event


def _broken(observation: Observation, context: RuleContext) -> Match | None:
    """A rule that always crashes."""
    raise ZeroDivisionError("bug in a rule")


BROKEN = Rule("broken", "always fails", RuleKind.STATEMENT, Severity.LOW, ("slack",), _broken)


def _engine(*rules: Rule, **settings: object) -> DetectionEngine:
    """An engine over the given rules with in-memory state."""
    return DetectionEngine(rules, InMemoryStateStore(), EngineSettings(**settings))  # type: ignore[arg-type]


def _rule(rule_id: str) -> Rule:
    """A built-in rule by id."""
    return next(r for r in builtin_rules() if r.id == rule_id)


def test_a_crashing_rule_is_counted_and_the_others_still_run() -> None:
    # GIVEN a broken rule before drop-table
    engine = _engine(BROKEN, _rule("drop-table"))
    # WHEN a DROP TABLE is evaluated
    findings = list(engine.detect([make_event(statement="DROP TABLE t", query_id="1")]))
    # THEN drop-table still fires and the crash is counted
    assert [f.rule_id for f in findings] == ["drop-table"]
    assert engine.counters.rule_errors == {"broken": 1}


def test_a_classifier_error_is_counted_per_rule_and_never_fails_the_batch(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN a classifier that fails on a statement (no known text makes it, but a bug could)
    import detections.observation

    def failing(statement: str, dialect: object) -> tuple[()]:
        """A classifier bug."""
        raise RecursionError("classifier bug")

    monkeypatch.setattr(detections.observation, "classify", failing)
    engine = _engine(*builtin_rules())
    # WHEN the statement and a failed login are evaluated
    events = [make_event(statement="DROP TABLE t", query_id="1"), make_event(1, action=Action.FAILED_CONNECT)]
    findings = list(engine.detect(events))
    # THEN the rules reading the statement count an error each (as before the rule index classified),
    # and the failed login still gives its findings
    assert engine.counters.rule_errors["drop-table"] == 1
    assert "failed-login" in {finding.rule_id for finding in findings}


def test_internal_users_are_skipped_by_statement_rules_but_not_login_rules() -> None:
    # GIVEN rdsadmin dropping a table and failing a login
    engine = _engine(_rule("drop-table"), _rule("failed-login"))
    events = [
        make_event(0, user="rdsadmin", statement="DROP TABLE t", query_id="1"),
        make_event(1, user="rdsadmin", action=Action.FAILED_CONNECT, status="1045"),
    ]
    # WHEN detecting
    findings = list(engine.detect(events))
    # THEN only the failed login is reported
    assert [f.rule_id for f in findings] == ["failed-login"]


def test_internal_users_are_configurable() -> None:
    # GIVEN an empty internal-user list
    engine = _engine(_rule("drop-table"), internal_users=frozenset())
    # WHEN rdsadmin drops a table
    findings = list(engine.detect([make_event(user="rdsadmin", statement="DROP TABLE t", query_id="1")]))
    # THEN it is reported
    assert [f.event.user for f in findings] == ["rdsadmin"]


def test_findings_below_the_minimum_severity_are_dropped() -> None:
    # GIVEN min severity high and a medium rule (user-created)
    engine = _engine(_rule("user-created"), min_severity=Severity.HIGH)
    # WHEN a user is created
    findings = list(
        engine.detect([make_event(statement="CREATE USER 'x'@'%' IDENTIFIED BY 'pw-123456'", query_id="1")])
    )
    # THEN nothing is reported, and that is counted
    assert findings == []
    assert engine.counters.below_min_severity == 1


def test_findings_carry_redacted_statements_and_no_raw_text() -> None:
    # GIVEN a CREATE USER with a password whose raw line also holds the password
    secret = "Sup3r-S3cret!"
    event = make_event(
        statement=f"CREATE USER 'x'@'%' IDENTIFIED BY '{secret}'", raw=f"...'{secret}'...", query_id="1"
    )
    # WHEN detecting
    (finding,) = _engine(_rule("user-created")).detect([event])
    # THEN neither the statement nor the raw text keeps the secret
    assert secret not in (finding.event.statement or "")
    assert finding.event.raw == ""
    assert "'***'" in (finding.event.statement or "")


def test_engines_over_one_rule_tuple_share_its_index_and_another_tuple_gets_its_own() -> None:
    # GIVEN the built-in rules, and a new tuple of the same rules
    rules = builtin_rules()
    other = (*rules,)  # a new tuple (tuple(rules) would be the same object)
    # WHEN building engines over them, as a container does per batch
    first, again = DetectionEngine(rules, InMemoryStateStore()), DetectionEngine(rules, InMemoryStateStore())
    fresh = DetectionEngine(other, InMemoryStateStore())
    # THEN the same tuple shares one index (its remembered gate answers kept), the other its own,
    # with the same longest window
    assert first._index is again._index
    assert fresh._index is not first._index
    assert fresh.horizon == first.horizon > timedelta(0)


def test_one_unit_for_the_whole_batch_stores_and_retries_as_a_unit_per_event() -> None:
    # GIVEN failed logins of one payload, evaluated with its unit named once and, in another engine,
    # named per event
    logins = [make_event(n, action=Action.FAILED_CONNECT, user="bob", status="1045") for n in range(6)]
    by_name, by_event = _engine(_rule("brute-force")), _engine(_rule("brute-force"))
    # WHEN detecting, then detecting the same payload again as a retry of that unit
    first = [
        by_name.detect(logins, "payload-1", frozenset({"payload-1"})),
        by_event.detect(logins, lambda _event: "payload-1", frozenset({"payload-1"})),
    ]
    retried = [
        by_name.detect(logins, "payload-1", frozenset({"payload-1"})),
        by_event.detect(logins, lambda _event: "payload-1", frozenset({"payload-1"})),
    ]
    # THEN the same findings, the same stored tallies under that unit, and a retry counts nothing twice
    assert [f.title for f in first[0]] == [f.title for f in first[1]] == [f.title for f in retried[0]]
    assert len(first[0]) == 2  # the fifth and sixth failure reach the threshold of 5
    assert by_name.state.buckets == by_event.state.buckets  # type: ignore[attr-defined]
    assert {
        unit for buckets in by_name.state.buckets.values() for units in buckets.values() for unit in units
    } == {  # type: ignore[attr-defined]
        "payload-1"
    }


def test_the_findings_are_seen_before_the_windows_are_written_even_when_writing_fails() -> None:
    # GIVEN a state store that cannot write, and failed logins reaching the brute-force threshold
    class UnwritableStore(InMemoryStateStore):
        """Reads like the in-memory store; every write fails."""

        def save(self, key: str, contributions: object, keep: timedelta) -> None:
            raise StateStoreError("throttled", retryable=True)

    engine = DetectionEngine([_rule("brute-force")], UnwritableStore())
    logins = [make_event(n, action=Action.FAILED_CONNECT, user="bob", status="1045") for n in range(5)]
    seen: list[str] = []
    # WHEN detecting
    with pytest.raises(StateStoreError):
        engine.detect(logins, before_commit=lambda found: seen.extend(f.rule_id for f in found))
    # THEN the caller saw the finding before the failed write (its counts are not lost)
    assert seen == ["brute-force"]
