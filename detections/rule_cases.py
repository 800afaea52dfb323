"""Rule test cases as data (events in, expected findings out) and the runner that checks them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator

from detections.engine import DetectionEngine, EngineSettings
from detections.rule import Rule
from detections.state import InMemoryStateStore
from detections.user_rule_schema import CASE_FILE_SCHEMA, CASE_TEXT_FIELDS
from detections.user_rule_validation import RulesFileError, child_path, validate_document
from parsers.event import Action, AuditEvent, Source

CASE_EPOCH = datetime(2024, 1, 1, tzinfo=UTC)
_CASE_FILE_VALIDATOR = Draft202012Validator(CASE_FILE_SCHEMA)


class CaseEventError(ValueError):
    """A test-case event names an unknown field or holds a value of the wrong kind."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


@dataclass(frozen=True, slots=True)
class RuleCase:
    """Events to run one rule over and what it must produce (xfail_reason marks a known, tracked failure)."""

    rule_id: str
    name: str
    events: tuple[AuditEvent, ...]
    expect: int
    expect_titles: tuple[str, ...] = ()
    expect_dedup_keys: tuple[str, ...] = ()
    xfail_reason: str = ""

    @property
    def is_positive(self) -> bool:
        """Whether the case expects the rule to fire."""
        return self.expect > 0


@dataclass(frozen=True, slots=True)
class CaseResult:
    """What running a case gave: the finding count, whether every expectation held, and why not."""

    case: RuleCase
    findings: int
    passed: bool
    message: str


def event_from_case(fields: Mapping[str, object], position: int = 0) -> AuditEvent:
    """An AuditEvent from case fields; defaults: a mysql_audit QUERY at CASE_EPOCH + position seconds."""
    values: dict[str, Any] = {
        "source": Source.MYSQL_AUDIT,
        "action": Action.QUERY,
        "time": CASE_EPOCH + timedelta(seconds=position),
    }
    for name, value in fields.items():
        values[name] = _event_value(str(name), value)
    return AuditEvent(**values)


def _event_value(name: str, value: object) -> object:
    """One field value converted to what AuditEvent holds."""
    if name == "source":
        return _member(Source, name, value)
    if name == "action":
        return _member(Action, name, value)
    if name == "time":
        return _time(value)
    if name == "statement":
        if value is not None and not isinstance(value, str):
            raise CaseEventError(name, "must be a string or null")
        return value
    if name == "statement_truncated":
        if not isinstance(value, bool):
            raise CaseEventError(name, "must be true or false")
        return value
    if name in CASE_TEXT_FIELDS:
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise CaseEventError(name, "must be a string or an integer")
        return str(value)
    raise CaseEventError(name, f"unknown event field {name!r}")


def _member(enum: type[Source] | type[Action], name: str, value: object) -> object:
    """The enum member named by a case value."""
    known = ", ".join(m.value for m in enum)
    if not isinstance(value, str):
        raise CaseEventError(name, f"must be one of {known}")
    try:
        return enum(value)
    except ValueError as exc:
        raise CaseEventError(name, f"unknown {name} {value!r} (one of {known})") from exc


def _time(value: object) -> datetime:
    """A UTC datetime from ISO 8601 text or a YAML timestamp (naive times are taken as UTC)."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError as exc:
            raise CaseEventError("time", f"not an ISO 8601 time: {value!r}") from exc
    elif isinstance(value, date):
        parsed = datetime(value.year, value.month, value.day)
    else:
        raise CaseEventError("time", "must be an ISO 8601 time")
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def run_case(rule: Rule, case: RuleCase, settings: EngineSettings | None = None) -> CaseResult:
    """Run the rule alone (fresh in-memory state, correlation as in production) and check the expectations.

    `settings` lets a rules file's own internal users apply to its inline tests (default: the engine's).
    """
    engine = DetectionEngine([rule], InMemoryStateStore(), settings)
    findings = list(engine.detect(case.events))
    titles = tuple(f.title for f in findings)
    keys = tuple(f.dedup_key for f in findings)
    problems = []
    errors = engine.counters.rule_errors[rule.id]
    if errors:
        problems.append(f"the rule raised {errors} time(s)")
    if len(findings) != case.expect:
        problems.append(f"expected {case.expect} finding(s), got {len(findings)}: {list(titles)}")
    if case.expect_titles and titles != case.expect_titles:
        problems.append(f"titles {list(titles)} != expected {list(case.expect_titles)}")
    if case.expect_dedup_keys and keys != case.expect_dedup_keys:
        problems.append(f"dedup keys {list(keys)} != expected {list(case.expect_dedup_keys)}")
    return CaseResult(case, len(findings), not problems, "; ".join(problems))


def cases_from_data(
    data: Sequence[Mapping[str, Any]], rule_ids: Sequence[str], file: str, path: str
) -> tuple[RuleCase, ...]:
    """RuleCases from schema-valid case mappings; rule_ids[i] is the rule of data[i]."""
    cases = []
    for index, (item, rule_id) in enumerate(zip(data, rule_ids, strict=True)):
        where = child_path(path, index) if path else f"[{index}]"
        events = []
        for position, fields in enumerate(item["events"]):
            try:
                events.append(event_from_case(fields, position))
            except CaseEventError as exc:
                event_path = f"{where}.events[{position}]"
                raise RulesFileError(file, child_path(event_path, exc.field), exc.problem) from exc
        cases.append(
            RuleCase(
                rule_id=rule_id,
                name=str(item["name"]),
                events=tuple(events),
                expect=int(item["expect"]),
                expect_titles=tuple(item.get("expect_titles", ())),
                expect_dedup_keys=tuple(item.get("expect_dedup_keys", ())),
                xfail_reason=str(item.get("xfail_reason", "")),
            )
        )
    return tuple(cases)


def read_yaml(path: str | Path) -> object:
    """The document of a YAML file (safe_load); unreadable or invalid files raise RulesFileError."""
    file = str(path)
    try:
        return yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise RulesFileError(file, "", f"cannot read: {exc.strerror or exc}") from exc
    except yaml.YAMLError as exc:
        raise RulesFileError(file, "", f"not valid YAML: {' '.join(str(exc).split())}") from exc


def load_case_file(path: str | Path) -> tuple[RuleCase, ...]:
    """The cases of a YAML case file (a list of {rule, name, events, expect, …}), validated."""
    file = str(path)
    document = read_yaml(path)
    validate_document(document, _CASE_FILE_VALIDATOR, file)
    if not isinstance(document, list):  # the schema already refused it; this narrows the type
        raise RulesFileError(file, "", "must be a list")
    return cases_from_data(document, [str(item["rule"]) for item in document], file, "")
