"""Read the SAM template as plain data: CloudFormation short tags become their long `Fn::…` forms."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Final

import yaml

__all__ = [
    "TEMPLATE_PATH",
    "CloudFormationLoader",
    "TemplateError",
    "function_properties",
    "iam_statements",
    "load_template",
    "parse_template",
    "resource_properties",
    "resources_of_type",
]

TEMPLATE_PATH: Final = Path(__file__).with_name("template.yaml")
SERVERLESS_FUNCTION: Final = "AWS::Serverless::Function"

# Short tag → long form key; `!Ref`, `!Condition` and `!GetAtt` are handled apart (see _construct).
_FUNCTION_TAGS: Final = (
    "Sub",
    "If",
    "Equals",
    "Not",
    "And",
    "Or",
    "Select",
    "Join",
    "Split",
    "FindInMap",
    "ImportValue",
    "Base64",
    "Cidr",
    "GetAZs",
)


class TemplateError(ValueError):
    """The template is not valid YAML, or lacks what was asked of it."""


class CloudFormationLoader(yaml.SafeLoader):
    """A SafeLoader that knows CloudFormation's short-form intrinsic tags."""


def _node_value(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    """The plain value of a tagged node, whatever its kind."""
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    raise TemplateError(f"unsupported YAML node {type(node).__name__}")  # pragma: no cover - yaml has 3 kinds


def _construct(long_name: str) -> Any:
    """A constructor turning `!Tag value` into `{long_name: value}`."""

    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
        """Build the long form of one tagged node."""
        value = _node_value(loader, node)
        if long_name == "Fn::GetAtt" and isinstance(value, str):
            # `!GetAtt Resource.Attribute`; the attribute itself may hold dots (Endpoint.Address).
            value = value.split(".", 1)
        return {long_name: value}

    return construct


CloudFormationLoader.add_constructor("!Ref", _construct("Ref"))
CloudFormationLoader.add_constructor("!Condition", _construct("Condition"))
CloudFormationLoader.add_constructor("!GetAtt", _construct("Fn::GetAtt"))
for _tag in _FUNCTION_TAGS:
    CloudFormationLoader.add_constructor(f"!{_tag}", _construct(f"Fn::{_tag}"))


def parse_template(text: str) -> dict[str, Any]:
    """The template's YAML text as a dict, intrinsics in their long form."""
    try:
        document = yaml.load(text, Loader=CloudFormationLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise TemplateError(f"the template is not valid YAML: {exc}") from exc
    if not isinstance(document, dict):
        raise TemplateError("the template is not a YAML mapping")
    return document


def load_template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    """Read and parse the template at `path` (the project's SAM template by default)."""
    return parse_template(path.read_text(encoding="utf-8"))


def resources_of_type(template: Mapping[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    """The resources of one type, by logical id, in template order."""
    resources: Mapping[str, Any] = template.get("Resources", {})
    return {name: body for name, body in resources.items() if body.get("Type") == resource_type}


def resource_properties(template: Mapping[str, Any], logical_id: str) -> dict[str, Any]:
    """The Properties of one resource; TemplateError when the resource does not exist."""
    resource = template.get("Resources", {}).get(logical_id)
    if not isinstance(resource, dict):
        raise TemplateError(f"the template has no resource {logical_id!r}")
    properties: dict[str, Any] = resource.get("Properties", {})
    return properties


def _merge_globals(global_value: Any, local_value: Any) -> Any:
    """SAM's Globals rule: maps merge (the resource wins), lists append, other values are replaced."""
    if isinstance(global_value, dict) and isinstance(local_value, dict):
        merged = dict(global_value)
        for key, value in local_value.items():
            merged[key] = _merge_globals(global_value[key], value) if key in global_value else value
        return merged
    if isinstance(global_value, list) and isinstance(local_value, list):
        return global_value + local_value
    return local_value


def function_properties(template: Mapping[str, Any], logical_id: str) -> dict[str, Any]:
    """A serverless function's properties with the template's Globals.Function merged in."""
    resource = template.get("Resources", {}).get(logical_id)
    if not isinstance(resource, dict) or resource.get("Type") != SERVERLESS_FUNCTION:
        raise TemplateError(f"the template has no {SERVERLESS_FUNCTION} {logical_id!r}")
    globals_: dict[str, Any] = template.get("Globals", {}).get("Function", {})
    merged: dict[str, Any] = _merge_globals(globals_, resource.get("Properties", {}))
    return merged


def _conditional_items(value: Any) -> Iterator[Any]:
    """Every alternative a value may take: both branches of `Fn::If`, never `AWS::NoValue`."""
    if isinstance(value, dict) and set(value) == {"Fn::If"}:
        _condition, when_true, when_false = value["Fn::If"]
        yield from _conditional_items(when_true)
        yield from _conditional_items(when_false)
    elif value != {"Ref": "AWS::NoValue"}:
        yield value


def iam_statements(template: Mapping[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(logical id, statement) for every permission statement of every IAM role and inline policy."""
    for logical_id, resource in template.get("Resources", {}).items():
        properties = resource.get("Properties", {})
        if resource.get("Type") == "AWS::IAM::Role":
            documents = [policy["PolicyDocument"] for policy in properties.get("Policies", [])]
        elif resource.get("Type") == "AWS::IAM::Policy":
            documents = [properties["PolicyDocument"]]
        else:
            continue
        for document in documents:
            for entry in document.get("Statement", []):
                for statement in _conditional_items(entry):
                    yield logical_id, statement
