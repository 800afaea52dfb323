"""Field conditions of user rules and allow-lists (equals, in, regex, glob, not) and their compilation."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase

from detections.user_rule_validation import RulesFileError, child_path
from parsers.event import Action, AuditEvent, Source

# Fields whose values are enums: `equals` / `in` must name a real value, or the condition never holds.
_ENUM_FIELDS: Mapping[str, tuple[str, ...]] = {
    "action": tuple(a.value for a in Action),
    "source": tuple(s.value for s in Source),
}


def field_value(event: AuditEvent, field: str) -> str:
    """The text of an event field as conditions, titles and keys see it (a missing statement is "")."""
    value = getattr(event, field)
    if value is None:
        return ""
    return value.value if isinstance(value, Action | Source) else str(value)


@dataclass(frozen=True, slots=True)
class Equals:
    """The value is exactly this text."""

    expected: str

    def holds(self, value: str) -> bool:
        """Whether the value equals the expected text."""
        return value == self.expected


@dataclass(frozen=True, slots=True)
class OneOf:
    """The value is one of these texts."""

    expected: frozenset[str]

    def holds(self, value: str) -> bool:
        """Whether the value is in the set."""
        return value in self.expected


@dataclass(frozen=True, slots=True)
class Regex:
    """The regular expression is found somewhere in the value (re.search)."""

    pattern: re.Pattern[str]

    def holds(self, value: str) -> bool:
        """Whether the pattern occurs in the value."""
        return self.pattern.search(value) is not None


@dataclass(frozen=True, slots=True)
class Glob:
    """The whole value matches a shell-style pattern, case-sensitively (fnmatchcase)."""

    pattern: str

    def holds(self, value: str) -> bool:
        """Whether the value matches the glob."""
        return fnmatchcase(value, self.pattern)


@dataclass(frozen=True, slots=True)
class Not:
    """The wrapped condition does not hold."""

    inner: Condition

    def holds(self, value: str) -> bool:
        """Whether the inner condition fails."""
        return not self.inner.holds(value)


Condition = Equals | OneOf | Regex | Glob | Not


@dataclass(frozen=True, slots=True)
class FieldCondition:
    """One condition on one event field."""

    field: str
    condition: Condition

    def matches(self, event: AuditEvent) -> bool:
        """Whether the event's field satisfies the condition."""
        return self.condition.holds(field_value(event, self.field))


@dataclass(frozen=True, slots=True)
class EventFilter:
    """Conditions that must all hold (a rule's `match`, or one allow-list entry)."""

    conditions: tuple[FieldCondition, ...]

    def matches(self, event: AuditEvent) -> bool:
        """Whether every condition holds for the event."""
        return all(c.matches(event) for c in self.conditions)


def matches_any(filters: tuple[EventFilter, ...], event: AuditEvent) -> bool:
    """Whether any filter (allow-list entry) matches the event."""
    return any(f.matches(event) for f in filters)


def compile_filter(spec: Mapping[str, object], file: str, path: str) -> EventFilter:
    """An EventFilter from a schema-valid `{field: condition}` mapping; bad regexes and enum values raise."""
    return EventFilter(
        tuple(
            FieldCondition(field, compile_condition(field, condition, file, child_path(path, field)))
            for field, condition in spec.items()
        )
    )


def compile_condition(field: str, spec: object, file: str, path: str) -> Condition:
    """A Condition from a schema-valid one-operator mapping."""
    if not isinstance(spec, Mapping) or len(spec) != 1:
        raise RulesFileError(file, path, "must be a mapping with exactly one of equals, in, regex, glob, not")
    operator, operand = next(iter(spec.items()))
    where = child_path(path, str(operator))
    if operator == "equals":
        return Equals(_known_value(field, operand, file, where))
    if operator == "in" and isinstance(operand, list):
        values = [_known_value(field, v, file, child_path(where, i)) for i, v in enumerate(operand)]
        return OneOf(frozenset(values))
    if operator == "regex" and isinstance(operand, str):
        try:
            return Regex(re.compile(operand))
        except re.error as exc:
            raise RulesFileError(file, where, f"invalid regular expression: {exc}") from exc
    if operator == "glob" and isinstance(operand, str):
        return Glob(operand)
    if operator == "not":
        return Not(compile_condition(field, operand, file, where))
    raise RulesFileError(file, where, "is not a valid condition")


def _known_value(field: str, value: object, file: str, path: str) -> str:
    """A value to compare with, checked against the field's enum (action, source) when it has one."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise RulesFileError(file, path, "must be a string or an integer")
    text = str(value)
    known = _ENUM_FIELDS.get(field)
    if known is not None and text not in known:
        raise RulesFileError(file, path, f"unknown {field} {text!r} (one of {', '.join(known)})")
    return text
