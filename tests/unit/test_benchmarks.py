"""The benchmark runs and prints ratios to its floor (speed is measured there, never asserted here)."""

from __future__ import annotations

import io
import json
import math
import re
from contextlib import redirect_stderr, redirect_stdout

import pytest

from benchmarks.__main__ import KEYS
from benchmarks.__main__ import main as benchmarks_main
from benchmarks.throughput import main


def test_the_throughput_benchmark_prints_a_ratio_per_measurement(capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN a tiny workload
    # WHEN the benchmark runs
    assert main(["--lines", "300", "--repeat", "1"]) == 0
    # THEN every dialect's parse and detect, and the cold start, print a ratio
    out = capsys.readouterr().out
    ratios = re.findall(r"^(\S+)\s+(parse|detect|import)\s.*\s([\d.]+)x (floor|bare interpreter)$", out, re.M)
    assert [(name, what) for name, what, _, _ in ratios] == [
        ("mysql_audit", "parse"),
        ("mysql_audit", "detect"),
        ("postgres", "parse"),
        ("postgres", "detect"),
        ("cold_start", "import"),
    ]
    assert all(float(ratio) > 0 for _, _, ratio, _ in ratios)


def test_benchmark_command_prints_every_key_as_a_finite_number() -> None:
    # GIVEN a tiny workload
    argv = ["--json", "--repeat", "1", "--payloads", "1", "--lines", "50", "--das-records", "3"]
    out, err = io.StringIO(), io.StringIO()
    # WHEN running the command
    with redirect_stdout(out), redirect_stderr(err):
        code = benchmarks_main([*argv, "--storm-events", "5"])
    # THEN it prints exactly one JSON object with exactly the documented keys, all finite numbers
    assert code == 0
    figures = json.loads(out.getvalue())
    assert set(figures) == set(KEYS)
    assert all(isinstance(v, float | int) and math.isfinite(v) for v in figures.values())
    assert figures["distinct_data_keys"] == 3
    assert "storm events used: 5" in err.getvalue()
