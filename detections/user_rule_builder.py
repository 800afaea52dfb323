"""Turns one validated `rules[i]` entry of a rules file into a detections.rule.Rule."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from string import Formatter
from types import MappingProxyType
from typing import Any

from detections.observation import Observation
from detections.redaction import redact_statement
from detections.rule import Match, ParamValue, Rule, RuleContext, RuleKind
from detections.rule_needs import RuleNeeds
from detections.severity import Severity
from detections.sql import StatementKind
from detections.user_rule_matchers import EventFilter, compile_filter, field_value, matches_any
from detections.user_rule_schema import MATCHABLE_FIELDS
from detections.user_rule_validation import RulesFileError, child_path
from parsers.event import AuditEvent

DEFAULT_DEDUP_FIELDS = ("cluster", "user", "client_host")
TITLE_PLACEHOLDERS = (*MATCHABLE_FIELDS, "time", "count")


@dataclass(frozen=True, slots=True)
class Threshold:
    """Count matching events (or distinct values) per group in a window; count and window are rule params."""

    group_by: tuple[str, ...] = ()
    distinct: str = ""


@dataclass(frozen=True, slots=True)
class TitleTemplate:
    """A title with {field} placeholders; {statement} is redacted; {count} is the window count (else 1)."""

    template: str

    def render(self, event: AuditEvent, count: int) -> str:
        """The title for one matching event."""
        values = {name: field_value(event, name) for name in MATCHABLE_FIELDS}
        values["statement"] = redact_statement(values["statement"]) if values["statement"] else ""
        values["time"] = event.time.isoformat()
        values["count"] = str(count)
        return self.template.format_map(values)


@dataclass(frozen=True, slots=True)
class UserRuleEvaluator:
    """The evaluate function of a user rule: conditions, statement classes, failure, allow-list, threshold."""

    rule_id: str
    match: EventFilter
    statement_classes: frozenset[StatementKind]
    failed: bool | None
    allow: tuple[EventFilter, ...]
    threshold: Threshold | None
    title: TitleTemplate
    dedup_by: tuple[str, ...]

    def __call__(self, observation: Observation, context: RuleContext) -> Match | None:
        """Match when every condition holds, the event is not allow-listed and any threshold is met."""
        event = observation.event
        if not self._selects(observation):
            return None
        count = 1
        extra: tuple[tuple[str, str], ...] = ()
        if self.threshold is not None:
            count = self._count(event, self.threshold, context)
            if count < context.param_int("threshold"):
                return None
            extra = (("count_in_window", str(count)),)
        return Match.of(
            title=self.title.render(event, count),
            dedup_key="|".join(field_value(event, name) for name in self.dedup_by),
            context=extra,
            # Only a title that states the count measures it; otherwise the alert shows ×N itself.
            measured=bool(extra) and "{count}" in self.title.template,
        )

    def _selects(self, observation: Observation) -> bool:
        """Whether the observation passes the conditions (before any threshold)."""
        event = observation.event
        if self.failed is not None and self.failed == event.succeeded:
            return False
        if not self.match.matches(event):
            return False
        if self.statement_classes and not observation.statements_of(*self.statement_classes):
            return False
        return not matches_any(self.allow, event)

    def _count(self, event: AuditEvent, threshold: Threshold, context: RuleContext) -> int:
        """Record the event (or its distinct value) in the rule's window and return the count in it."""
        group = "|".join(field_value(event, name) for name in threshold.group_by)
        key = f"user-rule|{self.rule_id}|{group}"
        window = context.param_window()
        if threshold.distinct:
            return context.state.add_distinct(key, field_value(event, threshold.distinct), event.time, window)
        return context.state.add(key, event_identity(event), event.time, window)


def event_identity(event: AuditEvent) -> str:
    """A stable identity for one event, so a re-delivered event is never counted twice."""
    if event.event_id:
        return event.event_id
    if event.location:
        return event.location
    parts = (event.resource, event.session_id, event.query_id, event.time.isoformat(), event.action.value)
    return "|".join((*parts, event.user, event.client_host, event.statement or ""))


def build_user_rule(spec: Mapping[str, Any], file: str, path: str) -> Rule:
    """A Rule from a schema-valid rule mapping; semantic problems raise RulesFileError at their key path."""
    rule_id = str(spec["id"])
    match = compile_filter(spec.get("match", {}), file, child_path(path, "match"))
    classes = frozenset(StatementKind(k) for k in spec.get("statement_class", ()))
    failed = spec.get("failed")
    if not match.conditions and not classes and failed is None:
        raise RulesFileError(file, path, "a rule needs at least one of match, statement_class, failed")
    allow = tuple(
        compile_filter(entry, file, child_path(child_path(path, "allow"), i))
        for i, entry in enumerate(spec.get("allow", ()))
    )
    params: dict[str, ParamValue] = {}
    threshold = None
    if "threshold" in spec:
        threshold_spec = spec["threshold"]
        threshold = Threshold(tuple(threshold_spec.get("group_by", ())), threshold_spec.get("distinct", ""))
        params = {
            "threshold": int(threshold_spec["count"]),
            "window_minutes": threshold_spec["window_minutes"],
        }
    description = str(spec["description"])
    title = spec.get("title", _default_title(description))
    evaluator = UserRuleEvaluator(
        rule_id=rule_id,
        match=match,
        statement_classes=classes,
        failed=failed,
        allow=allow,
        threshold=threshold,
        title=_title_template(title, file, child_path(path, "title")),
        dedup_by=tuple(spec.get("dedup_by", DEFAULT_DEDUP_FIELDS)),
    )
    return Rule(
        id=rule_id,
        description=description,
        # STATEMENT kind so that include_internal_users decides for every user rule, login rules too.
        kind=RuleKind.STATEMENT,
        severity=Severity(spec["severity"]),
        channels=tuple(spec["channels"]),
        evaluate=evaluator,
        params=MappingProxyType(params),
        include_internal_users=bool(spec.get("include_internal_users", False)),
        # A statement class can only match statements holding its keywords: declare it (pre-filter,
        # rule index). Without one, any record may match: needs stay undeclared (= everything).
        needs=RuleNeeds.statements(*classes) if classes else None,
    )


def _default_title(description: str) -> str:
    """The title of a rule that gives none: its description plus who and where."""
    escaped = description.replace("{", "{{").replace("}", "}}")
    return f"{escaped}: {{user}} from {{client_host}} on {{resource}}"


def _title_template(template: str, file: str, path: str) -> TitleTemplate:
    """A TitleTemplate whose placeholders are all known field names without format specs."""
    try:
        parts: Sequence[tuple[str, str | None, str | None, str | None]] = list(Formatter().parse(template))
    except ValueError as exc:
        raise RulesFileError(file, path, f"invalid title template: {exc}") from exc
    for _, name, spec, conversion in parts:
        if name is None:
            continue
        if name not in TITLE_PLACEHOLDERS:
            raise RulesFileError(
                file, path, f"unknown placeholder {{{name}}} (use an event field name or count)"
            )
        if spec or conversion:
            raise RulesFileError(file, path, f"placeholder {{{name}}} takes no format spec or conversion")
    return TitleTemplate(template)
