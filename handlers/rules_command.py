"""`audit-alerts rules test FILE`: run a rules file's inline cases and report each."""

from __future__ import annotations

from typing import TextIO

from detections.rule_cases import run_case
from detections.user_rules import load_rules_file


def run_rules_test(path: str, out: TextIO) -> int:
    """Run every inline case of the file's rules; exit 0 when all pass, 1 otherwise."""
    rule_file = load_rules_file(path)
    rules = {rule.id: rule for rule in rule_file.rules}
    passed = failed = 0
    for case in rule_file.cases:
        result = run_case(rules[case.rule_id], case)
        mark = "PASS" if result.passed else "FAIL"
        print(
            f"{mark} {case.rule_id}: {case.name}" + ("" if result.passed else f" — {result.message}"),
            file=out,
        )
        passed += result.passed
        failed += not result.passed
    print(f"{passed} passed, {failed} failed", file=out)
    return 0 if failed == 0 else 1
