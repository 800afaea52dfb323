"""`./scripts/replay-example` minus its bootstrap: `audit-alerts replay examples/`, the second way in."""

from __future__ import annotations

import io
import re
from pathlib import Path

from handlers.cli import main

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "replay-example"


def test_the_script_replays_the_bundled_examples() -> None:
    """GIVEN the script WHEN read THEN it bootstraps and then replays examples/ (what the test below runs)."""
    text = SCRIPT.read_text(encoding="utf-8")
    assert '"$root/scripts/bootstrap"' in text
    assert re.search(r'exec "\$root/\.venv/bin/audit-alerts" replay "\$root/examples/" "\$@"', text)


def test_replaying_the_bundled_examples_prints_alerts_and_a_summary() -> None:
    """GIVEN the bundled real-server logs WHEN replayed THEN exit 0 with login and statement alerts."""
    out, err = io.StringIO(), io.StringIO()
    code = main(["replay", f"{ROOT}/examples/", "--no-progress"], out=out, err=err)
    assert code == 0, err.getvalue()
    table = out.getvalue()
    for rule in ("failed-login", "brute-force", "login-after-failures", "drop-table"):
        assert rule in table
