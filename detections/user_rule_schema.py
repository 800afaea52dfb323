"""The JSON Schema of user rule files and rule-case files (unknown keys are rejected everywhere)."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from detections.rule import Rule
from detections.severity import Severity
from detections.sql import StatementKind
from detections.user_rule_validation import MESSAGE_KEYWORD, UNKNOWN_KEY_KEYWORD
from parsers.event import Action, Source

# Event fields a condition, group_by, distinct or dedup_by may name (`resource` is cluster or server host).
MATCHABLE_FIELDS = (
    "source",
    "engine",
    "cluster",
    "server_host",
    "user",
    "client_host",
    "client_port",
    "session_id",
    "query_id",
    "command",
    "database",
    "object",
    "object_type",
    "statement",
    "status",
    "error_message",
    "log_group",
    "log_stream",
    "action",
    "resource",
)
CHANNEL_NAMES = ("email", "slack")
# Upper bound of every window and of suppression: state kept longer than a day is not noise control.
MAX_MINUTES = 1440
CONDITION_OPERATORS = ("equals", "in", "regex", "glob", "not")
# Event fields a test case may set that hold text (YAML integers are accepted and read as text).
CASE_TEXT_FIELDS = (
    "engine",
    "cluster",
    "server_host",
    "user",
    "client_host",
    "client_port",
    "session_id",
    "query_id",
    "command",
    "database",
    "object",
    "object_type",
    "status",
    "error_message",
    "log_group",
    "log_stream",
    "event_id",
    "location",
    "raw",
)

_COUNT = {"type": "integer", "minimum": 1, MESSAGE_KEYWORD: "must be an integer ≥ 1"}
_MINUTES = {
    "type": "number",
    "exclusiveMinimum": 0,
    "maximum": MAX_MINUTES,
    MESSAGE_KEYWORD: f"must be a number of minutes > 0 and ≤ {MAX_MINUTES}",
}
_FIELD = {
    "enum": list(MATCHABLE_FIELDS),
    MESSAGE_KEYWORD: "must be an event field: " + ", ".join(MATCHABLE_FIELDS),
}
_FIELD_LIST = {"type": "array", "items": _FIELD, "minItems": 1, "uniqueItems": True}
_SEVERITY = {"enum": [s.value for s in Severity]}
_CHANNELS = {"type": "array", "items": {"enum": list(CHANNEL_NAMES)}, "minItems": 1, "uniqueItems": True}
_TEXT_VALUE = {"type": ["string", "integer"]}
_STRINGS = {"type": "array", "items": {"type": "string"}}


def _closed(properties: dict[str, Any], *, required: Sequence[str] = (), **extra: Any) -> dict[str, Any]:
    """An object schema that rejects keys it does not name."""
    schema: dict[str, Any] = {"type": "object", "properties": properties, "additionalProperties": False}
    if required:
        schema["required"] = list(required)
    schema.update(extra)
    return schema


_CONDITION = _closed(
    {
        "equals": _TEXT_VALUE,
        "in": {"type": "array", "items": _TEXT_VALUE, "minItems": 1},
        "regex": {"type": "string"},
        "glob": {"type": "string"},
        "not": {"$ref": "#/$defs/condition"},
    },
    minProperties=1,
    maxProperties=1,
    **{MESSAGE_KEYWORD: "must be a mapping with exactly one of " + ", ".join(CONDITION_OPERATORS)},
)
_CONDITIONS = _closed({name: {"$ref": "#/$defs/condition"} for name in MATCHABLE_FIELDS}, minProperties=1)
_CONDITIONS[MESSAGE_KEYWORD] = "must be a mapping of event fields to conditions"

_CASE_EVENT = _closed(
    {
        "source": {"enum": [s.value for s in Source]},
        "action": {"enum": [a.value for a in Action]},
        "time": {},  # ISO 8601 text or a YAML timestamp; checked when the event is built
        "statement": {"type": ["string", "null"]},
        "statement_truncated": {"type": "boolean"},
        **dict.fromkeys(CASE_TEXT_FIELDS, _TEXT_VALUE),
    }
)
_CASE_EXPECTATIONS: dict[str, Any] = {
    "name": {"type": "string", "minLength": 1},
    "events": {"type": "array", "items": {"$ref": "#/$defs/event"}, "minItems": 1},
    "expect": {"type": "integer", "minimum": 0, MESSAGE_KEYWORD: "must be an integer ≥ 0"},
    "expect_titles": _STRINGS,
    "expect_dedup_keys": _STRINGS,
    "xfail_reason": {"type": "string", "minLength": 1},
}
_INLINE_CASE = _closed(_CASE_EXPECTATIONS, required=("name", "events", "expect"))

_USER_RULE = _closed(
    {
        "id": {
            "type": "string",
            "pattern": "^[a-z][a-z0-9]*(-[a-z0-9]+)*$",
            "maxLength": 64,
            MESSAGE_KEYWORD: "must be a lower-case slug like 'payroll-read' (a-z, 0-9, single dashes)",
        },
        "description": {"type": "string", "minLength": 1},
        "title": {"type": "string", "minLength": 1},
        "severity": _SEVERITY,
        "channels": _CHANNELS,
        "include_internal_users": {"type": "boolean"},
        "match": {"$ref": "#/$defs/conditions"},
        "statement_class": {
            "type": "array",
            "items": {"enum": [k.value for k in StatementKind]},
            "minItems": 1,
            "uniqueItems": True,
        },
        "failed": {"type": "boolean"},
        "threshold": _closed(
            {"count": _COUNT, "window_minutes": _MINUTES, "group_by": _FIELD_LIST, "distinct": _FIELD},
            required=("count", "window_minutes"),
        ),
        "allow": {"type": "array", "items": {"$ref": "#/$defs/conditions"}},
        "dedup_by": _FIELD_LIST,
        "tests": {"type": "array", "items": _INLINE_CASE},
    },
    required=("id", "description", "severity", "channels"),
)

# Keys every built-in rule can be tuned with; its declared params are added by `rules_file_schema`.
BUILTIN_TUNING_KEYS: dict[str, Any] = {
    "enabled": {"type": "boolean"},
    "severity": _SEVERITY,
    "channels": _CHANNELS,
    "allow": {"type": "array", "items": {"$ref": "#/$defs/conditions"}},
}

RULES_FILE_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "aurora-audit-alerts rules file",
    **_closed(
        {
            "version": {"const": 1, MESSAGE_KEYWORD: "must be 1 (the only rules-file version)"},
            "settings": _closed(
                {
                    "suppression_minutes": _MINUTES,
                    "internal_users": {"type": "array", "items": {"type": "string", "minLength": 1}},
                }
            ),
            "builtin": _closed({}, **{UNKNOWN_KEY_KEYWORD: "unknown built-in rule"}),
            "rules": {"type": "array", "items": _USER_RULE},
        },
        required=("version",),
    ),
    "$defs": {"condition": _CONDITION, "conditions": _CONDITIONS, "event": _CASE_EVENT},
}

CASE_FILE_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "aurora-audit-alerts rule cases",
    "type": "array",
    "items": _closed(
        {"rule": {"type": "string", "minLength": 1}, **_CASE_EXPECTATIONS},
        required=("rule", "name", "events", "expect"),
    ),
    "$defs": {"event": _CASE_EVENT},
}


def param_schema(name: str, default: object) -> dict[str, Any]:
    """The schema of one tunable parameter, from its name and the type of its default."""
    if name.endswith("_minutes"):
        return dict(_MINUTES)
    if isinstance(default, bool):
        return {"type": "boolean"}
    if isinstance(default, int):
        return dict(_COUNT)
    if isinstance(default, float):
        return {"type": "number", "exclusiveMinimum": 0, MESSAGE_KEYWORD: "must be a number > 0"}
    return {"type": "string"}


def rules_file_schema(builtins: Sequence[Rule]) -> dict[str, Any]:
    """RULES_FILE_SCHEMA with a closed `builtin` section naming each built-in rule and its params."""
    schema = copy.deepcopy(RULES_FILE_SCHEMA)
    section = schema["properties"]["builtin"]["properties"]
    for rule in builtins:
        params = {name: param_schema(name, default) for name, default in rule.params.items()}
        section[rule.id] = _closed({**copy.deepcopy(BUILTIN_TUNING_KEYS), **params})
    return schema
