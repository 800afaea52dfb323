"""`python -m benchmarks`: the throughput benchmark, then the failed-login storm."""

from __future__ import annotations

from benchmarks import storm, throughput

if __name__ == "__main__":
    raise SystemExit(throughput.main([]) or storm.main([]))
