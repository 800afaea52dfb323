"""The user rule JSON schema itself: valid, closed to unknown keys, in step with the events."""

from __future__ import annotations

import dataclasses
from typing import Any

from jsonschema import Draft202012Validator

from detections.catalogue import builtin_rules
from detections.user_rule_schema import (
    CASE_FILE_SCHEMA,
    MATCHABLE_FIELDS,
    RULES_FILE_SCHEMA,
    rules_file_schema,
)
from parsers.event import AuditEvent


def test_schemas_are_valid_json_schema() -> None:
    """GIVEN the schema constants THEN they are valid Draft 2020-12 schemas, the specialised one too."""
    Draft202012Validator.check_schema(RULES_FILE_SCHEMA)
    Draft202012Validator.check_schema(CASE_FILE_SCHEMA)
    Draft202012Validator.check_schema(rules_file_schema(builtin_rules()))


def test_every_object_in_the_schema_rejects_unknown_keys() -> None:
    """GIVEN the specialised schema THEN every object node says additionalProperties: false."""
    open_objects: list[str] = []

    def walk(node: Any, where: str) -> None:
        """Collect object nodes that allow unknown keys."""
        if isinstance(node, dict):
            if node.get("type") == "object" and node.get("additionalProperties") is not False:
                open_objects.append(where)
            for key, child in node.items():
                walk(child, f"{where}/{key}")
        elif isinstance(node, list):
            for index, child in enumerate(node):
                walk(child, f"{where}/{index}")

    walk(rules_file_schema(builtin_rules()), "#")
    walk(CASE_FILE_SCHEMA, "#")
    assert open_objects == []


def test_matchable_fields_are_the_event_fields_plus_resource() -> None:
    """GIVEN AuditEvent THEN MATCHABLE_FIELDS is its fields but time, flags and ids, plus resource."""
    event_fields = {f.name for f in dataclasses.fields(AuditEvent)}
    unmatched = {"time", "statement_truncated", "event_id", "location", "raw"}
    assert set(MATCHABLE_FIELDS) == (event_fields - unmatched) | {"resource"}


def test_builtin_tuning_keys_follow_declared_params() -> None:
    """GIVEN the built-ins THEN each tunable section lists the common keys plus exactly the rule's params."""
    section = rules_file_schema(builtin_rules())["properties"]["builtin"]["properties"]
    assert sorted(section["password-spray"]["properties"]) == [
        "allow",
        "channels",
        "distinct_users",
        "enabled",
        "severity",
        "window_minutes",
    ]
    assert sorted(section["drop-table"]["properties"]) == ["allow", "channels", "enabled", "severity"]
