"""checkov on the template and on its SAM expansion (aws-sam-translator), and cfn-lint on the expansion.

checkov and aws-sam-translator pin versions of boto3 / pydantic the project's venv must not take, so
scripts/bootstrap installs them in their own venv (.cache/checkov-venv, under CI=true) and these tests
run them as subprocesses. Without that venv they skip, saying so, except under CI=true where they fail.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from cfnlint.api import ManualArgs, lint_file

from infra.template_model import TEMPLATE_PATH, load_template

ROOT = TEMPLATE_PATH.parents[1]
CHECKOV_PYTHON = ROOT / ".cache" / "checkov-venv" / "bin" / "python"
EXPAND_SCRIPT = Path(__file__).with_name("sam_expand.py")


@pytest.fixture(scope="module", name="checkov_python")
def checkov_python_fixture() -> Path:
    """The checkov venv's interpreter; a skip (a failure under CI=true) when it is not installed."""
    if CHECKOV_PYTHON.exists():
        return CHECKOV_PYTHON
    message = f"{CHECKOV_PYTHON} is missing (`CI=true scripts/bootstrap` installs checkov and sam-translator)"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def _checkov(python: Path, path: Path) -> dict[str, Any]:
    """checkov's JSON report for one CloudFormation file (offline: --skip-download)."""
    done = subprocess.run(
        [str(python), "-m", "checkov.main", "--framework", "cloudformation", "--skip-download",
         "--quiet", "--compact", "--output", "json", "--file", str(path)],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    report = json.loads(done.stdout)
    return report[0] if isinstance(report, list) else report  # type: ignore[no-any-return]


def _failures(report: dict[str, Any]) -> list[str]:
    """One line per failed check."""
    return [f"{f['check_id']} {f['resource']}: {f['check_name']}" for f in report["results"]["failed_checks"]]


@pytest.fixture(scope="module", name="expanded")
def expanded_fixture(checkov_python: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The template as the SAM transform expands it, written as JSON."""
    target = tmp_path_factory.mktemp("sam") / "expanded.json"
    subprocess.run(
        [str(checkov_python), str(EXPAND_SCRIPT), str(TEMPLATE_PATH), str(target)],
        check=True, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    return target


def test_checkov_finds_nothing_unexplained_in_the_template(checkov_python: Path) -> None:
    # GIVEN the SAM template WHEN checkov checks it THEN nothing fails and nothing fails to parse
    report = _checkov(checkov_python, TEMPLATE_PATH)
    assert _failures(report) == []
    assert report["summary"]["parsing_errors"] == 0
    assert report["summary"]["passed"] > 0


def test_checkov_finds_nothing_unexplained_in_the_sam_expansion(checkov_python: Path, expanded: Path) -> None:
    # GIVEN the CloudFormation the SAM transform makes WHEN checkov checks it THEN nothing fails there either
    report = _checkov(checkov_python, expanded)
    assert _failures(report) == []
    assert report["summary"]["resource_count"] > len(load_template()["Resources"])


def test_the_expansion_passes_cfn_lint_and_holds_the_wiring(expanded: Path) -> None:
    # GIVEN the expansion WHEN cfn-lint checks it THEN it finds nothing
    matches = lint_file(expanded, config=ManualArgs(regions=["us-east-1", "eu-west-1"]))
    assert [f"{m.rule.id} {m.message}" for m in matches] == []
    resources = json.loads(expanded.read_text(encoding="utf-8"))["Resources"]
    # AND it holds the subscriber function, its CreateLogGroup rule and schedule, and the alarms
    assert resources["SubscriberFunction"]["Type"] == "AWS::Lambda::Function"
    rules = {k: v["Properties"] for k, v in resources.items() if v["Type"] == "AWS::Events::Rule"}
    assert rules["SubscriberFunctionNewLogGroup"]["EventPattern"]["detail"]["eventName"] == ["CreateLogGroup"]
    assert rules["SubscriberFunctionSchedule"]["ScheduleExpression"] == {"Ref": "SubscriberSchedule"}
    assert sum(v["Type"] == "AWS::CloudWatch::Alarm" for v in resources.values()) == 15
    # AND exactly one permission lets CloudWatch Logs invoke a function (the resource policy stays small)
    from_logs = [v for v in resources.values() if v["Type"] == "AWS::Lambda::Permission"
                 and v["Properties"]["Principal"] == "logs.amazonaws.com"]  # fmt: skip
    assert len(from_logs) == 1


def test_every_checkov_skip_says_why() -> None:
    # GIVEN every checkov skip in the template's Metadata THEN each names a check and carries its reason
    skips = [
        (name, skip)
        for name, resource in load_template()["Resources"].items()
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", [])
    ]
    assert skips
    for name, skip in skips:
        assert set(skip) == {"id", "comment"}, name
        assert skip["id"].startswith("CKV_AWS_"), name
        assert len(skip["comment"]) > 30, (name, skip)
