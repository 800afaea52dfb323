"""Every shell command the README shows is exercised somewhere, or allow-listed with the reason it cannot be.

Commands come from the README's ```sh / ```bash / ```console blocks. A command is covered when it is:
- `audit-alerts SUB …` (or `.venv/bin/audit-alerts`): `audit-alerts SUB --help` runs here, and when SUB
  is one of END_TO_END its functional tests run it for real with every option the README shows;
- `./scripts/NAME …`: the script exists, is executable, and the `audit-alerts` command it ends by
  running is covered as above;
- `python -m MODULE …` (or `.venv/bin/python`): MODULE is one of PYTHON_MODULES and its test imports it;
- allow-listed below, each entry with why no test runs it.
A README command that is none of these fails the test: add a test, or an allow-list entry with a reason.
"""

from __future__ import annotations

import io
import os
import re
import shlex
from collections.abc import Iterator
from pathlib import Path

import pytest

from handlers.cli import main

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
_FENCE = re.compile(r"^```(sh|bash|console|shell)\s*$")
_EXEC_AUDIT_ALERTS = re.compile(r'^exec\s+"\$root/\.venv/bin/audit-alerts"\s+(.*)$', re.MULTILINE)

# Subcommands whose functional tests run the real command end to end (files matched by the glob).
END_TO_END = {
    "demo": "tests/functional/test_demo*.py",
    "replay": "tests/functional/test_replay*.py",
}
# Modules the README runs with `python -m`, and the test that runs their main().
PYTHON_MODULES = {"benchmarks.throughput": "tests/unit/test_benchmarks.py"}
# Commands no test runs, by their first words, and why.
ALLOWED = {
    "./scripts/test": "runs this very test suite (and bootstraps the venv); CI runs it through .ci/run",
    "sam": "builds and deploys to a real AWS account; infra/template.yaml is validated by the template tests",
    "aws": "talks to a real AWS account; the demo's --keep prints the same calls against its emulator",
    "mkdir": "plain shell step of the SAM build recipe",
    "python3 -c": "writes .aws-sam/requirements.txt from pyproject.toml for sam build (deploy recipe)",
    "apt-get": "installs system packages (database servers) as root",
}


def readme_commands(text: str) -> list[str]:
    """The commands of the README's shell code blocks: `$ ` prompts dropped, continuations joined."""
    commands: list[str] = []
    in_block = False
    for line in text.splitlines():
        if line.startswith("```"):
            in_block = not in_block and bool(_FENCE.match(line))
            continue
        if not in_block or not line.strip() or line.lstrip().startswith("#"):
            continue
        if commands and (line[:1].isspace() or commands[-1].endswith("\\")):
            commands[-1] = commands[-1].removesuffix("\\").rstrip() + " " + line.strip()
            continue
        commands.append(line.strip().removeprefix("$ "))
    return commands


def _words(command: str) -> list[str]:
    """The command's words as the shell splits them (usage brackets kept as words)."""
    return shlex.split(command, comments=True)


def _allowed_reason(command: str) -> str | None:
    """Why an allow-listed command is not run, or None."""
    for prefix, reason in ALLOWED.items():
        if command == prefix or command.startswith(prefix + " "):
            return reason
    return None


def _audit_alerts_words(command: str) -> list[str] | None:
    """`audit-alerts` and what follows it, if the command runs the CLI (directly or from .venv/bin)."""
    words = _words(command)
    if words and Path(words[0]).name == "audit-alerts":
        return words[1:]
    return None


def _script_target(command: str) -> list[str] | None:
    """For `./scripts/NAME …`: the `audit-alerts` words the script ends by running, plus the README's args."""
    words = _words(command)
    if not words or not words[0].startswith("./scripts/"):
        return None
    script = ROOT / words[0]
    assert script.is_file(), f"README shows {words[0]}, which does not exist"
    assert os.access(script, os.X_OK), f"README shows {words[0]}, which is not executable"
    match = _EXEC_AUDIT_ALERTS.search(script.read_text(encoding="utf-8"))
    assert match, f"{words[0]} does not end by running audit-alerts; allow-list it with a reason"
    target = [word.replace("$root", str(ROOT)) for word in shlex.split(match.group(1)) if word != "$@"]
    return target + words[1:]


def _python_module_covered(command: str) -> bool:
    """For `python -m MODULE …`: MODULE's test exists and imports it (False when not such a command)."""
    words = _words(command)
    if len(words) < 3 or not Path(words[0]).name.startswith("python") or words[1] != "-m":
        return False
    test = PYTHON_MODULES.get(words[2])
    assert test is not None, f"README runs `python -m {words[2]}`, which no entry of PYTHON_MODULES covers"
    assert f"from {words[2]} import" in (ROOT / test).read_text(encoding="utf-8"), (
        f"{test} does not run {words[2]}"
    )
    return True


def _help_runs(words: list[str]) -> None:
    """`audit-alerts <subcommand(s)> --help` exits 0 and prints usage."""
    subcommands = [word for word in words[:2] if re.fullmatch(r"[a-z][a-z-]*", word)]
    if len(subcommands) == 2 and subcommands[1] not in _nested_subcommands(subcommands[0]):
        subcommands = subcommands[:1]
    out = io.StringIO()
    with pytest.raises(SystemExit) as exited:
        main([*subcommands, "--help"], out=out, err=io.StringIO())
    assert exited.value.code == 0, f"audit-alerts {' '.join(subcommands)} --help failed"


def _nested_subcommands(command: str) -> set[str]:
    """The subcommands of a command that has them (rules → test)."""
    out = io.StringIO()
    with pytest.raises(SystemExit):
        main([command, "--help"], out=out, err=io.StringIO())
    return (
        set(re.findall(r"\{([a-z,-]+)\}", out.getvalue())[0].split(",")) if "{" in out.getvalue() else set()
    )


def _end_to_end_covers(words: list[str]) -> None:
    """When the subcommand must run end to end: its tests exist and use every option the README shows."""
    glob = END_TO_END.get(words[0]) if words else None
    if glob is None:
        return
    files = sorted(ROOT.glob(glob))
    assert files, f"no functional test file matches {glob} for `audit-alerts {words[0]}`"
    tests_text = "\n".join(path.read_text(encoding="utf-8") for path in files)
    options = {option for word in words[1:] for option in re.findall(r"--[a-z][a-z-]*", word)}
    missing = sorted(option for option in options if option not in tests_text)
    assert not missing, f"README shows `audit-alerts {words[0]}` with {missing}, which {glob} never uses"


def _commands() -> Iterator[str]:
    """The README's commands (the parametrize source)."""
    yield from readme_commands(README.read_text(encoding="utf-8"))


@pytest.mark.parametrize("command", list(_commands()))
def test_every_readme_command_is_exercised_or_allow_listed(command: str) -> None:
    """GIVEN a command the README shows WHEN classified THEN a test exercises it, or a reason says why not."""
    if _allowed_reason(command) is not None or _python_module_covered(command):
        return
    words = _audit_alerts_words(command) or _script_target(command)
    assert words is not None, f"README command not covered by any test and not allow-listed: {command!r}"
    _help_runs(words)
    _end_to_end_covers(words)


def test_the_readme_shows_the_demo_the_tests_and_the_replay_commands() -> None:
    """GIVEN the README WHEN its commands are read THEN the main job, the tests and replay are among them."""
    commands = list(_commands())
    assert commands[0] == "./scripts/demo"
    assert "./scripts/test" in commands
    assert "./scripts/replay-example" in commands


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("```sh\n./scripts/demo\n```", ["./scripts/demo"]),
        ("```sh\n$ audit-alerts demo --json\n```", ["audit-alerts demo --json"]),
        ("```sh\nsam build \\\n  --use-container\n```", ["sam build --use-container"]),
        (
            "```sh\naudit-alerts replay PATH... [--json]\n        [--verbose]\n```",
            ["audit-alerts replay PATH... [--json] [--verbose]"],
        ),
        ("```yaml\nversion: 1\n```\n```\nnot a command\n```", []),
        ("```sh\n# a comment\n\nmkdir -p x\n```", ["mkdir -p x"]),
    ],
    ids=["plain", "prompt", "backslash", "indented-continuation", "other-blocks", "comment"],
)
def test_commands_are_read_from_shell_blocks_only(text: str, expected: list[str]) -> None:
    """GIVEN Markdown WHEN its commands are read THEN only shell blocks count, continuations joined."""
    assert readme_commands(text) == expected


def test_an_uncovered_command_fails() -> None:
    """GIVEN a command no test runs and no allow-list names WHEN checked THEN the check fails."""
    with pytest.raises(AssertionError, match="not covered"):
        test_every_readme_command_is_exercised_or_allow_listed("curl https://example.com/install.sh")


def test_an_option_no_functional_test_uses_fails() -> None:
    """GIVEN `audit-alerts demo` with an option its tests never pass WHEN checked THEN the check fails."""
    with pytest.raises(AssertionError, match="never uses"):
        _end_to_end_covers(["demo", "--no-such-option"])


def test_a_python_module_no_test_runs_fails() -> None:
    """GIVEN `python -m` of a module no test covers WHEN checked THEN the check fails."""
    with pytest.raises(AssertionError, match="PYTHON_MODULES"):
        test_every_readme_command_is_exercised_or_allow_listed(".venv/bin/python -m benchmarks.cold_start")
