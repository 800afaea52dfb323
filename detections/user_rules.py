"""User rule files: YAML that adds rules and tunes built-in ones without code, validated before use."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from jsonschema import Draft202012Validator

from detections.catalogue import builtin_rules
from detections.observation import Observation
from detections.rule import Evaluate, Match, ParamValue, Rule, RuleContext
from detections.rule_cases import RuleCase, cases_from_data, read_yaml
from detections.severity import Severity
from detections.user_rule_builder import build_user_rule
from detections.user_rule_matchers import EventFilter, compile_filter, matches_any
from detections.user_rule_schema import BUILTIN_TUNING_KEYS, rules_file_schema
from detections.user_rule_validation import RulesFileError, child_path, validate_document

__all__ = [
    "AllowListedEvaluate",
    "BuiltinTuning",
    "RuleFile",
    "RulesFileError",
    "load_rules_file",
    "parse_rules_document",
]


@dataclass(frozen=True, slots=True)
class AllowListedEvaluate:
    """A built-in rule's evaluate whose matches are dropped when the event is on the allow-list."""

    inner: Evaluate
    allow: tuple[EventFilter, ...]

    def __call__(self, observation: Observation, context: RuleContext) -> Match | None:
        """Run the rule (state is still recorded) and drop the match of an allow-listed event."""
        match = self.inner(observation, context)
        if match is None or matches_any(self.allow, observation.event):
            return None
        return match


@dataclass(frozen=True, slots=True)
class BuiltinTuning:
    """How a rules file changes one built-in rule: off, severity, channels, params, allow-list."""

    enabled: bool = True
    severity: Severity | None = None
    channels: tuple[str, ...] | None = None
    params: Mapping[str, ParamValue] = field(default_factory=lambda: MappingProxyType({}))
    allow: tuple[EventFilter, ...] = ()

    def tune(self, rule: Rule) -> Rule | None:
        """The tuned rule, or None when it is disabled."""
        if not self.enabled:
            return None
        evaluate = AllowListedEvaluate(rule.evaluate, self.allow) if self.allow else rule.evaluate
        return dataclasses.replace(
            rule,
            severity=self.severity or rule.severity,
            channels=self.channels or rule.channels,
            params=MappingProxyType({**rule.params, **self.params}),
            evaluate=evaluate,
        )


@dataclass(frozen=True, slots=True)
class RuleFile:
    """A validated rules file: user rules, built-in tuning, settings, and the user rules' inline cases."""

    path: str
    rules: tuple[Rule, ...]
    tuning: Mapping[str, BuiltinTuning]
    suppression_minutes: float | None
    internal_users: frozenset[str] | None
    cases: tuple[RuleCase, ...]

    def apply(self, builtins: Sequence[Rule]) -> tuple[Rule, ...]:
        """The built-in rules tuned (disabled ones removed), followed by the user rules."""
        tuned = []
        for rule in builtins:
            tuning = self.tuning.get(rule.id)
            result = tuning.tune(rule) if tuning is not None else rule
            if result is not None:
                tuned.append(result)
        return (*tuned, *self.rules)


def load_rules_file(path: str | Path) -> RuleFile:
    """Read a YAML rules file (safe_load), validate it and build its rules; problems raise RulesFileError."""
    return parse_rules_document(read_yaml(path), str(path))


def parse_rules_document(document: object, path: str) -> RuleFile:
    """Validate an already-loaded rules document against the schema and the built-in catalogue; build it."""
    builtins = builtin_rules()
    validate_document(document, _validator(builtins), path)
    if not isinstance(document, Mapping):  # the schema already refused it; this narrows the type
        raise RulesFileError(path, "", "must be a mapping")
    settings: Mapping[str, Any] = document.get("settings", {})
    tuning = {
        rule_id: _tuning(spec, path, f"builtin.{rule_id}")
        for rule_id, spec in document.get("builtin", {}).items()
    }
    rules, cases = _user_rules(document.get("rules", []), {r.id for r in builtins}, path)
    internal = settings.get("internal_users")
    return RuleFile(
        path=path,
        rules=rules,
        tuning=MappingProxyType(tuning),
        suppression_minutes=float(settings["suppression_minutes"])
        if "suppression_minutes" in settings
        else None,
        internal_users=frozenset(internal) if internal is not None else None,
        cases=cases,
    )


def _validator(builtins: Sequence[Rule]) -> Draft202012Validator:
    """The schema validator for rules files, with the built-in rules' tunable keys filled in."""
    return Draft202012Validator(rules_file_schema(builtins))


def _tuning(spec: Mapping[str, Any], file: str, path: str) -> BuiltinTuning:
    """BuiltinTuning from a schema-valid `builtin.<id>` mapping."""
    params = {name: value for name, value in spec.items() if name not in BUILTIN_TUNING_KEYS}
    allow = tuple(
        compile_filter(entry, file, child_path(child_path(path, "allow"), i))
        for i, entry in enumerate(spec.get("allow", ()))
    )
    return BuiltinTuning(
        enabled=bool(spec.get("enabled", True)),
        severity=Severity(spec["severity"]) if "severity" in spec else None,
        channels=tuple(spec["channels"]) if "channels" in spec else None,
        params=MappingProxyType(params),
        allow=allow,
    )


def _user_rules(
    specs: Sequence[Mapping[str, Any]], builtin_ids: set[str], file: str
) -> tuple[tuple[Rule, ...], tuple[RuleCase, ...]]:
    """The user rules and their inline cases; ids must be unique and not those of built-ins."""
    rules: list[Rule] = []
    cases: list[RuleCase] = []
    for index, spec in enumerate(specs):
        path = f"rules[{index}]"
        rule_id = str(spec["id"])
        if rule_id in builtin_ids:
            raise RulesFileError(
                file, f"{path}.id", f"{rule_id!r} is a built-in rule id (tune it under builtin.{rule_id})"
            )
        if any(r.id == rule_id for r in rules):
            raise RulesFileError(file, f"{path}.id", f"duplicate rule id {rule_id!r}")
        rules.append(build_user_rule(spec, file, path))
        tests = spec.get("tests", [])
        names = [str(t["name"]) for t in tests]
        for position, name in enumerate(names):
            if name in names[:position]:
                raise RulesFileError(file, f"{path}.tests[{position}].name", f"duplicate test name {name!r}")
        cases.extend(cases_from_data(tests, [rule_id] * len(tests), file, f"{path}.tests"))
    return tuple(rules), tuple(cases)
