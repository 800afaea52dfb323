"""Finds the built-in rules: every public module of detections.rules that defines RULE."""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache

from detections import rules as rules_package
from detections.rule import Rule


class CatalogueError(RuntimeError):
    """A built-in rule module is inconsistent (a programming error, caught by the catalogue test)."""


def rule_id_for_module(module_name: str) -> str:
    """The rule id of a rule module: its name with dashes (drop_table → drop-table)."""
    return module_name.replace("_", "-")


@cache
def builtin_rules() -> tuple[Rule, ...]:
    """All built-in rules, sorted by id; no hand-kept registry to forget a rule in."""
    found: list[Rule] = []
    for info in pkgutil.iter_modules(rules_package.__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{rules_package.__name__}.{info.name}")
        rule = getattr(module, "RULE", None)
        if not isinstance(rule, Rule):
            raise CatalogueError(f"rule module {info.name} defines no RULE")
        if rule.id != rule_id_for_module(info.name):
            raise CatalogueError(f"rule module {info.name} declares id {rule.id!r}")
        found.append(rule)
    return tuple(sorted(found, key=lambda r: r.id))
