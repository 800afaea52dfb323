"""Validation of rule and case files against their JSON Schema, reported as one line per problem."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

# Keyword our schemas add to a node: the message shown when one of its value checks fails.
MESSAGE_KEYWORD = "x-message"
# Keyword our schemas add to an object: how to name a key that is not allowed there.
UNKNOWN_KEY_KEYWORD = "x-unknown-key"

_TYPE_WORDS = {
    "object": "a mapping",
    "array": "a list",
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "null": "null",
}
# Structural problems name a key; they are reported before value problems at the same place.
_STRUCTURAL = ("additionalProperties", "required")


class RulesFileError(ValueError):
    """A rule or case file is invalid; str() is one line naming the file and the offending key path."""

    def __init__(self, file: str, key_path: str, problem: str) -> None:
        text = f"{file}: {key_path}: {problem}" if key_path else f"{file}: {problem}"
        super().__init__(" ".join(text.splitlines()))  # one line, whatever keys or values it quotes
        self.file = file
        self.key_path = key_path
        self.problem = problem


def key_path(parts: Iterable[str | int]) -> str:
    """A key path for messages: mapping keys joined by dots, list positions in brackets (rules[2].match)."""
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text


def child_path(parent: str, part: str | int) -> str:
    """The key path of a child of `parent`."""
    return key_path([parent, part]) if parent else key_path([part])


def validate_document(document: object, validator: Draft202012Validator, file: str) -> None:
    """Raise RulesFileError for the first problem (in document order) the schema finds, if any."""
    errors = list(validator.iter_errors(document))
    if not errors:
        return
    first = min(errors, key=lambda e: (_document_position(document, e.absolute_path), _rank(e)))
    raise RulesFileError(file, key_path(first.absolute_path), describe(first))


def describe(error: ValidationError) -> str:
    """What is wrong, in words a rule author understands (no schema jargon)."""
    schema: Mapping[str, Any] = error.schema if isinstance(error.schema, Mapping) else {}
    instance = error.instance
    expected: Any = error.validator_value
    if error.validator == "additionalProperties" and isinstance(instance, Mapping):
        allowed = set(schema.get("properties", {}))
        extra = next(str(k) for k in instance if k not in allowed)
        return f"{schema.get(UNKNOWN_KEY_KEYWORD, 'unknown key')} {extra!r}"
    if error.validator == "required" and isinstance(instance, Mapping):
        missing = next(k for k in expected if k not in instance)
        return f"missing required key {missing!r}"
    if MESSAGE_KEYWORD in schema:
        return str(schema[MESSAGE_KEYWORD])
    if error.validator == "type":
        names: Sequence[str] = [expected] if isinstance(expected, str) else expected
        return "must be " + " or ".join(_TYPE_WORDS.get(n, n) for n in names)
    if error.validator == "enum":
        return "must be one of " + ", ".join(str(v) for v in expected)
    if error.validator == "const":
        return f"must be {expected!r}"
    if error.validator == "minItems":
        return "must not be empty" if expected == 1 else f"needs at least {expected} items"
    if error.validator == "uniqueItems":
        return "must not repeat an item"
    return error.message.splitlines()[0]


def _rank(error: ValidationError) -> int:
    """Order of reporting among problems at the same place: missing/unknown keys first."""
    name = str(error.validator)
    return _STRUCTURAL.index(name) if name in _STRUCTURAL else len(_STRUCTURAL)


def _document_position(document: object, path: Iterable[str | int]) -> tuple[int, ...]:
    """Where a path lies in the document, as positions of keys and items (earlier sorts first)."""
    position: list[int] = []
    node = document
    for part in path:
        if isinstance(node, Mapping):
            keys = list(node)
            position.append(keys.index(part) if part in keys else len(keys))
            node = node.get(part)
        elif isinstance(node, list) and isinstance(part, int):
            position.append(part)
            node = node[part] if part < len(node) else None
        else:
            break
    return tuple(position)
