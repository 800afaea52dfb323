"""`audit-alerts replay` progress on stderr: forced on, forced off, and automatic by input size."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from handlers import replay
from handlers.cli import main

EVENTS = 10_000
EVERY_5000 = ["progress: 5000 events read", "progress: 10000 events read"]


@pytest.fixture(scope="module", name="large_log")
def large_log_fixture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A MariaDB server_audit log of EVENTS harmless queries, one second apart (well under 20 MB)."""
    start = datetime(2024, 5, 1, 10, 0, 0)
    lines = [
        f"{start + timedelta(seconds=n):%Y%m%d %H:%M:%S},db1,app,10.0.0.9,{100 + n % 50},{n + 1},"
        f"QUERY,shop,'SELECT id FROM orders WHERE id = {n}',0"
        for n in range(EVENTS)
    ]
    path = tmp_path_factory.mktemp("progress") / "server_audit.log"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def progress_lines(text: str) -> list[str]:
    """The progress reports in an output."""
    return [line for line in text.splitlines() if line.startswith("progress:")]


@dataclass(frozen=True, slots=True)
class ProgressCase:
    """How replay is asked to report progress, and which reports it must print on stderr."""

    name: str
    flags: tuple[str, ...]
    min_bytes: int | None  # PROGRESS_MIN_BYTES for the automatic mode (None: the real 20 MB)
    expected: list[str]


CASES = [
    ProgressCase("forced-on", ("--progress",), None, EVERY_5000),
    ProgressCase("forced-off-even-for-a-large-input", ("--no-progress",), 1, []),
    ProgressCase("automatic-small-input", (), None, []),
    ProgressCase("automatic-large-input", (), 1, EVERY_5000),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_progress_is_reported_on_stderr_only_when_asked_or_the_input_is_large(
    monkeypatch: pytest.MonkeyPatch, large_log: Path, case: ProgressCase
) -> None:
    """GIVEN a 10,000-line MariaDB log, no minimum interval between reports, and the progress flags
    (or the automatic size threshold moved below the file's size)
    WHEN replayed
    THEN stderr reports every 5000 events exactly when progress is on, and stdout holds only the
    alert table and the summary."""
    monkeypatch.setattr(replay, "PROGRESS_EVERY_SECONDS", 0)
    if case.min_bytes is not None:
        monkeypatch.setattr(replay, "PROGRESS_MIN_BYTES", case.min_bytes)
    out, err = io.StringIO(), io.StringIO()

    code = main(["replay", *case.flags, str(large_log)], out=out, err=err)

    assert code == 0
    assert progress_lines(err.getvalue()) == case.expected
    assert err.getvalue() == "".join(f"{line}\n" for line in case.expected)
    assert progress_lines(out.getvalue()) == []
    assert f"events read: {EVENTS} (mysql_audit {EVENTS})" in out.getvalue().splitlines()


def test_reports_are_at_most_every_progress_interval(
    monkeypatch: pytest.MonkeyPatch, large_log: Path
) -> None:
    """GIVEN --progress and an interval no replay of this log can reach  WHEN replayed
    THEN no report is printed: 5000 events alone do not trigger one."""
    monkeypatch.setattr(replay, "PROGRESS_EVERY_SECONDS", 3600.0)
    out, err = io.StringIO(), io.StringIO()

    assert main(["replay", "--progress", str(large_log)], out=out, err=err) == 0

    assert err.getvalue() == ""
    assert f"events read: {EVENTS} (mysql_audit {EVENTS})" in out.getvalue().splitlines()
