"""The storm benchmark runs on moto and prints its figures (speed is measured there, never asserted)."""

from __future__ import annotations

import re

import pytest

from benchmarks.storm import main


def test_the_storm_benchmark_prints_rate_ratio_scaling_and_calls(capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN a tiny storm
    # WHEN the benchmark runs
    assert main(["--events", "400", "--calls-at", "400", "--repeat", "1"]) == 0
    # THEN it prints the rate with its floor ratio, the scaling and the calls per 1,000 events
    out = capsys.readouterr().out
    rate = re.search(r"^storm_events_per_s\s+([\d,]+) events/s\s+([\d.]+)x floor$", out, re.M)
    scaling = re.search(r"^storm_scaling\s+([\d.]+) \(400 vs 40 events; 1.0 = linear\)$", out, re.M)
    calls = re.search(r"^storm_state_calls_per_1000\s+([\d.]+) at 400 events \(target <= 40\)$", out, re.M)
    assert rate, out
    assert scaling, out
    assert calls, out
    assert float(rate.group(2)) > 0
    assert float(scaling.group(1)) > 0
    # AND the call count (a count, not a time) stays within the target
    assert 0 < float(calls.group(1)) <= 40
