"""`audit-alerts demo` on the command line: registered, and one clear line when its emulator is missing."""

from __future__ import annotations

import io
import sys

import pytest

from handlers.cli import main


def test_demo_is_a_subcommand_with_its_options(capsys: pytest.CaptureFixture[str]) -> None:
    """GIVEN the CLI WHEN asked for the demo's help THEN it names --json and --keep."""
    with pytest.raises(SystemExit) as exited:
        main(["demo", "--help"], out=io.StringIO(), err=io.StringIO())
    assert exited.value.code == 0
    usage = capsys.readouterr().out
    assert "--json" in usage
    assert "--keep" in usage


def test_a_bad_demo_option_is_one_line() -> None:
    """GIVEN an unknown option WHEN the demo is asked for THEN exit 2 with one line naming it."""
    err = io.StringIO()
    assert main(["demo", "--bogus"], out=io.StringIO(), err=err) == 2
    assert err.getvalue().count("\n") == 1
    assert "--bogus" in err.getvalue()


def test_without_moto_the_demo_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """GIVEN moto's server is not installed WHEN the demo runs THEN one line says what to install."""
    monkeypatch.setitem(sys.modules, "moto.server", None)  # makes `from moto.server import …` fail
    out, err = io.StringIO(), io.StringIO()
    assert main(["demo"], out=out, err=err) == 2
    assert err.getvalue().count("\n") == 1
    assert "aurora-audit-alerts[demo]" in err.getvalue()
    assert out.getvalue() == ""
