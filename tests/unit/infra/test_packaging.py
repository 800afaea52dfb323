"""What `sam build` ships: the runtime dependencies of pyproject.toml, never dev tools or local venvs."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib

from infra.template_model import TEMPLATE_PATH, function_properties, load_template, resources_of_type

ROOT = TEMPLATE_PATH.parents[1]
# aws-lambda-builders' PythonPipWorkflow.EXCLUDED_FILES includes these names (among others): sam build
# copies CodeUri ("..", the repository) without them.
SAM_BUILD_SKIPS = {".venv", ".cache", ".git", ".aws-sam", "__pycache__", ".mypy_cache", ".pytest_cache"}


def _readme_manifest_command() -> str:
    """The Python one-liner the README's deploy section writes .aws-sam/requirements.txt with."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    (command,) = re.findall(
        r"^python3 -c '([^']+)' > \.aws-sam/requirements\.txt$", readme, flags=re.MULTILINE
    )
    return command


def test_the_build_manifest_holds_the_runtime_dependencies_only() -> None:
    # GIVEN pyproject's runtime dependencies and its dev extras
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    dev = {re.split(r"[<>=\[ ]", requirement)[0] for requirement in project["optional-dependencies"]["dev"]}
    # WHEN the README's manifest command runs
    done = subprocess.run(
        [sys.executable, "-c", _readme_manifest_command()],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    manifest = done.stdout.split("\n")[:-1]
    # THEN the manifest is exactly the runtime dependencies: no test, lint or template-check tool
    assert manifest == project["dependencies"]
    assert not {re.split(r"[<>=\[ ]", line)[0] for line in manifest} & dev
    assert not any(
        name in line for line in manifest for name in ("checkov", "samtranslator", "aws-sam-translator")
    )


def test_every_function_builds_from_the_repository_with_the_checkov_venv_left_out() -> None:
    # GIVEN each function's CodeUri THEN it is the repository root, whose local venvs sam build skips
    for name in resources_of_type(load_template(), "AWS::Serverless::Function"):
        assert function_properties(load_template(), name)["CodeUri"] == ".."
    checkov_venv = ROOT / ".cache" / "checkov-venv"
    assert checkov_venv.relative_to(ROOT).parts[0] in SAM_BUILD_SKIPS
    assert ".cache/" in (ROOT / ".gitignore").read_text(encoding="utf-8").splitlines()
