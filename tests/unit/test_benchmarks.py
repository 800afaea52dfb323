"""The benchmark runs and prints ratios to its floor (speed is measured there, never asserted here)."""

from __future__ import annotations

import re

import pytest

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
