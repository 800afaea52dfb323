"""The built-in rule catalogue: every rule has a docstring, an id equal to its module name, and cases."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from pathlib import Path

import pytest

from detections import rules as rules_package
from detections.catalogue import builtin_rules, rule_id_for_module
from detections.rule_cases import RuleCase, load_case_file

CASES_DIR = Path(__file__).parent / "cases"
ALL_MODULES = sorted(i.name for i in pkgutil.iter_modules(rules_package.__path__))
RULE_MODULES = sorted(
    i.name for i in pkgutil.iter_modules(rules_package.__path__) if not i.name.startswith("_")
)
CASE_FILES = sorted(CASES_DIR.glob("*.yaml"))
BUILTIN_IDS = [rule.id for rule in builtin_rules()]


def _cases(rule_id: str) -> tuple[RuleCase, ...]:
    """The cases in the case file of one rule."""
    return load_case_file(CASES_DIR / f"{rule_id}.yaml")


def test_the_catalogue_lists_one_rule_per_module() -> None:
    """GIVEN the rule modules WHEN the catalogue loads THEN it has their rules, ids from module names."""
    assert sorted(rule_id_for_module(name) for name in RULE_MODULES) == BUILTIN_IDS
    assert len(BUILTIN_IDS) == 11


@pytest.mark.parametrize("module_name", RULE_MODULES)
def test_rule_module_is_documented_and_named_after_its_rule(module_name: str) -> None:
    """GIVEN a rule module THEN it, evaluate and the rule are documented, and RULE.id is the module name."""
    module = importlib.import_module(f"{rules_package.__name__}.{module_name}")
    rule_id = rule_id_for_module(module_name)
    assert (module.__doc__ or "").startswith(f"{rule_id}: ")
    assert module.RULE.id == rule_id
    assert module.RULE.description.strip() != ""
    assert (module.evaluate.__doc__ or "").strip() != ""


@pytest.mark.parametrize("module_name", ALL_MODULES)
def test_every_function_in_the_rules_package_has_a_docstring(module_name: str) -> None:
    """GIVEN any module of detections.rules THEN each function and class it defines has a docstring."""
    module = importlib.import_module(f"{rules_package.__name__}.{module_name}")
    defined = [
        name
        for name, member in vars(module).items()
        if (inspect.isfunction(member) or inspect.isclass(member)) and member.__module__ == module.__name__
    ]
    undocumented = [name for name in defined if not (getattr(module, name).__doc__ or "").strip()]
    assert undocumented == []


@pytest.mark.parametrize("rule_id", BUILTIN_IDS)
def test_every_builtin_rule_has_positive_and_negative_cases(rule_id: str) -> None:
    """GIVEN a built-in rule WHEN its case file is read THEN it has ≥ 5 positive and ≥ 5 negative cases."""
    cases = _cases(rule_id)
    positives = [c for c in cases if c.is_positive]
    negatives = [c for c in cases if not c.is_positive]
    assert len(positives) >= 5
    assert len(negatives) >= 5


@pytest.mark.parametrize("rule_id", BUILTIN_IDS)
def test_positive_cases_assert_titles_and_dedup_keys(rule_id: str) -> None:
    """GIVEN a positive case THEN it names every expected title and dedup key, one per finding."""
    for case in _cases(rule_id):
        if case.is_positive:
            assert len(case.expect_titles) == case.expect, case.name
            assert len(case.expect_dedup_keys) == case.expect, case.name


@pytest.mark.parametrize("path", CASE_FILES, ids=lambda p: p.name)
def test_every_case_file_names_one_existing_rule(path: Path) -> None:
    """GIVEN a case file THEN it is named after an existing rule, and all its cases are for that rule."""
    cases = load_case_file(path)
    assert path.stem in BUILTIN_IDS
    assert {c.rule_id for c in cases} == {path.stem}
    names = [c.name for c in cases]
    assert len(names) == len(set(names))
